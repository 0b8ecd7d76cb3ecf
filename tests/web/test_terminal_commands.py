"""`whyops traces` and `whyops show` against a real server, and the spans JSON -> TreeNode step."""

from __future__ import annotations

import re
from typing import Any

from webdata import post_trace, support_trace, unique

from whyops.cli import main
from whyops.terminal import nodes_from_json, parse_timestamp_ns

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run_cli(capsys: Any, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_timestamps_keep_microseconds() -> None:
    assert parse_timestamp_ns("2026-11-27T07:03:48.123456Z") == 1795763028123456000
    assert parse_timestamp_ns("2026-11-27T08:03:48.5+01:00") == 1795763028500000000
    assert parse_timestamp_ns("2026-11-27T07:03:48Z") == 1795763028000000000
    assert parse_timestamp_ns(1795763028123.0) == 1795763028123000000
    assert parse_timestamp_ns("yesterday") is None
    assert parse_timestamp_ns(None) is None


def span(span_id: str, parent: str | None, start: str, **fields: Any) -> dict[str, Any]:
    base = {"id": span_id, "parentSpanId": parent, "kind": "tool", "name": span_id}
    return {**base, "start": f"2026-11-27T07:00:{start}Z", "durationMs": 5.0, **fields}


def test_spans_json_becomes_a_tree_ordered_by_start() -> None:
    spans = [
        span("late", "root", "03.000"),
        span("root", None, "00.000", kind="agent"),
        span(
            "early",
            "root",
            "01.000",
            status="error",
            error={"type": "KeyError", "message": "KeyError: 'sku'"},
        ),
        span("orphan", "missing-parent", "02.000", kind="mystery", status="unfinished"),
        span(
            "call",
            "early",
            "01.500",
            kind="llm",
            model="gpt-4o-mini",
            usage={
                "promptTokens": 10,
                "completionTokens": 4,
                "totalTokens": 14,
                "cacheReadTokens": 8,
            },
        ),
    ]
    roots = nodes_from_json(spans)
    assert [r.name for r in roots] == ["root", "orphan"]
    root, orphan = roots
    assert [c.name for c in root.children] == ["early", "late"]
    early = root.children[0]
    assert early.status.value == "error"
    assert early.error == "KeyError: 'sku'"
    call = early.children[0]
    assert call.kind.value == "llm"
    assert call.usage.prompt_tokens == 10
    assert call.usage.cache_read_tokens == 8
    assert call.attributes["model"] == "gpt-4o-mini"
    assert call.duration_ns == 5_000_000
    assert orphan.kind.value == "span"
    assert orphan.attributes["status"] == "unfinished"


def test_a_parent_cycle_does_not_loop_forever() -> None:
    spans = [span("a", "b", "00.000"), span("b", "a", "01.000"), span("c", None, "02.000")]
    assert [r.name for r in nodes_from_json(spans)] == ["c"]


def test_show_prints_the_tree_in_80_columns(server: Any, capsys: Any) -> None:
    trace = post_trace(server.base_url, server.api_key, support_trace(unique("shown")))
    code, out, err = run_cli(
        capsys,
        "show",
        trace.trace_id,
        "--base-url",
        server.base_url,
        "--api-key",
        server.api_key,
        "--width",
        "80",
    )
    assert code == 0, err
    assert not ANSI.search(out)
    assert all(len(line) <= 80 for line in out.splitlines()), out
    for text in (
        "support-agent",
        "track_shipment",
        "CarrierTimeout",
        "review",
        "messages claude-sonnet-4-5",
        "960 in / 152 out",
        "cache 256 read",
    ):
        assert text in out, text
    assert out.index("chat.completions") < out.index("track_shipment") < out.index("review")


def test_show_colours_on_request(server: Any, capsys: Any) -> None:
    trace = post_trace(server.base_url, server.api_key, support_trace(unique("colour")))
    code, out, _ = run_cli(
        capsys,
        "show",
        trace.trace_id,
        "--base-url",
        server.base_url,
        "--api-key",
        server.api_key,
        "--color",
        "always",
    )
    assert code == 0
    assert ANSI.search(out)


def test_traces_lists_recent_traces_from_the_environment(
    server: Any, capsys: Any, monkeypatch: Any
) -> None:
    agent = unique("listed")
    first = post_trace(server.base_url, server.api_key, support_trace(agent, fail=False))
    second = post_trace(server.base_url, server.api_key, support_trace(agent))
    monkeypatch.setenv("WHYOPS_BASE_URL", server.base_url)
    monkeypatch.setenv("WHYOPS_API_KEY", server.api_key)
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run_cli(capsys, "traces", "--agent", agent, "--limit", "5")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["STARTED", "TRACE", "AGENT"]
    assert all(len(line) <= 80 for line in lines), out
    assert [line.split()[1] for line in lines[1:]] == [second.trace_id, first.trace_id]

    code, out, _ = run_cli(capsys, "traces", "--agent", agent, "--errors")
    assert [line.split()[1] for line in out.splitlines()[1:]] == [second.trace_id]


def test_clear_errors_instead_of_tracebacks(server: Any, capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("WHYOPS_API_KEY", raising=False)
    code, _, err = run_cli(capsys, "traces", "--base-url", server.base_url)
    assert (code, err.strip()) == (1, "whyops: no API key: pass --api-key or set WHYOPS_API_KEY")

    code, _, err = run_cli(capsys, "traces", "--base-url", server.base_url, "--api-key", "nope")
    assert code == 1
    assert "rejected the API key" in err

    args = ("--base-url", server.base_url, "--api-key", server.api_key)
    code, _, err = run_cli(capsys, "show", unique("no-such-trace"), *args)
    assert code == 1
    assert "not found" in err

    code, _, err = run_cli(capsys, "traces", "--base-url", "http://127.0.0.1:9", "--api-key", "k")
    assert code == 1
    assert "cannot reach http://127.0.0.1:9" in err

    code, _, err = run_cli(capsys, "traces", *args, "--limit", "0")
    assert (code, err.strip()) == (1, "whyops: --limit must be between 1 and 100")


def test_control_characters_from_the_server_never_reach_the_terminal(
    server: Any, capsys: Any
) -> None:
    """Names are stored as sent, escapes included; the commands show them, inert."""
    agent = "\x1b[2J\x07" + unique("esc")
    trace = post_trace(server.base_url, server.api_key, support_trace(agent))
    args = ("--base-url", server.base_url, "--api-key", server.api_key)
    for argv in (("show", trace.trace_id, *args), ("traces", *args, "--limit", "100")):
        code, out, err = run_cli(capsys, *argv)
        assert code == 0, err
        assert "\x1b[2J" not in out and "\x07" not in out
        assert "\\x1b[2J" in out, out
