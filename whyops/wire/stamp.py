"""The fields every event of one span shares, and how events are timed and keyed.

Written once for the SDK's encoder, the proxy's events and the client's manual events:
trace, agent, span, kind, name, parent, thread and end user, then an ``idempotencyKey``
per event that is the same on every retry of it. A manual event is built on the caller's
thread with its timestamp, key and span id left to fill (:func:`complete_event`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from whyops.wire.records import EventRecord

__all__ = [
    "DEFAULT_AGENT_NAME",
    "complete_event",
    "event_key",
    "iso_timestamp",
    "random_event_key",
    "span_fields",
    "stamped",
]

#: ``agentName`` of a trace that no agent, client or configuration named (WhyOps requires one).
DEFAULT_AGENT_NAME = "default"

_second_cache: tuple[int, str] = (-1, "")
# uuid4 layout applied to 128 random bits, as ``uuid.UUID(int=..., version=4)`` does.
_UUID4_CLEAR = (2**128 - 1) & ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET = (0x8000 << 48) | (4 << 76)
_SPAN_MASK = 2**64 - 1


def iso_timestamp(epoch_ns: int) -> str:
    """``2026-11-27T07:03:48.123456Z`` (UTC, microseconds)."""
    global _second_cache
    seconds, rest = divmod(epoch_ns, 1_000_000_000)
    cached_second, prefix = _second_cache
    if cached_second != seconds:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _second_cache = (seconds, prefix)
    return f"{prefix}.{rest // 1000:06d}Z"


def span_fields(
    *,
    trace_id: str,
    agent_name: str | None,
    span_id: str,
    span_kind: str,
    span_name: str,
    parent_span_id: str | None = None,
    thread_id: str | None = None,
    external_user_id: str | None = None,
) -> dict[str, str]:
    """``traceId``, ``agentName``, ``spanId``, ``spanKind``, ``spanName`` and the optional
    ``parentSpanId``, ``externalUserId``, ``threadId``.

    A missing agent name is :data:`DEFAULT_AGENT_NAME`. ``threadId`` is written only when it
    differs from the trace id (a trace is its own thread unless told otherwise).
    """
    fields = {
        "traceId": trace_id,
        "agentName": agent_name or DEFAULT_AGENT_NAME,
        "spanId": span_id,
        "spanKind": span_kind,
        "spanName": span_name,
    }
    if parent_span_id:
        fields["parentSpanId"] = parent_span_id
    if external_user_id:
        fields["externalUserId"] = external_user_id
    if thread_id and thread_id != trace_id:
        fields["threadId"] = thread_id
    return fields


def event_key(span_id: str, position: int) -> str:
    """``idempotencyKey`` of the event at ``position`` (0, 1, ...) among its span's events."""
    return f"{span_id}:{position}"


def stamped(body: Mapping[str, Any], fields: Mapping[str, Any], position: int) -> dict[str, Any]:
    """``body`` (eventType, timestamp, content, metadata) with the span's fields and key."""
    return {**body, **fields, "idempotencyKey": event_key(fields["spanId"], position)}


def random_event_key(bits: int) -> str:
    """An ``idempotencyKey`` for an event outside a span's sequence: the low 128 of ``bits``
    as a uuid4 in its usual text form (version and variant set)."""
    h = f"{bits & _UUID4_CLEAR | _UUID4_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def complete_event(record: EventRecord) -> dict[str, Any]:
    """A manual event's payload with the fields it left to generate (``None``) filled in.

    ``timestamp`` comes from the record's ``time_ns``; ``idempotencyKey`` from the low 128
    of its ``random_bits``, ``spanId`` from the next 64. They derive from the record alone,
    so every encoding of it (a retry, a split batch) sends the same key.
    """
    event = dict(record.draft)
    if record.time_ns is not None and event.get("timestamp") is None:
        event["timestamp"] = iso_timestamp(record.time_ns)
    bits = record.random_bits
    if bits is not None:
        if event.get("idempotencyKey") is None:
            event["idempotencyKey"] = random_event_key(bits)
        if event.get("spanId") is None:
            event["spanId"] = f"{bits >> 128 & _SPAN_MASK or 1:016x}"
    return event
