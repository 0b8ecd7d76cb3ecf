"""``Retry-After`` (RFC 9110 §10.2.3) as seconds: read once for every HTTP client whyops runs
(the SDK's exporters, the server's OTLP forwarder), so they honour a server's wish alike."""

from __future__ import annotations

import email.utils
import math
import time
from datetime import timezone


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait (0 or more) for ``delay-seconds`` or an ``HTTP-date``; None when the
    value is absent or unreadable (the caller's own backoff applies). ``now``: epoch seconds."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        return _until_date(value, time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _until_date(value: str, now: float) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):  # which one depends on the Python version
        return None
    if when.tzinfo is None:  # "-0000": an HTTP-date is always GMT, never local time
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)
