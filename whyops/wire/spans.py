"""Events back to spans: one span's fields, taken from the events that share its ``spanId``.

The read API's event dicts (camelCase, with ``model``, ``provider``, ``hasError`` and
``latencyMs`` lifted out of the metadata) go in; the span the page, the terminal and
``/api/traces/{id}/spans`` show comes out. The inverse of :mod:`whyops.wire.encode`.
"""

from __future__ import annotations

from typing import Any

from whyops.wire.events import CLOSING, KIND_BY_TYPE, OPENING, EventType

Timed = tuple[dict[str, Any], int]


def _meta(event: dict[str, Any]) -> dict[str, Any]:
    meta = event.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _content(event: dict[str, Any]) -> Any:
    return event.get("content")


def _is_opening(event: dict[str, Any]) -> bool:
    # The proxy opens a model call that follows a tool answer with ``tool_result``
    # (content.messages); the SDK's own ``tool_result`` (``{toolName, output}``) opens nothing.
    if event["eventType"] == EventType.TOOL_RESULT:
        content = _content(event)
        return isinstance(content, dict) and "messages" in content
    return event["eventType"] in OPENING


def _inputs(opening: dict[str, Any] | None) -> Any:
    if opening is None:
        return None
    content = _content(opening)
    if not isinstance(content, dict):
        return content
    if opening["eventType"] == EventType.TOOL_CALL_REQUEST:
        calls = content.get("toolCalls")
        if isinstance(calls, list) and len(calls) == 1 and isinstance(calls[0], dict):
            return calls[0].get("arguments")
        return calls
    if opening["eventType"] == EventType.EMBEDDING_REQUEST:
        return content.get("input")
    return content.get("messages", content)


def _output(closing: dict[str, Any] | None) -> Any:
    if closing is None or closing["eventType"] == EventType.ERROR:
        return None
    content = _content(closing)
    if closing["eventType"] == EventType.TOOL_CALL_RESPONSE and isinstance(content, dict):
        return content.get("toolResults")
    return content


def _error(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    for event in events:
        if event["eventType"] == EventType.ERROR:
            content = _content(event)
            return content if isinstance(content, dict) else {"message": content}
    return None


def _thinking(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    blocks = []
    for event in events:
        content = _content(event)
        if event["eventType"] != EventType.LLM_THINKING or not isinstance(content, dict):
            continue
        redacted = content.get("type") == "redacted_thinking"
        blocks.append(
            {
                "text": None if redacted else content.get("thinking"),
                "signature": content.get("signature"),
                "redacted": redacted,
                "data": content.get("data") if redacted else None,
            }
        )
    return blocks


def _kind(events: list[dict[str, Any]]) -> str:
    for event in events:
        if event["spanKind"]:
            return str(event["spanKind"])
    return KIND_BY_TYPE.get(events[0]["eventType"], "event")


def _name(events: list[dict[str, Any]], kind: str) -> str:
    for event in events:
        if event["spanName"]:
            return str(event["spanName"])
    for event in events:
        tool = _meta(event).get("tool")
        if isinstance(tool, str) and tool:
            return tool
    model = next((e["model"] for e in events if e["model"]), None)
    return str(model) if kind in ("llm", "embedding") and model else str(events[0]["eventType"])


def _duration_ms(closing: dict[str, Any] | None, start_us: int, end_us: int | None) -> float | None:
    meta = _meta(closing) if closing is not None else {}
    if isinstance(meta.get("durationNs"), (int, float)):
        return float(meta["durationNs"]) / 1e6
    if isinstance(closing, dict) and closing.get("latencyMs") is not None:
        return float(closing["latencyMs"])
    return None if end_us is None else (end_us - start_us) / 1000


def _usage(closing: dict[str, Any] | None) -> dict[str, Any] | None:
    usage = _meta(closing).get("usage") if closing is not None else None
    return usage if isinstance(usage, dict) else None


def _times(timed: list[Timed], closing: dict[str, Any] | None) -> tuple[int, int | None]:
    start_us, end_us = timed[0][1], timed[-1][1]
    if len(timed) > 1 or closing is None:
        return start_us, end_us if closing is not None else None
    latency = closing.get("latencyMs")  # a lone answer: stamped when it ended
    if isinstance(latency, (int, float)):
        return end_us - int(latency * 1000), end_us
    return start_us, end_us


def span_fields(span_id: str, timed: list[Timed]) -> dict[str, Any]:
    events = [event for event, _ in timed]
    opening = next((e for e in events if _is_opening(e)), None)
    closing = next((e for e in reversed(events) if e["eventType"] in CLOSING), None)
    kind = _kind(events)
    start_us, end_us = _times(timed, closing)
    error = _error(events)
    return {
        "id": span_id,
        "parentSpanId": next((e["parentSpanId"] for e in events if e["parentSpanId"]), None),
        "kind": kind,
        "name": _name(events, kind),
        "startUs": start_us,
        "endUs": end_us,
        "durationMs": _duration_ms(closing, start_us, end_us),
        "status": "error"
        if error or any(e["hasError"] for e in events)
        else ("ok" if closing is not None else "unfinished"),
        "inputs": _inputs(opening),
        "output": _output(closing),
        "error": error,
        "thinking": _thinking(events),
        "usage": _usage(closing),
        "model": next((e["model"] for e in events if e["model"]), None),
        "provider": next((e["provider"] for e in events if e["provider"]), None),
        "attributes": _meta(closing).get("attributes") or {} if closing is not None else {},
        "agentName": events[0]["agentName"],
        # "default": a proxied call without X-Agent-Name, recorded under the default agent
        "agentNameSource": _meta(events[0]).get("agentNameSource"),
        "eventIds": [e["id"] for e in events],
        "children": [],
        "depth": 0,
    }
