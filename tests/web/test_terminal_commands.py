"""`whyops traces` and `whyops show` against a real server, and the spans JSON -> TreeNode step."""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from webdata import post_trace, support_trace, unique

from whyops.cli import main
from whyops.cli.readapi_client import printable
from whyops.cli.spans_tree import nodes_from_json, parse_timestamp_ns
from whyops.cli.tables import format_traces_table, one_line
from whyops.render import TreeNode, render_tree

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
    missing = unique("no-such-trace")
    code, _, err = run_cli(capsys, "show", missing, *args)
    assert (code, err) == (1, f"whyops: no trace {missing}\n")

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


# --- trace ids are never cut; show takes any unique start; --json ---------------------------


def _with_id(agent: str, trace_id: str, **fields: Any) -> Any:
    return dataclasses.replace(support_trace(agent, **fields), trace_id=trace_id)


def _ids_column(out: str) -> list[str]:
    return [line.split()[1] for line in out.splitlines()[1:]]


@pytest.mark.parametrize("columns", ["40", "80", "200"])
def test_traces_never_cut_ids_at_any_width(
    server: Any, capsys: Any, monkeypatch: Any, columns: str
) -> None:
    agent = unique("a-long-agent-name-that-gives-way")
    sdk_id = uuid.uuid4().hex  # 32 characters, as the SDK makes them
    long_id = sdk_id + uuid.uuid4().hex  # wider than 40 columns
    ids = (sdk_id, long_id) if columns == "40" else (sdk_id,)
    posted = [post_trace(server.base_url, server.api_key, _with_id(agent, i)) for i in ids]
    posted.append(post_trace(server.base_url, server.api_key, support_trace(agent)))
    monkeypatch.setenv("COLUMNS", columns)  # what a pipe or a narrow terminal reports
    args = ("--base-url", server.base_url, "--api-key", server.api_key)
    code, out, err = run_cli(capsys, "traces", *args, "--agent", agent)
    assert code == 0, err
    assert sorted(_ids_column(out)) == sorted(t.trace_id for t in posted)
    assert "…" not in " ".join(_ids_column(out))
    if columns == "80":
        assert all(len(line) <= 80 for line in out.splitlines()), out


@settings(max_examples=200, deadline=None)
@given(
    ids=st.lists(st.text(st.characters(codec="utf-8"), min_size=1, max_size=70), min_size=1),
    agent=st.text(max_size=40),
    width=st.integers(20, 240),
)
def test_the_table_keeps_every_id_whole(ids: list[str], agent: str, width: int) -> None:
    ids = [one_line(printable(i)) for i in ids]  # as printed: control characters escaped
    threads = [{"traceId": i, "agentName": agent, "eventCount": 3, "errorCount": 0} for i in ids]
    lines = format_traces_table(printable(threads), width=width, color=False).split("\n")
    column = lines[0].index("TRACE")
    for line, trace_id in zip(lines[1:], ids, strict=True):  # same timestamps: kept in order
        assert line[column : column + len(trace_id)] == trace_id


def test_show_takes_any_unique_start_of_an_id(server: Any, capsys: Any) -> None:
    stem = uuid.uuid4().hex[:12]
    first = post_trace(server.base_url, server.api_key, _with_id(unique("p"), stem + "aa11"))
    second = post_trace(server.base_url, server.api_key, _with_id(unique("p"), stem + "ab22"))
    args = ("--base-url", server.base_url, "--api-key", server.api_key, "--width", "80")

    code, out, err = run_cli(capsys, "show", stem + "aa", *args)
    assert code == 0, err
    assert out.startswith(f"trace {first.trace_id}  agent {first.agent_name}"), out

    code, out, err = run_cli(capsys, "show", stem, *args)
    assert code == 1
    assert err.startswith(f"whyops: {stem} is the start of several traces: "), err
    assert first.trace_id in err and second.trace_id in err
    assert out == ""


def test_an_exact_id_wins_over_longer_ids_it_starts(server: Any, capsys: Any) -> None:
    short = f"exact-{uuid.uuid4().hex[:8]}"
    post_trace(server.base_url, server.api_key, _with_id("longer", short + "-and-more"))
    post_trace(server.base_url, server.api_key, _with_id("shorter", short))
    args = ("--base-url", server.base_url, "--api-key", server.api_key)
    code, out, err = run_cli(capsys, "show", short, *args)
    assert code == 0, err
    assert out.startswith(f"trace {short}  agent shorter"), out


def test_prefixes_are_text_not_patterns(server: Any, capsys: Any) -> None:
    """% and _ in a prefix match themselves only (the server searches a range, not LIKE)."""
    stem = uuid.uuid4().hex[:8]
    pattern = post_trace(server.base_url, server.api_key, _with_id("pat", f"{stem}%_1"))
    post_trace(server.base_url, server.api_key, _with_id("other", f"{stem}ab2"))
    args = ("--base-url", server.base_url, "--api-key", server.api_key)
    code, out, err = run_cli(capsys, "show", f"{stem}%", *args)
    assert code == 0, err
    assert out.startswith(f"trace {pattern.trace_id}  agent pat"), out
    code, out, err = run_cli(capsys, "show", f"{stem}_", *args)
    assert (code, err) == (1, f"whyops: no trace {stem}_\n")


def test_json_output_for_scripts(server: Any, capsys: Any) -> None:
    agent = "\x1b[31m" + unique("json")  # raw in JSON: json escapes it, no terminal sees it
    trace = post_trace(server.base_url, server.api_key, support_trace(agent))
    args = ("--base-url", server.base_url, "--api-key", server.api_key)
    code, out, err = run_cli(capsys, "traces", *args, "--agent", agent, "--json")
    assert code == 0, err
    assert "\x1b" not in out
    listed = json.loads(out)
    assert [(t["traceId"], t["agentName"]) for t in listed] == [(trace.trace_id, agent)]

    code, out, err = run_cli(capsys, "show", trace.trace_id[:-4], *args, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["traceId"] == trace.trace_id
    assert shown["summary"]["agentName"] == agent
    names = {span["name"] for span in shown["spans"]}
    assert {"track_shipment", "review"} <= names


# --- thinking in the tree -------------------------------------------------------------------


def test_thinking_shows_folded_to_one_line(server: Any, capsys: Any) -> None:
    trace = post_trace(server.base_url, server.api_key, support_trace(unique("thinks")))
    args = ("--base-url", server.base_url, "--api-key", server.api_key, "--width", "80")
    code, out, err = run_cli(capsys, "show", trace.trace_id, *args)
    assert code == 0, err
    lines = out.splitlines()
    review = next(i for i, line in enumerate(lines) if "llm messages claude" in line)
    assert lines[review + 1].split() == [
        "thinking:",
        *"The customer asked about A1001; the tool says shipped.".split(),
    ]


def test_thinking_lines_fit_and_follow_the_tree() -> None:
    leaf = TreeNode("call", _kind("llm"), 0, 1_000, thinking="a\nb " + "x" * 200)
    parent = TreeNode("plan", _kind("llm"), 0, 2_000, thinking="first", children=(leaf,))
    text = render_tree([TreeNode("root", _kind("agent"), 0, 3_000, children=(parent,))], width=60)
    assert text.splitlines()[1:] == [
        "└── llm plan" + " " * 44 + "2 µs",
        "    │ thinking: first",
        "    └── llm call" + " " * 40 + "1 µs",
        "          thinking: a b " + "x" * 35 + "…",
    ]
    assert all(len(line) <= 60 for line in text.splitlines())


def test_redacted_thinking_says_so() -> None:
    spans = [
        {
            "id": "s",
            "kind": "llm",
            "name": "m",
            "start": "2026-11-27T07:00:00Z",
            "durationMs": 1,
            "thinking": [{"text": None, "redacted": True}, {"text": "visible", "redacted": False}],
        }
    ]
    (node,) = nodes_from_json(spans)
    assert node.thinking == "(redacted) ¶ visible"


def _kind(value: str) -> Any:
    from whyops.wire.records import SpanKind

    return SpanKind(value)
