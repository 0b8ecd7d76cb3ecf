"""Rows to JSON: the WhyOps read shapes plus our extension fields."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from whyops.server.nesting import load_stored, splice_stored
from whyops.server.store.queries import CONTENT, EVENT_FIELDS, METADATA, EventTuple, Row

# One encoder for every response: compact, and strict about NaN like the stored JSON is.
ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_NAMES = tuple(name for name, _ in EVENT_FIELDS)


def event_fields(row: EventTuple) -> dict[str, Any]:
    """An event's fields, without content and metadata."""
    event = dict(zip(_NAMES, row, strict=False))
    event["hasError"] = bool(event["hasError"])
    return event


def event_json(row: EventTuple, *, content: bool, metadata: bool) -> dict[str, Any]:
    """One event, parsed. ``content``/``metadata`` only when asked for."""
    event = event_fields(row)
    if content:
        event["content"] = load_stored(row[CONTENT])
    if metadata:
        event["metadata"] = load_stored(row[METADATA])
    return event


def event_text(event: dict[str, Any], row: EventTuple, *, content: bool, metadata: bool) -> str:
    """``event`` as JSON text, with the stored content/metadata JSON spliced in unparsed.

    Stored JSON was written by the same strict encoder, so it is valid as is; parsing and
    re-encoding it would be most of the cost of reading a trace. Past the nesting limit it is
    sent as a string, as :func:`event_json` renders it.
    """
    text = ENCODER.encode(event)
    if not (content or metadata):
        return text
    parts = [text[:-1]]
    if content:
        parts.append(',"content":' + splice_stored(row[CONTENT]))
    if metadata:
        parts.append(',"metadata":' + splice_stored(row[METADATA]))
    parts.append("}")
    return "".join(parts)


class RawJSONResponse(Response):
    """A response whose body is already JSON text."""

    media_type = "application/json"


def thread_summary_json(row: Row) -> dict[str, Any]:
    """A trace as a WhyOps thread summary (``GET /api/threads``)."""
    duration = (row["last_ts_us"] - row["first_ts_us"]) / 1000
    return {
        "threadId": row["trace_id"],
        "traceId": row["trace_id"],
        "contextThreadId": row["thread_id"],
        "agentName": row["agent_name"],
        "entityName": row["agent_name"],
        "agentId": row["agent_id"],
        "entityId": row["agent_version_id"],
        "externalUserId": row["external_user_id"],
        "model": row["last_model"],
        "firstEventTimestamp": row["first_ts"],
        "lastEventTimestamp": row["last_ts"],
        "lastActivity": row["last_ts"],
        "duration": duration,
        "eventCount": row["event_count"],
        "errorCount": row["error_count"],
        "totalTokens": row["total_tokens"],
        "promptTokens": row["prompt_tokens"],
        "completionTokens": row["completion_tokens"],
        "cacheReadTokens": row["cache_read_tokens"],
        "cacheCreationTokens": row["cache_creation_tokens"],
        "totalLatency": row["total_latency_ms"],
        "llmCalls": row["llm_calls"],
        "reasoningTokens": row["reasoning_tokens"],
        "costUsd": row["cost_usd"],  # the priced calls' sum; null: none priced
        "unpricedCalls": row["unpriced_calls"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


def pagination(total: int, count: int, page: int) -> dict[str, Any]:
    pages = (total + count - 1) // count
    return {
        "total": total,
        "count": count,
        "page": page,
        "totalPages": pages,
        "hasMore": page < pages,
    }
