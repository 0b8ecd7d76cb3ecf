"""The SDK's records → WhyOps events, under the SDK's capture rules. Runs on the flusher thread.

:mod:`whyops.wire.encode` knows the events; this module gives it what only the SDK knows:
how captured values become JSON-safe within the configured :class:`Limits` (``to_json_safe``),
and how the client's manual events are made safe (secrets masked, sizes bounded) without a
conversion when they are plain JSON.

The HTTP exporter sends :func:`encode_records`: exactly what
``json.dumps(events, ensure_ascii=False, separators=(",", ":"))`` makes of :func:`to_events`
(tests/core/test_wirejson.py checks it on generated records).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from whyops._capture import _INT_MAX, _INT_MIN, _SECRET_VALUE, is_secret_key, to_json_safe
from whyops._config import DEFAULT_LIMITS, Limits
from whyops._internal_errors import warn_once
from whyops.wire.encode import Safe
from whyops.wire.encode import to_events as span_to_events
from whyops.wire.records import EventRecord, Record
from whyops.wire.stamp import DEFAULT_AGENT_NAME, complete_event
from whyops.wire.text import json_text
from whyops.wire.writer import span_text

__all__ = ["encode_record", "encode_records", "manual_event", "sanitizer", "to_events"]


def sanitizer(limits: Limits) -> Safe:
    """``safe(value, path)``: ``to_json_safe`` within ``limits``, for the wire encoder."""

    def safe(value: Any, path: tuple[Any, ...]) -> Any:
        return to_json_safe(value, limits, path)

    return safe


def to_events(record: Record, limits: Limits = DEFAULT_LIMITS) -> list[dict[str, Any]]:
    """The WhyOps events of one record: a span's, or a manual event made safe."""
    if isinstance(record, EventRecord):
        return [_manual_record_event(record, limits)]
    return span_to_events(record, sanitizer(limits))


def encode_records(
    records: Sequence[Record], limits: Limits, agent_name: str | None
) -> tuple[bytes, int]:
    """One JSON array of the WhyOps events of ``records``, and how many were left out.

    ``agent_name`` replaces ``"default"`` in traces that nothing named. Each record is
    encoded on its own: one that cannot be (a value ``json`` refuses) is left out, logged
    once and counted, and never costs the batch its other records.
    """
    parts: list[str] = []
    failed = 0
    safe = sanitizer(limits)
    for record in records:
        try:
            text = encode_record(record, limits, agent_name, safe)
        except Exception as exc:
            failed += 1
            warn_once(
                "encode-record",
                "whyops: a record could not be encoded as JSON (%s: %s); it is dropped and "
                "counted in the DeliveryReport",
                type(exc).__name__,
                exc,
            )
            continue
        if text:
            parts.append(text)
    return ("[" + ",".join(parts) + "]").encode(), failed


def encode_record(
    record: Record, limits: Limits, agent_name: str | None, safe: Safe | None = None
) -> str:
    """The events of one record as comma-separated JSON objects."""
    if isinstance(record, EventRecord):
        event = _manual_record_event(record, limits)
        if agent_name and event.get("agentName") == DEFAULT_AGENT_NAME:
            event["agentName"] = agent_name
        return json_text(event)
    return span_text(record, safe or sanitizer(limits), agent_name)


def manual_event(payload: Mapping[str, Any], limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """A manual event under the capture rules (JSON-safe, within limits, secrets masked).

    Never raises: a cycle or an odd object deep in one event's content must not make the
    whole batch unserialisable.
    """
    safe = to_json_safe(payload, limits)
    return safe if isinstance(safe, dict) else {"content": safe}


def _manual_record_event(record: EventRecord, limits: Limits) -> dict[str, Any]:
    """:func:`manual_event` of the record's payload, without a conversion when it is plain."""
    if record.time_ns is None and record.random_bits is None:
        payload: Mapping[str, Any] = record.draft
        if limits.redact is None and type(payload) is dict and _plain(payload, limits, 0):
            return payload.copy()
    else:
        event = complete_event(record)
        if limits.redact is None and _plain(event, limits, 0):
            return event
        payload = event
    return manual_event(payload, limits)


# Keys the trace builder writes; none of them names a secret (computed, not assumed).
_WIRE_KEYS = frozenset(
    key
    for key in [
        *("eventType", "traceId", "agentName", "spanId", "timestamp", "idempotencyKey"),
        *("content", "metadata", "stepId", "parentStepId", "externalUserId", "parentSpanId"),
        *("threadId", "messages", "role", "model", "provider", "usage", "latencyMs"),
        *("finishReason", "toolCalls", "toolResults", "requestedAt", "respondedAt", "tool"),
        *("toolName", "output", "input", "type", "thinking", "signature", "message", "status"),
        *("stack", "name", "arguments", "id", "object", "embeddingCount", "encodingFormat"),
        *("firstEmbeddingDimensions", "totalTokens", "promptTokens", "completionTokens"),
    ]
    if not is_secret_key(key)
)


def _plain(value: dict[str, Any] | list[Any], limits: Limits, depth: int) -> bool:
    """Whether ``to_json_safe`` would give back ``value`` unchanged (no redaction hook).

    The manual events of the trace builder are plain JSON: checking that is several times
    cheaper than converting them. Scalars are answered inline, without a call per item.
    """
    if depth > limits.max_depth or len(value) > limits.max_items:
        return False
    if type(value) is dict:
        if not _plain_keys(value, limits.mask_secrets):
            return False
        items: Iterable[Any] = value.values()
    else:
        items = value
    max_len, mask = limits.max_string_length, limits.mask_secrets
    for item in items:
        kind = type(item)
        if kind is str:
            size = len(item)
            if size > max_len or (mask and 8 < size < 512 and _SECRET_VALUE.fullmatch(item)):
                return False
        elif kind is int:
            if not _INT_MIN <= item <= _INT_MAX:
                return False
        elif kind is dict or kind is list:
            if not _plain(item, limits, depth + 1):
                return False
        elif not (item is None or kind is bool or (kind is float and math.isfinite(item))):
            return False
    return True


def _plain_keys(value: dict[Any, Any], mask: bool) -> bool:
    for key, item in value.items():
        if key in _WIRE_KEYS:
            continue
        if type(key) is not str or (mask and item is not None and is_secret_key(key)):
            return False
    return True
