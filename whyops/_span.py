"""The live span: mutable, owned by the code it traces, frozen into a record at its end.

A span does no I/O. Starting it reads the ambient context, draws an id and reads two
clocks; ending it reads one clock and hands the finished span to the tracer, whose
processors freeze it into a :class:`~whyops.wire.records.SpanRecord` (off the caller's thread
when batching). Once ended, a span ignores further changes.

Its public surface is what docs/core.md documents (ids, name, kind, ``approx_bytes``, the
``set_*``/``record_*`` calls and ``with``). The lifecycle (``_start``, ``_activate``,
``_deactivate``, ``_end``, ``_to_record``) and the recorded values belong to whyops: the
decorators, ``_iterate`` (generators), the request middleware and the processors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import Token
from random import getrandbits
from time import perf_counter_ns, time_ns
from types import TracebackType
from typing import Any

import attrs

from whyops._context import SPAN, SUPPRESS, TRACE, AsyncWith, TraceContext
from whyops._exception_capture import PendingException, exception_info
from whyops._ids import new_trace_id
from whyops._internal_errors import warn_once
from whyops._providers import add_usage, extract, usage_from
from whyops._snapshot import freeze, type_name
from whyops._tracer import TRACER
from whyops.wire.records import (
    ExceptionInfo,
    SpanKind,
    SpanRecord,
    Status,
    ThinkingBlock,
    TokenUsage,
)

__all__ = ["NOOP_SPAN", "AsyncWith", "Span"]

_NEW, _LIVE, _ENDED, _NOOP = 0, 1, 2, 3
_AGENT = SpanKind.AGENT
# Only these spans read provider facts (usage, model, thinking) off what they return: a
# tool's return value is the tool's business, and reading it could run its properties.
_LLM, _EMBEDDING = SpanKind.LLM, SpanKind.EMBEDDING
# Values kept as they are: immutable and small, so a snapshot would only cost time.
_SMALL = frozenset({type(None), bool, int, float})
# A span's own fields (ids, name, times, a few small values) in an estimate of the memory
# it holds: numbers and the like are not counted one by one.
_SPAN_BYTES = 512
# The trace of a span that has not started (or never will: tracing off).
_NO_TRACE = TraceContext("")

# In a child process, when it was forked (perf_counter_ns, which fork does not reset): a
# span started before (open in the parent when it forked) is the parent's to end and
# export, never the child's. Comparing start times costs the hot path no extra store.
_forked_at = 0


def _after_fork_in_child() -> None:
    global _forked_at
    _forked_at = perf_counter_ns()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Span(AsyncWith["Span"]):
    """One traced operation. See the ``Span`` section of docs/core.md."""

    # No __slots__: what a span may never set (most of what it records, and its place in
    # the tree before it starts) lives in class-level defaults, so a new span only stores
    # what every span has (measurably cheaper than filling twenty slots).
    _thinking: list[ThinkingBlock] | None = None
    _usage: TokenUsage | None = None
    _model: str | None = None
    _provider: str | None = None
    _exception: ExceptionInfo | PendingException | None = None
    _status = Status.OK
    _output: Any = None
    _has_output = False
    _trace = _NO_TRACE
    _owns_trace = False
    _parent: Span | None = None
    _sid = 0
    _parent_sid = 0
    _span_token: Token[Span | None] | None = None
    _trace_token: Token[TraceContext | None] | None = None
    _start_ns: int
    _end_ns: int
    _duration_ns: int
    _start_perf: int

    def __init__(
        self,
        name: str,
        kind: SpanKind = SpanKind.SPAN,
        inputs: Mapping[str, Any] | None = None,
        attributes: Mapping[str, Any] | None = None,
        capture_output: bool = True,
    ) -> None:
        self.name = name
        self.kind = kind
        self._inputs = inputs
        self._attributes: dict[str, Any] | None = dict(attributes) if attributes else None
        self._capture_output = capture_output
        self._state = _NEW
        # These two are read on every exit and every submit, and an instance attribute is
        # read several times faster than a class-level default.
        #: ``with`` blocks entered on this span while it was already live: each one
        #: leaves without ending it (see ``_start_again``).
        self._reentries = 0
        #: A cheap estimate of the memory the span holds, its captured values included
        #: (cut to the limits when captured): what the export queue's byte budget counts.
        self.approx_bytes = _SPAN_BYTES

    # -- identity ---------------------------------------------------------------------

    @property
    def span_id(self) -> str:
        """16 hex characters ("" before the span starts)."""
        return f"{self._sid:016x}" if self._sid else ""

    @property
    def parent_span_id(self) -> str | None:
        return f"{self._parent_sid:016x}" if self._parent_sid else None

    @property
    def trace_id(self) -> str:
        return self._trace.trace_id  # "" before the span starts

    @property
    def _recording(self) -> bool:
        """True while the span is live and will be exported."""
        return self._state == _LIVE

    def __repr__(self) -> str:
        return f"<Span {self.kind.value} {self.name!r} {self.span_id or '-'}>"

    # -- lifecycle --------------------------------------------------------------------

    def __enter__(self) -> Span:
        if self._start():
            self._activate()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state != _LIVE:
            return
        if self._reentries:
            self._reentries -= 1  # a block entered again on the live span: not its end
            return
        self._deactivate()
        self._end(exc, tb)

    def _start(self) -> bool:
        """Give the span its place in the tree and its start time, once; True if it records.

        The context is untouched (see :meth:`_activate`).
        """
        if self._state or SUPPRESS.get():  # not new (_NEW is 0), or whyops is exporting
            if self._state:
                self._start_again()
            else:
                self._state = _NOOP
            return False
        parent = SPAN.get()
        ambient = TRACE.get()
        if ambient is None:
            agent = self.name if self.kind is _AGENT else TRACER.config.agent_name
            trace = TraceContext(new_trace_id(), agent_name=agent)
        # An unnamed trace may get its agent here; not from a child of a span that left
        # this very context unnamed (unless the child is an agent).
        elif ambient.agent_name is None and (
            parent is None or self.kind is _AGENT or parent._trace is not ambient
        ):
            trace = self._name_trace(ambient, parent)
        else:
            trace = ambient
        # Every span stores the same attributes in the same order, roots and children
        # alike, so instances keep CPython's shared key layout.
        self._trace = trace
        self._owns_trace = trace is not ambient
        self._parent = parent
        if parent is not None:
            self._parent_sid = parent._sid
        elif trace.parent_span_id is not None:
            self._parent_sid = int(trace.parent_span_id, 16)
        else:
            self._parent_sid = 0
        self._sid = getrandbits(64) or 1
        self._state = _LIVE
        self._start_ns = time_ns()
        self._start_perf = perf_counter_ns()
        return True

    def _start_again(self) -> None:
        """A span starts once: its id stays, so the spans below it keep their parent.

        Entering a live span again (``with current_span():``) changes nothing, and the
        end of that block does not end it. An ended span stays ended.
        """
        if self._state == _NOOP:
            return
        if self._state == _LIVE:
            self._reentries += 1
        warn_once(
            "span-started-again",
            "whyops: span %r was started again; a span starts once (ignored)",
            self.name,
        )

    def _name_trace(self, trace: TraceContext, parent: Span | None) -> TraceContext:
        """Give a trace that no context named its agent (see "Agent names" in docs/core.md).

        A root span names it: an agent by its own name, any other span by the configured
        name. Below a root that left it unnamed (a request span), the first agent span
        names it, for itself, its open ancestors and everything that starts later.
        """
        if parent is None or parent._trace.trace_id != trace.trace_id:
            agent = self.name if self.kind is _AGENT else TRACER.config.agent_name
        else:
            agent = parent._trace.agent_name
            if agent is None and self.kind is _AGENT:
                agent = self.name
                parent._adopt_agent(agent)
        return trace if agent is None else trace._replace(agent_name=agent)

    def _adopt_agent(self, agent: str) -> None:
        trace_id = self._trace.trace_id
        span: Span | None = self
        while span is not None and span._state == _LIVE and span._trace.trace_id == trace_id:
            if span._trace.agent_name is not None:
                return
            span._trace = span._trace._replace(agent_name=agent)
            span = span._parent

    def _activate(self) -> None:
        """Make this span (and its trace, when it started one) current in this context."""
        self._span_token = SPAN.set(self)
        self._trace_token = TRACE.set(self._trace) if self._owns_trace else None

    def _deactivate(self) -> None:
        """Undo :meth:`_activate`; the tokens are dropped, so no ended span holds one."""
        span_token, trace_token = self._span_token, self._trace_token
        self._span_token = self._trace_token = None
        try:
            if span_token is not None:
                SPAN.reset(span_token)
            if trace_token is not None:
                TRACE.reset(trace_token)
        except ValueError:
            # Entered in one context and left in another (a ``with`` spread over two
            # tasks): the span still ends; the other context's state is not ours to fix.
            pass

    def _end(self, exc: BaseException | None = None, tb: TracebackType | None = None) -> None:
        """Stop the clock, record ``exc`` if any, and hand the span to the tracer."""
        if self._state != _LIVE:
            return
        if self._start_perf < _forked_at:
            self._state = _ENDED  # inherited across fork: the parent process ends it
            return
        duration = perf_counter_ns() - self._start_perf
        self._duration_ns = duration
        self._end_ns = self._start_ns + duration
        if exc is not None:
            self._record_exception(exc, tb)
        self._state = _ENDED
        TRACER.on_end(self)

    # -- what happened ----------------------------------------------------------------

    def _set_result(self, value: Any) -> Any:
        """Record a returned value (if output capture is on) and what it says; return it."""
        if self._state != _LIVE:
            return value
        if self._capture_output and TRACER.capture_outputs:
            self._output = value if type(value) in _SMALL else self._keep(value)
            self._has_output = True
        kind = self.kind
        if kind is _LLM or kind is _EMBEDDING:  # identity: an Enum's __hash__ is Python
            self._absorb(value)
        return value

    def _keep(self, value: Any) -> Any:
        """``value`` frozen within the limits (see ``whyops._snapshot``), its size counted."""
        kind = type(value)
        if kind in _SMALL:
            return value  # counted in the span's own bytes
        limits = TRACER.config.limits
        if kind is str and len(value) <= limits.max_string_length:
            self.approx_bytes += len(value)
            return value
        kept, held = freeze(value, limits)
        self.approx_bytes += held
        return kept

    def _absorb(self, value: Any) -> None:
        try:
            facts = extract(value)
        except BaseException:  # the value's own code raising: not the caller's concern
            return
        if facts is None:
            return
        if facts.usage is not None and self._usage is None:
            self._usage = facts.usage
        if facts.thinking:
            self._thinking = [*(self._thinking or ()), *facts.thinking]
        self._model = self._model or facts.model
        self._provider = self._provider or facts.provider

    def _set_output_kept(self, value: Any) -> None:
        """Set the output to a value already cut to the limits (a generator's summary)."""
        if self._state == _LIVE:
            self._output = value
            self._has_output = True

    def set_output(self, value: Any) -> None:
        """Set the span's output explicitly (replaces a captured return value)."""
        if self._state == _LIVE:
            self._output = self._keep(value)
            self._has_output = True

    def update_name(self, name: str) -> None:
        """Rename the span (e.g. to the route template once the router matched one)."""
        if self._state == _LIVE:
            self.name = str(name)

    def set_status(
        self, status: Status | str, message: str | None = None, *, error_type: str = "Error"
    ) -> None:
        """Mark the span failed (or ok again) without an exception, e.g. an HTTP 5xx answer.

        ``"error"`` records ``error_type: message`` as the span's error; ``"ok"`` clears it.
        An exception that ends the span later still wins.
        """
        try:
            value = Status(status)
        except ValueError:
            raise ValueError(f"status must be 'ok' or 'error', got {status!r}") from None
        if self._state != _LIVE:
            return
        self._status = value
        if value is Status.ERROR:
            self._exception = ExceptionInfo(str(error_type), str(message or "error"), "")
        else:
            self._exception = None

    def set_attribute(self, key: str, value: Any) -> None:
        """Attach a free attribute (shown in the tree, sent in the last event's metadata)."""
        if self._state == _LIVE:
            if self._attributes is None:
                self._attributes = {}
            self._attributes[str(key)] = self._keep(value)

    def set_model(self, model: str | None, provider: str | None = None) -> None:
        if self._state == _LIVE:
            self._model = model
            if provider is not None:
                self._provider = provider

    def record_thinking(
        self,
        text: str | None = None,
        signature: str | None = None,
        redacted_data: str | None = None,
    ) -> None:
        """Record one thinking block: visible text (with its signature) or a redacted blob."""
        if self._state == _LIVE:
            block = ThinkingBlock(text=text, signature=signature, redacted_data=redacted_data)
            self._thinking = [*(self._thinking or ()), block]

    def record_usage(self, usage: Any = None, **counts: int | None) -> None:
        """Add token counts: a :class:`TokenUsage`, a provider ``usage`` object, or counts."""
        if self._state != _LIVE:
            return
        found = usage_from(usage) if usage is not None else TokenUsage(**counts)
        if found is not None:
            self._usage = found if self._usage is None else add_usage(self._usage, found)

    def _record_exception(self, exc: BaseException, tb: TracebackType | None) -> None:
        self._status = Status.ERROR
        limit = TRACER.config.limits.max_string_length
        try:
            pending = exception_info(exc, tb, self._trace.trace_id, self.span_id, limit)
            self._exception = pending
            self.approx_bytes += pending.approx_bytes
        except BaseException:  # the exception's own code raising: keep what is certain
            self._exception = ExceptionInfo(type_name(exc), "<unprintable exception>", "")

    # -- hand-off ---------------------------------------------------------------------

    def _to_record(self) -> SpanRecord:
        """The frozen form of an ended span (called by processors, often on the flusher)."""
        trace = self._trace
        pending = self._exception
        exception = (
            pending.resolve(TRACER.config.limits.max_string_length)
            if isinstance(pending, PendingException)
            else pending
        )
        return _record_of(self, trace, exception)


# How an ended span gives each field of its record: one table, by field name. The record is
# built from it by a function generated once, here, that passes the values positionally in the
# record's own field order (binding 21 keywords costs the flusher a third more per span), so
# the order is never written by hand and a field the table misses fails at import.
_RECORD_FIELDS = {
    "trace_id": "trace.trace_id",
    "span_id": "f'{span._sid:016x}'",
    "parent_span_id": "f'{span._parent_sid:016x}' if span._parent_sid else None",
    "name": "span.name",
    "kind": "span.kind",
    "start_time_ns": "span._start_ns",
    "end_time_ns": "span._end_ns",
    "duration_ns": "span._duration_ns",
    "status": "span._status",
    "agent_name": "trace.agent_name",
    "thread_id": "trace.thread_id",
    "external_user_id": "trace.external_user_id",
    "inputs": "span._inputs",
    "output": "span._output",
    "has_output": "span._has_output",
    "exception": "exception",
    "thinking": "tuple(span._thinking or ())",
    "usage": "span._usage",
    "model": "span._model",
    "provider": "span._provider",
    "attributes": "span._attributes or {}",
}


def _make_record_builder() -> Any:
    order = [field.name for field in attrs.fields(SpanRecord)]
    if sorted(order) != sorted(_RECORD_FIELDS):
        raise RuntimeError(f"_RECORD_FIELDS does not match SpanRecord's fields: {order}")
    values = ",\n        ".join(_RECORD_FIELDS[name] for name in order)
    source = f"def _record_of(span, trace, exception):\n    return SpanRecord(\n        {values})"
    namespace: dict[str, Any] = {"SpanRecord": SpanRecord}
    exec(compile(source, "<whyops._span record builder>", "exec"), namespace)
    return namespace["_record_of"]


#: ``_record_of(span, trace, exception) -> SpanRecord``.
_record_of = _make_record_builder()


NOOP_SPAN = Span("noop")
NOOP_SPAN._state = _NOOP
