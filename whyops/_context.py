"""Ambient state in ``contextvars``: the current trace, the current span, suppression.

asyncio tasks copy the context when they are created, so a task inherits the trace and
span that were current where it was started. Threads start empty; see
:func:`whyops.propagate` and the thread-pool patch in ``whyops._threads``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar

from whyops._ids import ID_PATTERN, new_trace_id

if TYPE_CHECKING:
    from whyops._span import Span

__all__ = [
    "AsyncWith",
    "TraceContext",
    "current_span",
    "current_trace",
    "current_trace_id",
    "is_suppressed",
    "suppressed",
    "trace_context",
]

_Entered = TypeVar("_Entered")


class AsyncWith(Generic[_Entered]):
    """``async with`` for a ``with`` block that does no I/O: one code path for both."""

    __slots__ = ()

    def __enter__(self) -> _Entered:
        raise NotImplementedError

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> _Entered:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class TraceContext(NamedTuple):
    """The trace a piece of work belongs to, and who it is for (immutable)."""

    trace_id: str
    thread_id: str | None = None
    external_user_id: str | None = None
    agent_name: str | None = None
    #: The span (in another service) that root spans of this context are children of.
    parent_span_id: str | None = None


_SPAN_ID = re.compile(r"[0-9a-f]{16}")

TRACE: ContextVar[TraceContext | None] = ContextVar("whyops_trace", default=None)
SPAN: ContextVar[Span | None] = ContextVar("whyops_span", default=None)
SUPPRESS: ContextVar[bool] = ContextVar("whyops_suppress", default=False)


def _nothing() -> object:
    return None


#: Run when a trace opens: the tracer's first-use set-up (``Tracer.settle``), installed by
#: the tracer module (which imports this one).
first_use: Callable[[], object] = _nothing


def current_trace() -> TraceContext | None:
    """The ambient trace, or None outside any trace."""
    return TRACE.get()


def current_trace_id() -> str | None:
    """The ambient trace id, or None outside any trace."""
    trace = TRACE.get()
    return None if trace is None else trace.trace_id


def current_span() -> Span | None:
    """The innermost live span of this context, or None."""
    return SPAN.get()


def is_suppressed() -> bool:
    """True while whyops exports (its own HTTP calls must not be traced)."""
    return SUPPRESS.get()


@contextmanager
def suppressed() -> Iterator[None]:
    """Turn tracing and header propagation off for the block."""
    token = SUPPRESS.set(True)
    try:
        yield
    finally:
        SUPPRESS.reset(token)


def _check_id(field: str, value: object) -> None:
    if value is not None and not (isinstance(value, str) and ID_PATTERN.fullmatch(value)):
        raise ValueError(
            f"trace_context: {field} must be 1-128 printable characters without spaces, "
            f"got {value!r}"
        )


def _check_name(field: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not 1 <= len(value) <= 255 or not value.isprintable():
        raise ValueError(
            f"trace_context: {field} must be a printable string of 1-255 characters, got {value!r}"
        )


@contextmanager
def trace_context(
    trace_id: str | None = None,
    thread_id: str | None = None,
    external_user_id: str | None = None,
    agent_name: str | None = None,
    parent_span_id: str | None = None,
) -> Iterator[TraceContext]:
    """Run a block inside a trace (new or given), inheriting what is not given.

    Fields left out keep the ambient trace's values. A different ``trace_id`` starts a new
    tree: spans opened in the block are roots of that trace, not children of the span that
    was current outside it. ``parent_span_id`` (16 hex characters) names a span in another
    service: the block's root spans become its children (for incoming requests).
    """
    _check_id("trace_id", trace_id)
    _check_id("thread_id", thread_id)
    _check_name("external_user_id", external_user_id)
    _check_name("agent_name", agent_name)
    if parent_span_id is not None and not _SPAN_ID.fullmatch(str(parent_span_id)):
        raise ValueError("trace_context: parent_span_id must be 16 lowercase hex characters")
    first_use()
    outer = TRACE.get()
    base = outer or TraceContext(trace_id=trace_id or new_trace_id())
    same_trace = trace_id is None or trace_id == base.trace_id
    new = TraceContext(
        trace_id=trace_id or base.trace_id,
        thread_id=thread_id or base.thread_id,
        external_user_id=external_user_id or base.external_user_id,
        agent_name=agent_name or base.agent_name,
        parent_span_id=parent_span_id or (base.parent_span_id if same_trace else None),
    )
    trace_token = TRACE.set(new)
    span_token = SPAN.set(None) if outer is None or outer.trace_id != new.trace_id else None
    try:
        yield new
    finally:
        if span_token is not None:
            SPAN.reset(span_token)
        TRACE.reset(trace_token)
