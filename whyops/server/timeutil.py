"""Timestamps: parsing client ISO 8601 strings and formatting server times (UTC, ``Z``)."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")
# Years 1..9999 once converted to UTC, so every stored time formats back the same way.
_MIN_US = -62135596800 * 1_000_000
_MAX_US = 253402300799 * 1_000_000 + 999_999


def format_us(ts_us: int) -> str:
    """Epoch microseconds as ``2026-11-27T07:03:48.123456Z``."""
    seconds, micros = divmod(ts_us, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


def now_us() -> int:
    return time.time_ns() // 1000


def now_iso() -> str:
    return format_us(now_us())


def parse_timestamp(text: str) -> tuple[str, int] | None:
    """``(normalized UTC text, epoch µs)`` for an ISO 8601 time with ``Z`` or an offset.

    WhyOps only takes ``Z``; offsets are accepted too and converted to UTC. Times without a
    zone are refused (their meaning depends on the sender's clock settings).
    """
    if not 10 <= len(text) <= 64 or not text[:4].isdigit():
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None or "T" not in text.upper():
        return None
    try:
        ts_us = (parsed - _EPOCH) // _MICROSECOND
    except OverflowError:
        return None
    if not _MIN_US <= ts_us <= _MAX_US:
        return None
    if text[-1] == "Z" and text[10] == "T" and _CANONICAL.fullmatch(text):
        return text, ts_us
    return format_us(ts_us), ts_us
