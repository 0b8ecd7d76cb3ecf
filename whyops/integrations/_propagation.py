"""Trace headers between services: what a request carries in, what a call carries out.

Pure functions only. Incoming: the WhyOps headers (``X-Trace-ID``, ``X-Thread-ID``,
``X-Parent-Span-ID``, ``X-External-User-Id``) and W3C ``traceparent``, parsed here. The
names and the outgoing rules live in :mod:`whyops.wire.headers`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

import attrs

from whyops._ids import ID_PATTERN
from whyops.wire.headers import EXTERNAL_USER_ID, PARENT_SPAN_ID, THREAD_ID, TRACE_ID, TRACEPARENT

#: Header names, lowercased, that this module reads and writes.
HEADER_NAMES = tuple(h.lower() for h in (TRACE_ID, THREAD_ID, PARENT_SPAN_ID, EXTERNAL_USER_ID))

# Ids that break the WhyOps id rule (1-128 printable characters, no spaces) are ignored.
_ID = ID_PATTERN
_SPAN_ID = re.compile(r"[0-9a-f]{16}")
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")


@attrs.frozen(slots=True)
class RemoteContext:
    """The trace a request belongs to, as its caller described it (all optional)."""

    trace_id: str | None = None
    thread_id: str | None = None
    parent_span_id: str | None = None
    external_user_id: str | None = None


def _clean_id(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value if _ID.fullmatch(value) else None


def _clean_span_id(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    return value if _SPAN_ID.fullmatch(value) and value != "0" * 16 else None


def parse_traceparent(value: str | None) -> tuple[str, str] | None:
    """``(trace_id, parent_id)`` from a W3C ``traceparent`` value, or None when invalid."""
    if not value:
        return None
    match = _TRACEPARENT.fullmatch(value.strip().lower())
    if match is None:
        return None
    version, trace_id, parent_id, _flags, rest = match.groups()
    # Version 00 has exactly four fields; ff is forbidden; later versions may append more.
    if version == "ff" or (version == "00" and rest):
        return None
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return trace_id, parent_id


def extract(get: Callable[[str], str | None]) -> RemoteContext:
    """Read the remote context through ``get(lowercase_header_name)``.

    ``X-Trace-ID`` wins over ``X-Thread-ID`` (an alias in WhyOps), which wins over
    ``traceparent``. The parent span comes from ``X-Parent-Span-ID``, else from
    ``traceparent`` when that header names the same trace. Malformed values are ignored.
    """
    explicit_trace = _clean_id(get(TRACE_ID.lower()))
    thread_id = _clean_id(get(THREAD_ID.lower()))
    w3c = parse_traceparent(get(TRACEPARENT))
    trace_id = explicit_trace or thread_id or (w3c[0] if w3c else None)
    parent = _clean_span_id(get(PARENT_SPAN_ID.lower()))
    if parent is None and w3c is not None and w3c[0] == trace_id:
        parent = w3c[1]
    if trace_id is None:
        parent = None
    return RemoteContext(
        trace_id=trace_id,
        thread_id=thread_id if thread_id != trace_id else None,
        parent_span_id=parent,
        external_user_id=_clean_id(get(EXTERNAL_USER_ID.lower())),
    )


def extract_from_pairs(pairs: Iterable[tuple[bytes, bytes]]) -> RemoteContext:
    """Remote context from ASGI-style ``(name, value)`` byte pairs."""
    wanted = {*HEADER_NAMES, TRACEPARENT}
    found: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        name = raw_name.decode("latin-1").lower()
        if name in wanted and name not in found:
            found[name] = raw_value.decode("latin-1")
    return extract(found.get)


def extract_from_environ(environ: Mapping[str, object]) -> RemoteContext:
    """Remote context from a WSGI environ (``HTTP_X_TRACE_ID`` and friends)."""

    def get(name: str) -> str | None:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"))
        return value if isinstance(value, str) else None

    return extract(get)
