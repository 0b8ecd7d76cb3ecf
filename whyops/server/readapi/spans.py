"""``GET /api/traces/{id}/spans``: the span tree, rebuilt from a trace's events.

Events sharing a ``spanId`` form one span (docs/wire-format.md); ``parentSpanId`` nests it.
The JSON shape is documented in docs/server.md and kept stable: the web page and
``whyops show`` read it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from whyops.server.auth import Project, authenticated
from whyops.server.readapi.common import not_found, read
from whyops.server.readapi.tracedata import LoadedTrace, load_trace
from whyops.server.timeutil import format_us
from whyops.wire.spans import span_fields


def _group(loaded: LoadedTrace) -> dict[str, list[tuple[dict[str, Any], int]]]:
    spans: dict[str, list[tuple[dict[str, Any], int]]] = {}
    for event, ts_us in zip(loaded.events, loaded.ts_us, strict=True):
        spans.setdefault(event["spanId"], []).append((event, ts_us))
    return spans


def _link(spans: dict[str, dict[str, Any]]) -> list[str]:
    """Fill ``children``/``depth``; returns the root ids (a parent cycle is cut at its start)."""
    roots = [sid for sid, span in spans.items() if span["parentSpanId"] not in spans]
    for sid, span in spans.items():
        parent = span["parentSpanId"]
        if parent in spans and parent != sid:
            spans[parent]["children"].append(sid)
    seen: set[str] = set()
    root_set = set(roots)
    for sid in spans:  # spans only reachable through a cycle become roots too
        if sid not in root_set and not _reaches_root(spans, sid):
            roots.append(sid)
            root_set.add(sid)
    order = list(roots)
    stack = [(sid, 0) for sid in reversed(order)]
    while stack:
        sid, depth = stack.pop()
        if sid in seen:
            continue
        seen.add(sid)
        spans[sid]["depth"] = depth
        children = sorted(spans[sid]["children"], key=lambda c: spans[c]["startUs"])
        spans[sid]["children"] = children
        stack.extend((child, depth + 1) for child in reversed(children))
    return roots


def _reaches_root(spans: dict[str, dict[str, Any]], sid: str) -> bool:
    visited: set[str] = set()
    while sid in spans and sid not in visited:
        visited.add(sid)
        sid = spans[sid]["parentSpanId"]
    return sid not in spans


def _cost(timed: list[tuple[dict[str, Any], int]]) -> float | None:
    """A model call's cost (its answer's); null for other spans and calls without a price."""
    costs = [event["costUsd"] for event, _ in timed if event["costUsd"] is not None]
    return sum(costs) if costs else None


def build_spans(loaded: LoadedTrace) -> dict[str, Any]:
    trace = loaded.trace
    spans = {
        sid: {**span_fields(sid, timed), "costUsd": _cost(timed)}
        for sid, timed in _group(loaded).items()
    }
    roots = _link(spans)
    start_us = trace["first_ts_us"]
    ordered = sorted(spans.values(), key=lambda s: (s["startUs"], s["endUs"] or 0))
    for span in ordered:
        span["offsetMs"] = (span["startUs"] - start_us) / 1000
        span["start"] = format_us(span["startUs"])
        span["end"] = None if span["endUs"] is None else format_us(span["endUs"])
        del span["startUs"], span["endUs"]
    return {
        "traceId": trace["trace_id"],
        "agentName": trace["agent_name"],
        "start": trace["first_ts"],
        "end": trace["last_ts"],
        "spanCount": len(ordered),
        "rootIds": sorted(roots, key=lambda r: (spans[r]["offsetMs"], r)),
        "spans": ordered,
    }


@authenticated()
async def get_spans(request: Request, project: Project) -> Response:
    cap = request.app.state.settings.max_trace_events
    trace_id = request.path_params["trace_id"]
    loaded = await read(request, load_trace, project.id, trace_id, max_events=cap)
    if loaded is None:
        return not_found("Trace")
    return JSONResponse({**build_spans(loaded), **loaded.cut()})
