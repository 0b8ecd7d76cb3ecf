"""Which OTLP spans are refused, and the reason given for each (docs/otlp.md, "Rejected spans").

A reason names its span (``span 0123456789abcdef (chat gpt-4o): …``) and the field at fault.
The checks read the OTLP/JSON dict defensively: any shape, however odd, gives a reason, never
an exception.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from whyops.otlp.attributes import MAX_DEPTH, value_depth
from whyops.otlp.inbound_values import listed

#: Attributes a span (or one of its events) may carry.
MAX_ATTRIBUTES = 1024
#: The latest time an event can carry (the last nanosecond of year 9999).
MAX_TIME_NS = 253_402_300_799_999_999_999
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_SPAN_ID = re.compile(r"[0-9a-f]{16}")
#: The AnyValue kinds that hold others (the first key of an AnyValue says its kind).
_NESTING = frozenset({"arrayValue", "kvlistValue"})


def label(span: Any) -> str:
    """``span 0123456789abcdef (chat gpt-4)``: how a reason names its span."""
    if not isinstance(span, dict):
        return "span (not an object)"
    span_id = span.get("spanId")
    shown = span_id[:32] if isinstance(span_id, str) and span_id else "?"
    span_name = span.get("name")
    named = f" ({span_name[:64]})" if isinstance(span_name, str) and span_name else ""
    return f"span {shown}{named}"


def _key(kv: Mapping[str, Any]) -> str:
    key = kv.get("key")
    return repr(key[:64]) if isinstance(key, str) else "(no key)"


def _kv_problem(kvs: Any, where: str) -> str | None:
    if kvs is None:
        return None
    if not isinstance(kvs, list) or not all(isinstance(kv, dict) for kv in kvs):
        return f"{where} must be a list of key-value pairs"
    if len(kvs) > MAX_ATTRIBUTES:
        return f"{where} has {len(kvs)} attributes (at most {MAX_ATTRIBUTES})"
    for kv in kvs:
        value = kv.get("value")
        if value is not None and not isinstance(value, dict):
            return f"{where} {_key(kv)} is not an AnyValue"
        if not value or next(iter(value)) not in _NESTING:
            continue  # a scalar: one level deep
        try:
            depth = value_depth(value)
        except RecursionError:
            depth = MAX_DEPTH + 1
        except (AttributeError, TypeError, StopIteration):  # a value inside is not an AnyValue
            return f"{where} {_key(kv)} is not an AnyValue"
        if depth > MAX_DEPTH:
            return f"{where} {_key(kv)} nests deeper than {MAX_DEPTH} levels"
    return None


def _id_problem(span: Mapping[str, Any]) -> str | None:
    trace_id, span_id, parent = span.get("traceId"), span.get("spanId"), span.get("parentSpanId")
    if not isinstance(trace_id, str) or not _TRACE_ID.fullmatch(trace_id) or not int(trace_id, 16):
        return "traceId must be 32 hex characters, not all zero"
    if not isinstance(span_id, str) or not _SPAN_ID.fullmatch(span_id) or not int(span_id, 16):
        return "spanId must be 16 hex characters, not all zero"
    if parent not in (None, "") and not (isinstance(parent, str) and _SPAN_ID.fullmatch(parent)):
        return "parentSpanId must be 16 hex characters or empty"
    return None


def _time_problem(span: Mapping[str, Any]) -> str | None:
    times: list[int] = []
    for field in ("startTimeUnixNano", "endTimeUnixNano"):
        value = span.get(field)
        if type(value) is not int or not 0 < value <= MAX_TIME_NS:
            return f"{field} must be a time after 1970 and before year 10000"
        times.append(value)
    if times[1] < times[0]:
        return "endTimeUnixNano is before startTimeUnixNano"
    return None


def problem_of(span: Any) -> str | None:
    """Why a span cannot be taken, or None."""
    if not isinstance(span, dict):
        return "must be an object"
    problem = _id_problem(span) or _time_problem(span)
    if problem is None:
        problem = _kv_problem(span.get("attributes"), "attribute")
    for index, event in enumerate(listed(span.get("events"))):
        if problem is None:
            kvs = event.get("attributes") if isinstance(event, dict) else []
            problem = _kv_problem(kvs, f"events[{index}] attribute")
    return problem
