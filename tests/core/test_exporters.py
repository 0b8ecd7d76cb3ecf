"""Console, JSON lines and the render tree; configuration and its errors."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from core_helpers import run_python

import whyops
from whyops._config import load_config
from whyops._tracer import TRACER
from whyops.export.console import ConsoleExporter
from whyops.export.jsonl import JsonlExporter
from whyops.render import TreeNode, format_duration, nodes_from_spans, render_tree
from whyops.wire.records import SpanKind, Status, TokenUsage


def _agent_run() -> None:
    @whyops.tool(name="search_orders")
    def search(q: str) -> list[int]:
        return [1]

    @whyops.tool(name="refund")
    def refund(order: int) -> None:
        raise ValueError("unknown order\nsecond line")

    @whyops.agent(name="support")
    def support() -> None:
        search("shoes")
        with whyops.span("chat", kind="llm") as span:
            span.record_usage(prompt_tokens=120, completion_tokens=45, total_tokens=165)
            with whyops.span("inner"):
                pass
        try:
            refund(7)
        except ValueError:
            pass

    support()


EXPECTED_TREE = """\
agent support
├── tool search_orders
├── llm chat · 165 tok
│   └── span inner
└── tool refund ✗ ValueError: unknown order second line"""


def test_render_tree_without_durations_is_stable(memory: Any) -> None:
    _agent_run()
    assert render_tree(nodes_from_spans(memory.spans()), durations=False) == EXPECTED_TREE


def test_render_tree_fits_the_width_with_durations_and_colour() -> None:
    leaf = TreeNode("x" * 200, SpanKind.TOOL, 0, 1_500_000, Status.ERROR, "Boom: " + "y" * 100)
    root = TreeNode(
        "root", SpanKind.AGENT, 0, 2_500_000_000, children=(leaf,), usage=TokenUsage(total_tokens=9)
    )
    lines = render_tree([root], width=80).splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert lines[0].endswith("2.50 s") and lines[1].endswith("1.5 ms") and "…" in lines[1]
    coloured = render_tree([root], color=True)
    assert "\x1b[" in coloured and "\x1b[31m" in coloured
    assert [format_duration(n) for n in (850_000, 12_345_678, 250_000_000, 125_000_000_000)] == [
        "850 µs",
        "12.3 ms",
        "250 ms",
        "2m 05s",
    ]


def test_orphans_become_roots(memory: Any) -> None:
    with whyops.span("a") as a, whyops.span("b"):
        pass
    spans = [s for s in memory.spans() if s.span_id != a.span_id]
    assert [n.name for n in nodes_from_spans(spans)] == ["b"]


def test_console_exporter_prints_each_trace_when_its_root_ends() -> None:
    out = io.StringIO()
    exporter = ConsoleExporter(out, color=False)
    with TRACER.use_exporter(exporter):
        _agent_run()
        assert out.getvalue() == ""
        whyops.flush(5)
    text = out.getvalue()
    assert text.startswith("whyops trace ")
    assert "agent support" in text and "└── tool refund ✗ ValueError" in text


def test_jsonl_exporter_writes_one_event_per_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with TRACER.use_exporter(JsonlExporter(path)):
        _agent_run()
        whyops.flush(5)
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(events) == 10  # five spans, two events each (the error replaces the last)
    assert {e["eventType"] for e in events} >= {"tool_call_request", "user_message", "error"}


def test_jsonl_exporter_drops_only_a_record_json_refuses(tmp_path: Any) -> None:
    from whyops.wire.records import SpanRecord

    path = tmp_path / "events.jsonl"
    bad = SpanRecord(
        trace_id="t" * 32, span_id="b" * 16, parent_span_id=None, name="llm",
        kind=SpanKind.LLM, start_time_ns=1, end_time_ns=2, duration_ns=1,
        usage=TokenUsage(prompt_tokens=10**5000),
    )  # fmt: skip
    with TRACER.use_exporter(JsonlExporter(path)):
        TRACER.submit(bad)
        _agent_run()
        report = whyops.flush(5)
    assert report.dropped == 1 and report.delivered == 5
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(events) == 10 and all(e["spanId"] != "b" * 16 for e in events)


def test_configuration_from_arguments_and_environment() -> None:
    env = {
        "WHYOPS_API_KEY": "k",
        "WHYOPS_BASE_URL": "http://127.0.0.1:8787/",
        "WHYOPS_QUEUE_SIZE": "50",
        "WHYOPS_DISABLED": "no",
        "WHYOPS_AGENT_NAME": "bot",
    }
    config = load_config({"max_batch_size": 7}, env)
    assert (config.api_key, config.analyse_url, config.proxy_url) == (
        "k",
        "http://127.0.0.1:8787/api",
        "http://127.0.0.1:8787",
    )
    assert (config.max_queue_size, config.max_batch_size, config.agent_name) == (50, 7, "bot")
    assert load_config({"api_key": "arg"}, env).api_key == "arg"
    with pytest.raises(ValueError, match="WHYOPS_QUEUE_SIZE must be an integer, got 'lots'"):
        load_config({}, {"WHYOPS_QUEUE_SIZE": "lots"})
    with pytest.raises(ValueError, match="WHYOPS_DISABLED must be one of"):
        load_config({}, {"WHYOPS_DISABLED": "maybe"})
    with pytest.raises(ValueError, match="max_batch_size must be positive"):
        load_config({"max_batch_size": 0}, {})
    with pytest.raises(ValueError, match="unknown option"):
        load_config({"flush_every": 1}, {})


@pytest.mark.parametrize(
    ("options", "env", "message"),
    [
        ({"flush_interval": 0}, {}, "flush_interval must be positive, got 0"),
        ({}, {"WHYOPS_FLUSH_INTERVAL": "0"}, "WHYOPS_FLUSH_INTERVAL must be positive"),
        ({"flush_interval": float("nan")}, {}, "flush_interval must be positive"),
        ({"export_timeout": -1}, {}, "export_timeout must be positive"),
        ({"max_queue_size": 2.5}, {}, "max_queue_size must be an integer, got 2.5"),
        ({"max_retries": -1}, {}, "max_retries must be zero or positive"),
        ({"exit_timeout": -0.5}, {}, "exit_timeout must be zero or positive"),
        ({"base_url": "not a url"}, {}, "base_url: 'not a url' is not an absolute http"),
        ({"analyse_url": "ftp://h/api"}, {}, "analyse_url: 'ftp://h/api' is not an absolute"),
        ({}, {"WHYOPS_PROXY_URL": "127.0.0.1:8787"}, "WHYOPS_PROXY_URL: '127.0.0.1:8787'"),
        ({"base_url": 5}, {}, "base_url must be a string, got int"),
        (
            {"limits": whyops.Limits(max_queue_bytes=0)},
            {},
            "limits.max_queue_bytes must be positive, got 0",
        ),
        (
            {"limits": whyops.Limits(max_queue_bytes=1.5)},  # type: ignore[arg-type]
            {},
            "limits.max_queue_bytes must be an integer, got 1.5",
        ),
    ],
)
def test_configuration_rejects_bad_values_naming_the_option(
    options: dict[str, Any], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        load_config(options, env)


def test_configuration_accepts_zero_where_zero_means_none() -> None:
    config = load_config({"exit_timeout": 0, "max_retries": 0, "flush_interval": 0.01}, {})
    assert (config.exit_timeout, config.max_retries, config.flush_interval) == (0, 0, 0.01)


def test_the_queues_byte_budget_comes_from_the_limits(restore_tracer: Any) -> None:
    from whyops.export.batch import BatchProcessor

    whyops.configure(exporter=ConsoleExporter(), limits=whyops.Limits(max_queue_bytes=12_345))
    (processor,) = TRACER._processors
    assert isinstance(processor, BatchProcessor) and processor.max_queue_bytes == 12_345
    whyops.configure(exporter=ConsoleExporter())
    (processor,) = TRACER._processors
    assert isinstance(processor, BatchProcessor) and processor.max_queue_bytes == 64 * 2**20


def test_exporter_specs(restore_tracer: Any, tmp_path: Path) -> None:
    from whyops.export.resolve import resolve_exporters

    config = load_config({"exporter": f"console, jsonl:{tmp_path}/e.jsonl, memory"}, {})
    kinds = [type(e).__name__ for e in resolve_exporters(config)]
    assert kinds == ["ConsoleExporter", "JsonlExporter", "InMemoryExporter"]
    assert resolve_exporters(load_config({"exporter": "none"}, {})) == []
    assert resolve_exporters(load_config({}, {})) == []
    with pytest.raises(ValueError, match="is not one of http, console"):
        resolve_exporters(load_config({"exporter": "kafka"}, {}))
    with pytest.raises(ValueError, match="needs an api_key"):
        resolve_exporters(load_config({"exporter": "http"}, {}))
    whyops.configure(exporter="memory", disabled=True)
    assert not TRACER.enabled


def test_environment_alone_turns_tracing_on_at_import(tmp_path: Path) -> None:
    path = tmp_path / "env.jsonl"
    code = "import whyops\nwhyops.tool(lambda: 1)()\n"
    result = run_python(code, env={"WHYOPS_EXPORTER": f"jsonl:{path}"})
    assert result.returncode == 0, result.stderr
    (event, _) = [json.loads(line) for line in path.read_text().splitlines()]
    assert event["eventType"] == "tool_call_request"
    disabled = tmp_path / "off.jsonl"
    result = run_python(code, env={"WHYOPS_EXPORTER": f"jsonl:{disabled}", "WHYOPS_DISABLED": "1"})
    assert result.returncode == 0 and not disabled.exists()
    result = run_python(code, env={"WHYOPS_EXPORTER": "kafka"})
    assert result.returncode == 0 and "tracing stays off" in result.stderr
