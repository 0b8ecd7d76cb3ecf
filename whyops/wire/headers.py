"""The trace headers, written once: their names and what an outgoing call carries.

Pure, so every side can import it: the SDK's proxied provider calls
(``whyops/client/_hooks.py``) and its service-to-service calls
(``whyops/integrations/httpx.py``) add headers by :func:`add_trace_headers`; the SDK's
middleware reads them back (``whyops/integrations/_propagation.py``); the proxy reads
``X-Agent-Name`` and the same trace headers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from urllib.parse import unquote

__all__ = [
    "AGENT_NAME",
    "EXTERNAL_USER_ID",
    "PARENT_SPAN_ID",
    "THREAD_ID",
    "TRACEPARENT",
    "TRACE_ID",
    "add_trace_headers",
    "configured_header",
    "outgoing_headers",
]

TRACE_ID = "X-Trace-ID"
#: An alias of the trace id in WhyOps, or the conversation a trace belongs to.
THREAD_ID = "X-Thread-ID"
PARENT_SPAN_ID = "X-Parent-Span-ID"
EXTERNAL_USER_ID = "X-External-User-Id"
#: The agent a proxied model call is recorded under.
AGENT_NAME = "X-Agent-Name"
#: W3C trace context: only for 32-hex trace ids, so a service that speaks W3C alone joins.
TRACEPARENT = "traceparent"

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 header name
_W3C_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_ZERO_TRACE_ID = "0" * 32


def outgoing_headers(
    trace_id: str | None,
    span_id: str | None,
    *,
    thread_id: str | None = None,
    external_user_id: str | None = None,
) -> dict[str, str]:
    """The headers that carry a trace to another service (empty without a trace)."""
    if not trace_id:
        return {}
    headers = {TRACE_ID: trace_id, THREAD_ID: thread_id or trace_id}
    if span_id:
        headers[PARENT_SPAN_ID] = span_id
        # W3C only fits 32-hex trace ids; other ids travel in the WhyOps headers alone.
        if _W3C_TRACE_ID.fullmatch(trace_id) and trace_id != _ZERO_TRACE_ID:
            headers[TRACEPARENT] = f"00-{trace_id}-{span_id}-01"
    if external_user_id:
        headers[EXTERNAL_USER_ID] = external_user_id
    return headers


def add_trace_headers(headers: MutableMapping[str, str], wanted: Mapping[str, str]) -> None:
    """Add the ``wanted`` headers (from :func:`outgoing_headers`) that ``headers`` lacks.

    ``headers`` must look names up case-insensitively (httpx's ``Headers`` do). Headers the
    caller set win. A caller that named the trace (``X-Trace-ID`` or ``X-Thread-ID``) keeps
    its trace and thread ids; when that is not the wanted trace, nothing is added at all:
    the ambient span and user belong to another trace.
    """
    if not wanted:
        return
    explicit = headers.get(TRACE_ID) or headers.get(THREAD_ID)
    if explicit is not None and explicit != wanted[TRACE_ID]:
        return
    for name, value in wanted.items():
        if name not in headers and (explicit is None or name not in (TRACE_ID, THREAD_ID)):
            headers[name] = value


def configured_header(item: str, where: str) -> tuple[str, str]:
    """One ``name=value`` header an operator configures (an ``OTEL_EXPORTER_OTLP_HEADERS``
    item, an ``--otlp-export-header``), name and value percent-decoded.

    A header HTTP cannot carry is refused here, naming ``where``: sent, it would fail every
    request, and so lose every span, later."""
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"{where}: {item.strip()!r} is not name=value")
    name, value = unquote(name.strip()), unquote(value.strip())
    if not (_TOKEN.fullmatch(name) and value.isascii() and value.isprintable()):
        raise ValueError(f"{where}: header {name!r} needs a token name and a printable ASCII value")
    return name, value
