"""``GET /api/threads/{id}/graph``: events as nodes, with the edges that explain them.

Edge kinds, in the order they are drawn: ``span`` (events of one span, in order), ``parent``
(a span's first event from its parent span's first event, via ``parentSpanId``), ``tool_call``
(a tool execution from the model answer that asked for it), and ``step`` (WhyOps' step chain,
``parentStepId`` → ``stepId``) for any event that got no other incoming edge.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from whyops.server.auth import Project, authenticated
from whyops.server.readapi.common import not_found, read
from whyops.server.readapi.toolcalls import Call, calls_of, link_tool_calls
from whyops.server.readapi.tracedata import LoadedTrace, load_trace
from whyops.wire.events import EventType

Edge = dict[str, str]


def _node(event: dict[str, Any], ts_us: int, start_us: int, next_us: int) -> dict[str, Any]:
    return {
        "id": event["id"],
        "stepId": event["stepId"],
        "parentStepId": event["parentStepId"],
        "spanId": event["spanId"],
        "parentSpanId": event["parentSpanId"],
        "spanKind": event["spanKind"],
        "spanName": event["spanName"],
        "type": event["eventType"],
        "model": event["model"],
        "timestamp": event["timestamp"],
        "latencyMs": event["latencyMs"],
        "hasError": event["hasError"],
        "duration": (next_us - ts_us) / 1000,
        "timeSinceStart": (ts_us - start_us) / 1000,
    }


def _span_edges(events: list[dict[str, Any]]) -> list[Edge]:
    edges: list[Edge] = []
    first_of: dict[str, str] = {}
    last_of: dict[str, str] = {}
    for event in events:
        span = event["spanId"]
        if span in last_of:
            edges.append({"from": last_of[span], "to": event["id"], "kind": "span"})
        else:
            first_of[span] = event["id"]
        last_of[span] = event["id"]
    for event in events:
        parent = event["parentSpanId"]
        if (
            first_of.get(event["spanId"]) == event["id"]
            and parent in first_of
            and parent != event["spanId"]
        ):
            edges.append({"from": first_of[parent], "to": event["id"], "kind": "parent"})
    return edges


def _tool_edges(loaded: LoadedTrace) -> list[Edge]:
    asked: list[Call] = []
    executed: list[Call] = []
    for event, ts_us in zip(loaded.events, loaded.ts_us, strict=True):
        if event["eventType"] == EventType.LLM_RESPONSE:
            asked += calls_of(event, ts_us)
        elif event["eventType"] == EventType.TOOL_CALL_REQUEST:
            executed += calls_of(event, ts_us)
    links = link_tool_calls(asked, executed)
    return [{"from": src, "to": dst, "kind": "tool_call"} for src, dst in links]


def _step_edges(events: list[dict[str, Any]], linked: set[str]) -> list[Edge]:
    by_step: dict[int, str] = {}
    for event in events:
        by_step.setdefault(event["stepId"], event["id"])
    edges: list[Edge] = []
    for event in events:
        source = by_step.get(event["parentStepId"])
        if event["id"] not in linked and source is not None and source != event["id"]:
            edges.append({"from": source, "to": event["id"], "kind": "step"})
    return edges


def build_graph(loaded: LoadedTrace) -> dict[str, Any]:
    events, stamps = loaded.events, loaded.ts_us
    start = stamps[0] if stamps else 0
    nodes = [
        _node(event, ts, start, stamps[i + 1] if i + 1 < len(stamps) else ts)
        for i, (event, ts) in enumerate(zip(events, stamps, strict=True))
    ]
    edges = _span_edges(events) + _tool_edges(loaded)
    edges += _step_edges(events, {edge["to"] for edge in edges})
    return {"nodes": nodes, "edges": edges}


@authenticated()
async def get_graph(request: Request, project: Project) -> Response:
    trace_id = request.path_params["thread_id"]
    cap = request.app.state.settings.max_trace_events
    loaded = await read(request, load_trace, project.id, trace_id, max_events=cap)
    if loaded is None:
        return not_found("Thread")
    return JSONResponse({"threadId": trace_id, "graph": build_graph(loaded), **loaded.cut()})
