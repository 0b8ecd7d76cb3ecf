"""Building OTLP/JSON requests for the inbound tests, and checking what translate() gives."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from whyops.otlp.attributes import key_values
from whyops.otlp.inbound import Translation, translate
from whyops.server.validation import validate_events

TRACE = "0af7651916cd43dd8448eb211c80319c"
START = 1_764_000_000_000_000_000  # 2025-11-24T16:00:00Z
MS = 1_000_000


def otel_span(
    span_id: str,
    name: str,
    attributes: Mapping[str, Any] = {},
    *,
    parent: str = "",
    trace: str = TRACE,
    events: Sequence[tuple[str, Mapping[str, Any]]] = (),
    status: tuple[int, str] = (0, ""),
    start: int = START,
    duration: int = 250 * MS,
) -> dict[str, Any]:
    """One span of the OTLP/JSON dict, every key present as the decoder leaves it."""
    return {
        "traceId": trace,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": start,
        "endTimeUnixNano": start + duration,
        "attributes": key_values(attributes),
        "events": [
            {"timeUnixNano": start + n, "name": event_name, "attributes": key_values(attrs)}
            for n, (event_name, attrs) in enumerate(events)
        ],
        "links": [],
        "status": {"code": status[0], "message": status[1]},
    }


def request_of(
    *spans: dict[str, Any], resource: Mapping[str, Any] = {"service.name": "checkout"}
) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": key_values(resource)},
                "scopeSpans": [{"scope": {"name": "tests", "version": "1"}, "spans": list(spans)}],
            }
        ]
    }


def valid(translation: Translation) -> Translation:
    """``translation``, after checking the ingest route's validation takes every event."""
    rows, issues = validate_events(translation.events, received_us=time.time_ns() // 1000)
    assert issues == []
    assert len(rows) == len(translation.events)
    return translation


def translated(*spans: dict[str, Any], **kwargs: Any) -> Translation:
    return valid(translate(request_of(*spans, **kwargs)))


def by_type(translation: Translation, span_id: str) -> dict[str, dict[str, Any]]:
    """The events of one span, by event type (the last of a type wins)."""
    return {e["eventType"]: e for e in translation.events if e["spanId"] == span_id}
