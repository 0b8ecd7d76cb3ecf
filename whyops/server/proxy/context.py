"""What the proxy reads from a client request's headers (pure).

Trace id resolution: ``X-Trace-ID``, then ``X-Thread-ID``, then the invisible
signature in earlier assistant text, else a new ``thread_<16 chars>`` id.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import attrs
from starlette.datastructures import Headers

from whyops.server.headers import header_text
from whyops.server.proxy.events import new_trace_id

MAX_ID = 128
MAX_NAME = 255
MAX_REFS = 32


class HeaderError(ValueError):
    """A request header the proxy cannot accept; the message names the header."""


@attrs.frozen(slots=True)
class TraceIds:
    trace_id: str
    thread_id: str | None
    from_header: bool
    source: str  # "header" | "signature" | "reference" | "new"


def _has_control(value: str) -> bool:
    return any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in value)


def _header(headers: Headers, name: str, label: str, limit: int) -> str | None:
    value = header_text(headers, name)
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > limit:
        raise HeaderError(f"Header {label} must be at most {limit} characters")
    if _has_control(value):
        raise HeaderError(f"Header {label} must not contain control characters")
    return value


@attrs.frozen(slots=True)
class ProxyHeaders:
    """The WhyOps headers of one proxied request, validated."""

    agent_name: str | None
    trace_id: str | None
    thread_id: str | None
    parent_span_id: str | None
    external_user_id: str | None


def read_headers(headers: Headers, *, agent_required: bool) -> ProxyHeaders:
    """Every WhyOps header the proxy reads; :class:`HeaderError` names the first bad one."""
    agent = _header(headers, "x-agent-name", "X-Agent-Name", MAX_NAME)
    if agent is None and agent_required:
        raise HeaderError("Missing required header: X-Agent-Name")
    return ProxyHeaders(
        agent_name=agent,
        trace_id=_header(headers, "x-trace-id", "X-Trace-ID", MAX_ID),
        thread_id=_header(headers, "x-thread-id", "X-Thread-ID", MAX_ID),
        parent_span_id=_header(headers, "x-parent-span-id", "X-Parent-Span-ID", MAX_ID),
        external_user_id=_header(headers, "x-external-user-id", "X-External-User-Id", MAX_NAME),
    )


def resolve_trace(
    headers: ProxyHeaders, signed: str | None, referenced: str | None = None
) -> TraceIds:
    """Header, then signature, then the trace of a referenced answer, else a new id."""
    trace, thread = headers.trace_id, headers.thread_id
    if trace or thread:
        return TraceIds(trace or thread or "", thread, True, "header")
    if signed and len(signed) <= MAX_ID:
        return TraceIds(signed, None, False, "signature")
    if referenced:
        return TraceIds(referenced, None, False, "reference")
    return TraceIds(new_trace_id(), None, False, "new")


class AnswerIndex:
    """The trace of earlier answers and tool calls by id, per project (bounded LRU).

    Some turns carry no signed text: Responses clients continue with
    ``previous_response_id`` instead of sending the history back, and a turn
    that only calls tools has no text to sign. The ids such requests refer to
    (the previous response, the tool calls being answered) lead to the trace.
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._traces: OrderedDict[tuple[str, str], str] = OrderedDict()

    def remember(self, project_id: str, answer_id: str, trace_id: str) -> None:
        self._traces[(project_id, answer_id)] = trace_id
        self._traces.move_to_end((project_id, answer_id))
        if len(self._traces) > self.capacity:
            self._traces.popitem(last=False)

    def lookup(self, project_id: str, refs: list[str]) -> str | None:
        """The trace of the first of ``refs`` (latest first) that is known."""
        for ref in refs[:MAX_REFS]:
            trace = self._traces.get((project_id, ref))
            if trace is not None:
                return trace
        return None


def answer_index(app: Any) -> AnswerIndex:
    index: AnswerIndex | None = getattr(app.state, "proxy_answer_index", None)
    if index is None:
        index = app.state.proxy_answer_index = AnswerIndex()
    return index


def echo_headers(ids: TraceIds, span_id: str | None) -> list[tuple[bytes, bytes]]:
    """Headers every proxy answer carries, so a client can follow its trace (UTF-8 values)."""
    echoed = [
        (b"x-trace-id", ids.trace_id.encode()),
        (b"x-thread-id", (ids.thread_id or ids.trace_id).encode()),
    ]
    if span_id:
        echoed.append((b"x-span-id", span_id.encode()))
    return echoed
