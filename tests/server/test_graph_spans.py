"""The span tree (``/api/traces/{id}/spans``) and the event graph (``/graph``)."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import Api, event, new_trace
from whyops.server.run import RunningServer


def _ts(second: float) -> str:
    return f"2026-03-01T00:00:{second:09.6f}Z"


def _agent_run(trace: str) -> list[dict[str, Any]]:
    """What the SDK sends for: agent → llm (asks for 2 tools) → 2 tool spans → llm answer."""
    tool_calls = [
        {"id": "call_a", "type": "function",
         "function": {"name": "get_order", "arguments": '{"order": "A1"}'}},
        {"type": "function", "function": {"name": "get_order", "arguments": '{"order": "B2"}'}},
    ]  # fmt: skip
    usage = {"promptTokens": 10, "completionTokens": 5, "totalTokens": 15}
    llm_meta = {"model": "gpt-test", "provider": "openai", "latencyMs": 500, "usage": usage}

    def span_event(kind: str, span: str, parent: str | None, name: str, **fields: Any) -> dict:
        extra = {"spanId": span, "spanKind": kind, "spanName": name}
        if parent:
            extra["parentSpanId"] = parent
        return event(fields.pop("event_type"), trace, **extra, **fields)

    return [
        span_event("agent", "root", None, "support", event_type="tool_call_request",
                   timestamp=_ts(0), metadata={"tool": "support"},
                   content={"toolCalls": [{"name": "support", "arguments": {"q": "where"}}]}),
        span_event("llm", "llm1", "root", "chat", event_type="user_message", timestamp=_ts(1),
                   content={"messages": [{"role": "user", "content": "where"}]}),
        span_event("llm", "llm1", "root", "chat", event_type="llm_thinking", timestamp=_ts(1.2),
                   content={"type": "thinking", "thinking": "look up", "signature": "sig"}),
        span_event("llm", "llm1", "root", "chat", event_type="llm_response", timestamp=_ts(1.5),
                   metadata=llm_meta, content={"content": None, "toolCalls": tool_calls}),
        # executed in the opposite order: B2 is linked by name+arguments, A1 by call id
        span_event("tool", "t2", "root", "get_order", event_type="tool_call_request",
                   timestamp=_ts(2), metadata={"tool": "get_order"},
                   content={"toolCalls": [{"name": "get_order", "arguments": {"order": "B2"}}]}),
        span_event("tool", "t2", "root", "get_order", event_type="error", timestamp=_ts(2.5),
                   metadata={"tool": "get_order", "latencyMs": 500, "status": "error"},
                   content={"message": "KeyError: 'B2'", "type": "KeyError", "stack": "..."}),
        span_event("tool", "t1", "root", "get_order", event_type="tool_call_request",
                   timestamp=_ts(3), metadata={"tool": "get_order"},
                   content={"toolCalls": [{"id": "call_a", "name": "get_order",
                                           "arguments": {"order": "A1"}}]}),
        span_event("tool", "t1", "root", "get_order", event_type="tool_call_response",
                   timestamp=_ts(3.25), metadata={"tool": "get_order", "durationNs": 250_000_000},
                   content={"toolResults": {"status": "shipped"}}),
        span_event("agent", "root", None, "support", event_type="tool_call_response",
                   timestamp=_ts(4), metadata={"tool": "support", "latencyMs": 4000,
                                               "attributes": {"tier": "gold"}},
                   content={"toolResults": "shipped"}),
        span_event("tool", "dangling", "root", "never_ended", event_type="tool_call_request",
                   timestamp=_ts(3.5), metadata={"tool": "never_ended"}),
    ]  # fmt: skip


def test_span_tree_is_rebuilt(api: Api) -> None:
    trace = new_trace()
    assert api.ingest(_agent_run(trace)).status_code == 202
    body = api.get(f"/api/traces/{trace}/spans").json()
    assert body["traceId"] == trace
    assert body["rootIds"] == ["root"]
    spans = {span["id"]: span for span in body["spans"]}
    assert body["spanCount"] == len(spans) == 5
    root = spans["root"]
    assert root["children"] == ["llm1", "t2", "t1", "dangling"]
    assert (root["kind"], root["name"], root["status"], root["depth"]) == (
        "agent",
        "support",
        "ok",
        0,
    )
    assert (root["inputs"], root["output"], root["durationMs"]) == (
        {"q": "where"},
        "shipped",
        4000.0,
    )
    assert root["attributes"] == {"tier": "gold"}
    llm = spans["llm1"]
    assert (llm["kind"], llm["model"], llm["provider"], llm["depth"]) == (
        "llm",
        "gpt-test",
        "openai",
        1,
    )
    assert llm["inputs"] == [{"role": "user", "content": "where"}]
    assert llm["thinking"] == [
        {"text": "look up", "signature": "sig", "redacted": False, "data": None}
    ]
    assert llm["usage"]["totalTokens"] == 15
    assert len(llm["eventIds"]) == 3
    failed = spans["t2"]
    assert (failed["status"], failed["error"]["type"], failed["output"]) == (
        "error",
        "KeyError",
        None,
    )
    assert spans["t1"]["durationMs"] == 250.0
    assert spans["t1"]["output"] == {"status": "shipped"}
    assert (spans["t1"]["start"], spans["t1"]["end"]) == (_ts(3), _ts(3.25))
    assert spans["t1"]["offsetMs"] == 3000.0
    assert (spans["dangling"]["status"], spans["dangling"]["end"]) == ("unfinished", None)
    assert [s["id"] for s in body["spans"]] == ["root", "llm1", "t2", "t1", "dangling"]


def test_graph_links_tools_to_the_answer_that_asked(api: Api) -> None:
    trace = new_trace()
    api.ingest(_agent_run(trace))
    graph = api.get(f"/api/threads/{trace}/graph").json()["graph"]
    by_id = {node["id"]: node for node in graph["nodes"]}
    assert len(by_id) == 10

    def label(node_id: str) -> str:
        node = by_id[node_id]
        return f"{node['spanId']}:{node['type']}"

    edges = {(label(e["from"]), label(e["to"]), e["kind"]) for e in graph["edges"]}
    assert ("llm1:llm_response", "t1:tool_call_request", "tool_call") in edges
    assert ("llm1:llm_response", "t2:tool_call_request", "tool_call") in edges
    assert ("root:tool_call_request", "llm1:user_message", "parent") in edges
    assert ("llm1:user_message", "llm1:llm_thinking", "span") in edges
    assert ("t2:tool_call_request", "t2:error", "span") in edges
    assert not [e for e in edges if e[2] == "step"]  # every event is explained by its span
    errors = [n for n in graph["nodes"] if n["hasError"]]
    assert [n["type"] for n in errors] == ["error"]


def test_tool_links_by_name_in_order_and_step_chain(api: Api) -> None:
    """Proxy-style events: no parent spans; the step chain links them, tools by name."""
    trace = new_trace()
    asked = {"toolCalls": [{"function": {"name": "search", "arguments": "not json"}},
                           {"function": {"name": "search", "arguments": "{}"}}]}  # fmt: skip
    batch = [
        event("user_message", trace, timestamp=_ts(0)),
        event("llm_response", trace, timestamp=_ts(1), content=asked),
        event("tool_call_request", trace, timestamp=_ts(2), metadata={"tool": "search"}),
        event("tool_call_request", trace, timestamp=_ts(3), metadata={"tool": "search"}),
        event("tool_call_request", trace, timestamp=_ts(4), metadata={"tool": "search"}),
    ]
    api.ingest(batch)
    graph = api.get(f"/api/threads/{trace}/graph").json()["graph"]
    step = {node["id"]: node["stepId"] for node in graph["nodes"]}
    edges = sorted((step[e["from"]], step[e["to"]], e["kind"]) for e in graph["edges"])
    # the third search was never asked for: it keeps its step edge only
    assert edges == [(1, 2, "step"), (2, 3, "tool_call"), (2, 4, "tool_call"), (4, 5, "step")]


def test_parent_cycles_do_not_lose_spans(api: Api) -> None:
    trace = new_trace()
    api.ingest([
        event("tool_result", trace, spanId="a", parentSpanId="b", timestamp=_ts(0)),
        event("tool_result", trace, spanId="b", parentSpanId="a", timestamp=_ts(1)),
        event("tool_result", trace, spanId="c", parentSpanId="c", timestamp=_ts(2)),
    ])  # fmt: skip
    body = api.get(f"/api/traces/{trace}/spans").json()
    assert body["spanCount"] == 3
    assert set(body["rootIds"]) >= {"c"}
    assert {s["id"] for s in body["spans"]} == {"a", "b", "c"}
    assert api.get(f"/api/threads/{trace}/graph").status_code == 200


def test_views_say_when_a_trace_is_cut_at_the_configured_cap(small_server: RunningServer) -> None:
    api = Api(small_server)  # max_trace_events=4
    try:
        whole, cut = new_trace(), new_trace()
        api.ingest([event("user_message", whole, timestamp=_ts(i)) for i in range(4)])
        api.ingest([event("user_message", cut, timestamp=_ts(i)) for i in range(5)])
        api.ingest([event("user_message", cut, timestamp=_ts(5 + i)) for i in range(2)])
        graph = api.get(f"/api/threads/{cut}/graph").json()
        assert (graph["truncated"], graph["totalEvents"], graph["loadedEvents"]) == (True, 7, 4)
        assert len(graph["graph"]["nodes"]) == 4
        spans = api.get(f"/api/traces/{cut}/spans").json()
        assert (spans["truncated"], spans["totalEvents"], spans["loadedEvents"]) == (True, 7, 4)
        full = api.get(f"/api/threads/{whole}/graph").json()
        assert (full["truncated"], full["totalEvents"]) == (False, 4)
        assert len(full["graph"]["nodes"]) == 4
        assert api.get(f"/api/traces/{whole}/spans").json()["truncated"] is False
    finally:
        api.close()
