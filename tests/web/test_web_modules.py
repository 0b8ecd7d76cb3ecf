"""The page's pure modules (tree building, time parsing, diffs), run in the real browser."""

from __future__ import annotations

import json
from typing import Any

import pytest
from webdata import open_page

pytestmark = pytest.mark.browser


def run_module(page: Any, server: Any, module: str, body: str) -> Any:
    """Import one of the page's modules in the page and run `body` with it bound to `m`."""
    open_page(page, server, "/agents")
    page.wait_for_selector("h1")
    return page.evaluate(f"async () => {{ const m = await import('/{module}'); {body} }}")


def test_every_span_gets_a_place_in_the_tree(server: Any, page: Any) -> None:
    spans = [
        {"id": "a", "parentSpanId": "b", "start": "2026-11-27T07:00:00.000002Z"},
        {"id": "b", "parentSpanId": "a", "start": "2026-11-27T07:00:00.000001Z"},
        {"id": "c", "parentSpanId": "missing", "start": "2026-11-27T07:00:01Z"},
        {"id": "d", "parentSpanId": "c", "start": "2026-11-27T07:00:02Z"},
        {"id": "self", "parentSpanId": "self", "start": "2026-11-27T07:00:03Z"},
    ]
    rows = run_module(
        page,
        server,
        "tree.js",
        f"const tree = m.buildTree({json.dumps(spans)});"
        " return m.visibleRows(tree.roots, new Set()).map((r) => [r.span.id, r.depth]);",
    )
    ids = sorted(row[0] for row in rows)
    assert ids == ["a", "b", "c", "d", "self"]
    assert ["d", 1] in rows
    assert ["self", 0] in rows


def test_timestamps_keep_their_microseconds(server: Any, page: Any) -> None:
    values = run_module(
        page,
        server,
        "tree.js",
        "return [m.toMs('2026-11-27T07:00:00.000250Z') - m.toMs('2026-11-27T07:00:00Z'),"
        " m.toMs('2026-11-27T08:00:00.5+01:00') - m.toMs('2026-11-27T07:00:00Z'),"
        " m.toMs(1795763028123456789) - 1795763028123.456789];",
    )
    assert values[0] == pytest.approx(0.25)
    assert values[1] == pytest.approx(500)
    assert abs(values[2]) < 0.001


def test_prompt_and_tool_diffs(server: Any, page: Any) -> None:
    result = run_module(
        page,
        server,
        "diff.js",
        "return [m.diffLines('a\\nb\\nc', 'a\\nB\\nc\\nd'),"
        " m.diffTools([{name: 'x', description: 'old'}, {name: 'gone'}],"
        "             [{name: 'x', description: 'new'}, {name: 'added'}])];",
    )
    lines, tools = result
    assert lines == [[" ", "a"], ["-", "b"], ["+", "B"], [" ", "c"], ["+", "d"]]
    assert tools == {"added": ["added"], "removed": ["gone"], "changed": [["x", ["description"]]]}


def test_span_detail_says_when_a_call_came_in_unnamed(server: Any, page: Any) -> None:
    def agent_row(source: str | None) -> str:
        span = {
            "id": "s1",
            "name": "openai.chat.completions",
            "kind": "llm",
            "status": "ok",
            "startMs": 0,
            "durationMs": 5,
            "raw": {"agentName": "default", "agentNameSource": source, "eventIds": []},
        }
        return run_module(
            page,
            server,
            "spandetail.js",
            "const panel = document.createElement('div');"
            f" m.renderSpanDetail(panel, {json.dumps(span)}, {{start: 0}});"
            " const dt = [...panel.querySelectorAll('dt')].find((d) => d.textContent === 'Agent');"
            " return dt.nextElementSibling.textContent;",
        )

    assert "default (unnamed call: no X-Agent-Name)" == agent_row("default")
    assert "default" == agent_row(None)
