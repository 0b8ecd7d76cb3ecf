"""One nesting limit, enforced at ingest; every read route renders whatever is stored."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from tests.server.conftest import Api, event, event_count, new_trace
from whyops.server.nesting import MAX_NESTING, load_stored, text_depth, too_deep


def nested(depth: int, leaf: Any = 1) -> Any:
    """``depth`` levels of objects and arrays, an object outermost."""
    value = leaf
    for level in range(depth):
        value = {"k": value} if (depth - level) % 2 else [value]
    return value


def _tool_answer(trace: str, arguments: str) -> dict[str, Any]:
    call = {"id": "call_1", "type": "function",
            "function": {"name": "lookup", "arguments": arguments}}  # fmt: skip
    return event("llm_response", trace, content={"toolCalls": [call]}, stepId=1)


def read_routes(trace: str, event_id: str) -> list[tuple[str, dict[str, str]]]:
    """Every read route that shows a trace's events, with everything they can include."""
    both = {"include": "content,metadata"}
    return [
        (f"/api/threads/{trace}", {"eventInclude": "content,metadata"}),
        (f"/api/threads/{trace}/graph", {}),
        (f"/api/traces/{trace}/spans", {}),
        ("/api/events", {"traceId": trace, **both}),
        (f"/api/events/{event_id}", both),
        ("/api/threads", {"count": "100"}),
        ("/api/entities", {"include": "metadata"}),
    ]


def assert_every_read_route_renders(api: Api, trace: str) -> list[dict[str, Any]]:
    listed = api.get("/api/events", params={"traceId": trace}).json()["events"]
    bodies = []
    for path, params in read_routes(trace, listed[0]["id"]):
        response = api.get(path, params=params)
        assert response.status_code == 200, (path, response.text[:300])
        bodies.append(response.json())
    return bodies


def test_depth_is_counted_on_text_outside_strings() -> None:
    assert text_depth(json.dumps(nested(MAX_NESTING))) == MAX_NESTING
    assert text_depth('{"a":"[[[[[[","b":[{}]}') == 3
    assert text_depth('"\\"[["') == 0
    assert not too_deep(json.dumps(nested(MAX_NESTING)))
    assert too_deep(json.dumps(nested(MAX_NESTING + 1)))
    assert too_deep("[" * 10_000)
    assert load_stored("[" * 10_000) == "[" * 10_000  # rendered as the text it is
    assert load_stored('{"a":[1]}') == {"a": [1]}


@pytest.mark.parametrize("field", ["content", "metadata"])
def test_values_past_the_limit_are_400_naming_the_field(api: Api, field: str) -> None:
    trace = new_trace()
    ok = event("tool_result", trace, **{field: nested(MAX_NESTING)})
    deep = event("tool_result", trace, **{field: nested(MAX_NESTING + 1)})
    response = api.ingest([ok, deep])
    assert response.status_code == 400, response.text
    detail = response.json()["details"][0]
    assert detail["field"] == f"1.{field}"
    assert f"deeper than {MAX_NESTING} levels" in detail["message"]
    assert event_count(api.running.db_path, trace) == 0
    assert api.ingest([ok]).status_code == 202  # at the limit: stored, and rendered
    assert_every_read_route_renders(api, trace)


@pytest.mark.parametrize(
    "arguments",
    ["[" * 10_000, json.dumps(nested(MAX_NESTING + 1)), "{" * 150 + "}" * 150],
    ids=["10k-brackets", "valid-json", "braces"],
)
def test_tool_call_arguments_past_the_limit_are_400(api: Api, arguments: str) -> None:
    trace = new_trace()
    response = api.ingest([_tool_answer(trace, arguments)])
    assert response.status_code == 400, response.text
    detail = response.json()["details"][0]
    assert detail["field"] == "0.content.toolCalls.0.function.arguments"
    assert event_count(api.running.db_path, trace) == 0


def test_agent_init_schema_past_the_limit_is_400(api: Api) -> None:
    name = new_trace()
    tool = {"name": "lookup", "inputSchema": nested(MAX_NESTING + 1)}
    body = {"agentName": name, "metadata": {"systemPrompt": "p", "tools": [tool]}}
    response = api.post("/api/entities/init", body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["issues"][0]["path"] == ["metadata", "tools", 0, "inputSchema"]
    tool["inputSchema"] = nested(MAX_NESTING)
    assert api.post("/api/entities/init", body).status_code == 201


def _overwrite(db_path: str, trace: str, **columns: str) -> None:
    """Write straight into the file, as a row stored before the limit existed would be."""
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        sets = ", ".join(f"{name} = ?" for name in columns)
        with conn:
            conn.execute(f"UPDATE events SET {sets} WHERE trace_id = ?", (*columns.values(), trace))
    finally:
        conn.close()


def test_rows_stored_past_the_limit_still_render_everywhere(api: Api) -> None:
    """Before the readers checked: graph 500 (RecursionError on the arguments), spans and
    ``?include=content`` 500 (content nested ~1,000 levels)."""
    trace = new_trace()
    ask = _tool_answer(trace, "{}")
    run = event("tool_call_request", trace, stepId=2, content={"toolCalls": [{"id": "call_1"}]})
    assert api.ingest([ask, run]).status_code == 202
    deep = '{"k":[' * 2_500 + "1" + "]}" * 2_500  # 5,000 levels
    arguments = json.dumps({"toolCalls": [{"id": "call_1", "function": {
        "name": "lookup", "arguments": "[" * 10_000}}]})  # fmt: skip
    _overwrite(api.running.db_path, trace, metadata=deep)
    conn = sqlite3.connect(api.running.db_path, timeout=30)
    with conn:
        conn.execute(
            "UPDATE events SET content = ? WHERE trace_id = ? AND event_type = 'llm_response'",
            (arguments, trace),
        )
        conn.execute(
            "UPDATE events SET content = ? WHERE trace_id = ? AND event_type != 'llm_response'",
            (deep, trace),
        )
    conn.close()
    thread, graph, spans, events, one, _, _ = assert_every_read_route_renders(api, trace)
    assert all(e["metadata"] == deep for e in thread["events"])  # the stored text, as a string
    assert {e["content"] for e in events["events"] if e["eventType"] != "llm_response"} == {deep}
    assert one["metadata"] == deep
    assert len(graph["graph"]["nodes"]) == 2
    assert spans["spanCount"] >= 1


def test_unbalanced_brackets_count_too() -> None:
    """An ``arguments`` string need not be JSON: 101 ``[`` nest 101 deep in 101 characters."""
    assert too_deep("[" * (MAX_NESTING + 1))
    assert not too_deep("[" * MAX_NESTING)
    assert too_deep("{" * (MAX_NESTING + 1) + "}" * 50)
