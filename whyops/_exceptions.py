"""What a span records of the exception that ended it.

An exception is recorded in full (with its traceback) only by the span it was raised in;
each enclosing span it propagates through records its type and message and points at that
span (``origin_span_id``), so a trace holds one traceback per exception.
"""

from __future__ import annotations

import traceback
from types import TracebackType

from whyops.models import ExceptionInfo

__all__ = ["exception_info"]

# Set on the exception by the span that recorded it in full: (trace id, span id).
_ORIGIN_ATTR = "__whyops_origin__"


def exception_info(
    exc: BaseException, tb: TracebackType | None, trace_id: str, span_id: str
) -> ExceptionInfo:
    """The record of ``exc`` for span ``span_id`` of ``trace_id``; never raises."""
    name = type(exc).__qualname__
    message = _safe_str(exc)
    origin = getattr(exc, _ORIGIN_ATTR, None)
    if isinstance(origin, tuple) and len(origin) == 2 and origin[0] == trace_id:
        return ExceptionInfo(name, message, "", origin_span_id=origin[1])
    try:
        text = "".join(traceback.format_exception(type(exc), exc, tb))
    except Exception:
        text = ""
    try:
        setattr(exc, _ORIGIN_ATTR, (trace_id, span_id))
    except Exception:
        pass  # exceptions without a __dict__: every enclosing span records it in full
    return ExceptionInfo(name, message, text)


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return f"<unprintable {type(exc).__qualname__}>"
