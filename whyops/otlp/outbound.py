"""WhyOps events → OTLP spans on the GenAI semantic conventions. Pure: no I/O, no clock.

The events are those ``POST /api/events/ingest`` takes (what :mod:`whyops.wire.encode`
writes). They are grouped by span, and each group read back into one span by
:func:`whyops.wire.spans.span_fields` (the read API's inverse of the encoder), so the
opening, closing and error events mean here what they mean on the page. Each span is then
written as the conventions say:

- agent spans: ``invoke_agent {name}`` with ``gen_ai.agent.name``;
- tool spans: ``execute_tool {name}`` with the tool name, call id, arguments and result;
- LLM calls: ``chat {model}``, embeddings ``embeddings {model}``: provider, request and
  response model, token usage (input counts include cached tokens, as the conventions
  say), finish reasons, and the messages in and out when they were captured;
- other spans keep their name.

Fields no convention has are written as ``whyops.*`` attributes (names in
:mod:`whyops.otlp.conventions`) so :mod:`whyops.otlp.inbound` reads the same span back. The
attributes are :mod:`whyops.otlp.outbound_attributes`'; this module makes the spans and the
request around them (:func:`request_of` as a dict, :func:`request_body` as protobuf).

Ids: a WhyOps trace id is 32 lowercase hex characters and a span id 16 (``whyops._ids``,
W3C ``traceparent``) and those are kept as they are. Ids given by hand (``X-Trace-ID``,
any 1-128 printable characters) become the first 16 (8) bytes of their SHA-256, the same on
every export, with the original kept in ``whyops.trace.id`` (``whyops.span.id``).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from typing import Any

from whyops.otlp import conventions as c
from whyops.otlp.attributes import key_values
from whyops.otlp.outbound_attributes import span_attributes
from whyops.otlp.proto import encode_request
from whyops.wire.spans import span_fields

__all__ = [
    "SCOPE_NAME",
    "otel_span_id",
    "otel_trace_id",
    "request_body",
    "request_of",
    "span_key",
    "spans_body",
]

JSON = dict[str, Any]
SCOPE_NAME = "whyops"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_SECOND = itemgetter(1)
_last_second: tuple[str, int] = ("", 0)  # see _time_ns
_TRACE_HEX = re.compile("[0-9a-f]{32}")
_SPAN_HEX = re.compile("[0-9a-f]{16}")
#: WhyOps span kind → (OTLP span kind, ``gen_ai.operation.name``).
_KINDS: dict[str, tuple[int, str | None]] = {
    "agent": (c.SPAN_KIND_INTERNAL, c.OP_INVOKE_AGENT),
    "tool": (c.SPAN_KIND_INTERNAL, c.OP_EXECUTE_TOOL),
    "llm": (c.SPAN_KIND_CLIENT, c.OP_CHAT),
    "embedding": (c.SPAN_KIND_CLIENT, c.OP_EMBEDDINGS),
}


def request_of(
    events: Sequence[Mapping[str, Any]],
    *,
    service_name: str,
    resource: Mapping[str, Any] | None = None,
    scope_version: str = "",
    include_open: bool = False,
) -> JSON:
    """One ``ExportTraceServiceRequest`` (OTLP/JSON dict) of ``events``.

    A span without a closing event is left out unless ``include_open`` (then it ends when
    its last event was recorded); a lone event, such as a client's manual event, is such a
    span. ``resource`` adds resource attributes; ``service_name`` wins over its
    ``service.name``.
    """
    spans = list(_spans(_groups(events), include_open))
    if not spans:
        return {"resourceSpans": []}
    return _request(spans, service_name, resource, scope_version)


def request_body(
    events: Sequence[Mapping[str, Any]],
    *,
    service_name: str,
    resource: Mapping[str, Any] | None = None,
    scope_version: str = "",
    include_open: bool = False,
) -> bytes:
    """``encode_request(request_of(events, ...))``, the same protobuf bytes, with each span
    encoded as soon as it is built.

    A batch's span dicts are then never all alive at once: a pile of young dicts that
    outlives several garbage collections gets promoted, and promoting many makes Python
    rescan every object of the process (an exporter's whole queue) again and again.
    """
    return spans_body(
        _groups(events),
        service_name=service_name,
        resource=resource,
        scope_version=scope_version,
        include_open=include_open,
    )


def spans_body(
    groups: Iterable[Sequence[Mapping[str, Any]]],
    *,
    service_name: str,
    resource: Mapping[str, Any] | None = None,
    scope_version: str = "",
    include_open: bool = False,
) -> bytes:
    """:func:`request_body` of events already grouped by :func:`span_key`, each group the
    events of one span in the order they were recorded (an empty group is skipped).

    Groups are read one at a time, so their events too may be made as they are asked for.
    """
    spans = _spans(groups, include_open)
    first = next(spans, None)
    if first is None:
        return encode_request({"resourceSpans": []})
    return encode_request(
        _request(itertools.chain((first,), spans), service_name, resource, scope_version)
    )


def _request(
    spans: Iterable[JSON],
    service_name: str,
    resource: Mapping[str, Any] | None,
    scope_version: str,
) -> JSON:
    attributes = key_values({**(resource or {}), c.SERVICE_NAME: service_name})
    scope = {"name": SCOPE_NAME, "version": scope_version}
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": attributes},
                "scopeSpans": [{"scope": scope, "spans": spans}],
            }
        ]
    }


# Cached: a batch names the same trace (and parent) ids again and again.
@functools.lru_cache(maxsize=4096)
def otel_trace_id(trace_id: str) -> str:
    """The OTLP trace id of a WhyOps trace id (32 hex kept; else a hash of it)."""
    return (
        trace_id
        if _TRACE_HEX.fullmatch(trace_id) and trace_id.strip("0")
        else _digest(trace_id, 16)
    )


@functools.lru_cache(maxsize=4096)
def otel_span_id(span_id: str) -> str:
    """The OTLP span id of a WhyOps span id (16 hex kept; else a hash of it)."""
    return span_id if _SPAN_HEX.fullmatch(span_id) and span_id.strip("0") else _digest(span_id, 8)


def _digest(text: str, size: int) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:size].hex()


# -- events → spans ------------------------------------------------------------------------


def span_key(event: Mapping[str, Any], number: int) -> tuple[str, str]:
    """The span an event belongs to: (traceId, spanId). An event without a span id is a
    span of its own (its idempotency key, else its ``number`` in the batch, names it)."""
    span_id = event.get("spanId") or f"event:{event.get('idempotencyKey') or number}"
    return str(event.get("traceId") or ""), str(span_id)


def _spans(groups: Iterable[Sequence[Mapping[str, Any]]], include_open: bool) -> Iterator[JSON]:
    for group in groups:
        span = _span(list(group), include_open) if group else None
        if span is not None:
            yield span


def _groups(events: Iterable[Mapping[str, Any]]) -> Iterable[list[Mapping[str, Any]]]:
    """Events grouped by :func:`span_key`, in the order each span first appears."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for n, event in enumerate(events):
        groups.setdefault(span_key(event, n), []).append(event)
    return groups.values()


def _read_form(event: Mapping[str, Any]) -> JSON:
    """An event as the read API hands it to ``span_fields`` (model, provider, error flag and
    latency lifted out of the metadata); read-API events, which have them, pass unchanged."""
    meta = event.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    return {
        **event,
        "metadata": meta,
        "spanKind": event.get("spanKind"),
        "spanName": event.get("spanName"),
        "parentSpanId": event.get("parentSpanId"),
        "model": event.get("model") or meta.get("model"),
        "provider": event.get("provider") or meta.get("provider"),
        "hasError": bool(event.get("hasError")) or event.get("eventType") == "error",
        "latencyMs": event.get("latencyMs", meta.get("latencyMs")),
        "agentName": event.get("agentName"),
        "id": event.get("id", event.get("idempotencyKey")),
    }


def _time_ns(value: Any) -> int:
    """Nanoseconds since the epoch of an ingest timestamp (ISO 8601 with ``Z`` or an offset;
    WhyOps writes microseconds), 0 if unreadable."""
    global _last_second
    # WhyOps' own form, ``2026-11-27T07:03:48.123456Z``: a batch's events share few seconds,
    # so the last second read is kept and only the microseconds are read again.
    if type(value) is str and len(value) == 27 and value[19] == "." and value[26] == "Z":
        micros = value[20:26]
        if micros.isascii() and micros.isdigit():
            second, second_ns = _last_second
            if value[:19] == second:
                return second_ns + int(micros) * 1000
            found = _parsed_ns(value)
            if found:
                _last_second = (value[:19], found - int(micros) * 1000)
            return found
    return _parsed_ns(value)


def _parsed_ns(value: Any) -> int:
    if not isinstance(value, str):
        return 0
    if value[-1:] in ("Z", "z"):  # Python 3.10 reads only "+00:00"
        value = value[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return 0
    if when.tzinfo is None:
        return 0
    return (when - _EPOCH) // _MICROSECOND * 1000


def _span(group: list[Mapping[str, Any]], include_open: bool) -> JSON | None:
    forms = [(_read_form(e), _time_ns(e.get("timestamp"))) for e in group]
    forms.sort(key=_SECOND)  # stable: events of one instant keep their order
    first = forms[0][0]
    read = span_fields(str(first.get("spanId") or ""), [(e, ns // 1000) for e, ns in forms])
    if read["endUs"] is None and not include_open:
        return None
    start_ns, end_ns = _times(read, forms[0][1], forms[-1][1], len(forms))
    trace_id, span_id = str(first.get("traceId") or ""), str(first.get("spanId") or "")
    ids = otel_trace_id(trace_id), otel_span_id(span_id or "event")
    attributes = span_attributes(read, group, (trace_id, span_id), ids)
    kind, operation = _KINDS.get(read["kind"], (c.SPAN_KIND_INTERNAL, None))
    return {
        "traceId": ids[0],
        "spanId": ids[1],
        "parentSpanId": otel_span_id(read["parentSpanId"]) if read["parentSpanId"] else "",
        "name": _span_name(read, operation),
        "kind": kind,
        "startTimeUnixNano": max(start_ns, 0),
        "endTimeUnixNano": max(end_ns, 0),
        "attributes": key_values(attributes),
        "events": _exception_events(read["error"], end_ns),
        "links": [],
        "status": _status(read),
    }


def _times(read: JSON, first_ns: int, last_ns: int, count: int) -> tuple[int, int]:
    """Start and end in nanoseconds of a span whose ``count`` events were recorded from
    ``first_ns`` to ``last_ns``: the duration the closing event recorded (to the nanosecond)
    counted from the first event, or back from a lone closing event."""
    duration = read["durationMs"]
    duration_ns = None if duration is None else max(round(duration * 1_000_000), 0)
    if read["endUs"] is None:  # an open span, or a lone manual event
        return first_ns, last_ns
    if count == 1:
        return first_ns - (duration_ns or 0), first_ns
    if duration_ns is None:
        return first_ns, read["endUs"] * 1000
    return first_ns, first_ns + duration_ns


def _span_name(read: JSON, operation: str | None) -> str:
    if operation in (c.OP_CHAT, c.OP_EMBEDDINGS):
        return f"{operation} {read['model'] or 'unknown'}"
    return f"{operation} {read['name']}" if operation else str(read["name"])


def _status(read: JSON) -> JSON:
    if read["status"] != "error":
        return {"code": c.STATUS_UNSET, "message": ""}
    error = read["error"] or {}
    return {"code": c.STATUS_ERROR, "message": str(error.get("message") or "error")}


def _exception_events(error: JSON | None, at_ns: int) -> list[JSON]:
    if not error:
        return []
    kind, message = error.get("type"), error.get("message")
    if isinstance(kind, str) and isinstance(message, str) and message.startswith(kind + ": "):
        message = message[len(kind) + 2 :]  # WhyOps writes "Type: message"
    found = {
        c.EXCEPTION_TYPE: kind,
        c.EXCEPTION_MESSAGE: message,
        c.EXCEPTION_STACKTRACE: error.get("stack"),
    }
    attrs = key_values({k: v for k, v in found.items() if isinstance(v, str)})
    return [{"timeUnixNano": max(at_ns, 0), "name": c.EXCEPTION_EVENT, "attributes": attrs}]
