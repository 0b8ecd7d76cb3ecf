"""Timestamps: parsing client ISO 8601 strings and formatting server times (UTC, ``Z``)."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta, timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_MICROSECOND = timedelta(microseconds=1)
_CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")
# Years 1..9999 once converted to UTC, so every stored time formats back the same way.
_MIN_US = -62135596800 * 1_000_000
_MAX_US = 253402300799 * 1_000_000 + 999_999
# The common shape, ``YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z``: whole seconds (ASCII digits only) are
# parsed once and remembered, as a batch's events mostly share their second.
_SECOND = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")
_SECONDS: dict[str, int] = {}
_MAX_CACHED_SECONDS = 4096


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
    common = _common_us(text)
    if common is not None:
        return text, common
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


def _common_us(text: str) -> int | None:
    """Epoch µs of a canonical UTC time (already in stored form); None: any other text."""
    head = text[:19]
    start = _SECONDS.get(head)
    if start is None:
        start = _second_us(head)
        if start is None:
            return None
        if len(_SECONDS) >= _MAX_CACHED_SECONDS:
            _SECONDS.clear()
        _SECONDS[head] = start
    tail = text[19:]
    if tail == "Z":
        return start
    fraction = tail[1:-1]
    if tail[:1] != "." or tail[-1] != "Z" or not 0 < len(fraction) <= 6:
        return None
    if not (fraction.isascii() and fraction.isdigit()):
        return None
    return start + int(fraction.ljust(6, "0"))


def _second_us(head: str) -> int | None:
    if _SECOND.fullmatch(head) is None:
        return None
    hour, minute, second = int(head[11:13]), int(head[14:16]), int(head[17:19])
    if hour > 23 or minute > 59 or second > 59:
        return None
    try:
        day = date(int(head[:4]), int(head[5:7]), int(head[8:10])).toordinal() - _EPOCH_DAY
    except ValueError:  # no such day (February 30th, year 0)
        return None
    return (((day * 24 + hour) * 60 + minute) * 60 + second) * 1_000_000
