"""What the proxy reads from a client request's headers (pure).

Trace id resolution: ``X-Trace-ID``, then ``X-Thread-ID``, then the invisible
signature in earlier assistant text, else a new ``thread_<16 chars>`` id.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import attrs
from starlette.datastructures import Headers

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


def _header(headers: Headers, name: str, limit: int) -> str | None:
    value = headers.get(name)
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > limit:
        raise HeaderError(f"Header {name} must be at most {limit} characters")
    return value


def agent_name(headers: Headers) -> str:
    name = _header(headers, "x-agent-name", MAX_NAME)
    if name is None:
        raise HeaderError("Missing required header: X-Agent-Name")
    return name


def resolve_trace(headers: Headers, signed: str | None, referenced: str | None = None) -> TraceIds:
    """Header, then signature, then the trace of a referenced answer, else a new id."""
    trace = _header(headers, "x-trace-id", MAX_ID)
    thread = _header(headers, "x-thread-id", MAX_ID)
    if trace or thread:
        return TraceIds(trace or thread or "", thread, True, "header")
    if signed and len(signed) <= MAX_ID:
        return TraceIds(signed, None, False, "signature")
    if referenced:
        return TraceIds(referenced, None, False, "reference")
    return TraceIds(new_trace_id(), None, False, "new")


def parent_span_id(headers: Headers) -> str | None:
    return _header(headers, "x-parent-span-id", MAX_ID)


def external_user_id(headers: Headers) -> str | None:
    return _header(headers, "x-external-user-id", MAX_NAME)


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


def echo_headers(ids: TraceIds, span_id: str | None) -> list[tuple[str, str]]:
    """Headers every proxy answer carries, so a client can follow its trace."""
    echoed = [("x-trace-id", ids.trace_id), ("x-thread-id", ids.thread_id or ids.trace_id)]
    if span_id:
        echoed.append(("x-span-id", span_id))
    return echoed
