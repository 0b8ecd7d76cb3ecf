"""Typed columns derived from a valid event's content and metadata, for the read paths.

Lenient by design: a value of the wrong type or out of range is simply not counted; the event
itself was already accepted by validation.
"""

from __future__ import annotations

from typing import Any

from whyops.server.store.rows import EventRow
from whyops.wire.events import EventType
from whyops.wire.usage import MAX_TOKENS, USAGE_KEYS

# usage key -> (column, the key that wins over it when present: WhyOps' `a || b`); the
# columns are named as the counts of wire.usage.USAGE_KEYS.
_USAGE_KEYS: dict[str, tuple[str, str | None]] = {
    key: (column, None if key == keys[0] else keys[0])
    for column, keys in USAGE_KEYS
    for key in keys
}


def extract_columns(row: EventRow, content: Any, metadata: dict[str, Any] | None) -> None:
    """Fill ``row``'s finish reason, error flags, model, provider, latency and tokens."""
    is_error_type = row.event_type == EventType.ERROR
    if type(content) is dict:
        row.finish_reason = _short_string(content.get("finishReason"))
        origin = content.get("originSpanId")
        row.error_echo = is_error_type and isinstance(origin, str) and bool(origin)
    if not metadata:
        row.is_error = is_error_type
        return
    get = metadata.get
    row.model = _short_string(get("model"))
    row.provider = _short_string(get("provider"))
    latency = get("latencyMs")
    if isinstance(latency, (int, float)) and type(latency) is not bool and latency >= 0:
        row.latency_ms = float(min(latency, 1e15))
    usage = get("usage")
    if type(usage) is dict and usage:
        _usage_columns(row, usage)
    row.is_error = is_error_type or get("status") == "error"


def _usage_columns(row: EventRow, usage: dict[str, Any]) -> None:
    """Token columns from ``metadata.usage``, in one pass over its keys."""
    for key, value in usage.items():
        target = _USAGE_KEYS.get(key)
        if target is None or type(value) is not int or not 0 <= value <= MAX_TOKENS:
            continue
        column, main = target
        if main is None or usage.get(main) is None:
            setattr(row, column, value)
    if row.cache_creation_tokens is None and (
        row.cache_write_5m_tokens is not None or row.cache_write_1h_tokens is not None
    ):  # the cache writes given only split by lifetime
        row.cache_creation_tokens = _sum_tokens(usage, "cacheWrite5mTokens", "cacheWrite1hTokens")


def _short_string(value: Any) -> str | None:
    return value if type(value) is str and 0 < len(value) <= 255 else None


def _tokens(usage: dict[str, Any], name: str) -> int | None:
    value = usage.get(name)
    if type(value) is int and 0 <= value <= MAX_TOKENS:  # not bool, a subclass of int
        return value
    return None


def _sum_tokens(usage: dict[str, Any], *names: str) -> int | None:
    values = [_tokens(usage, name) for name in names]
    present = [v for v in values if v is not None]
    return sum(present) if present else None
