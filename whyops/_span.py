"""The live span: mutable, owned by the code it traces, frozen into a record at its end.

A span does no I/O. Starting it reads the ambient context, draws an id and reads two
clocks; ending it reads one clock and hands the finished span to the tracer, whose
processors freeze it into a :class:`~whyops.models.SpanRecord` (off the caller's thread
when batching). Once ended, a span ignores further changes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import Token
from random import getrandbits
from time import perf_counter_ns, time_ns
from types import TracebackType
from typing import Any

from whyops import _tracer
from whyops._context import SPAN, SUPPRESS, TRACE, AsyncWith, TraceContext
from whyops._exceptions import PendingException, exception_info
from whyops._ids import new_trace_id
from whyops._providers import add_usage, extract, usage_from
from whyops._snapshot import freeze, type_name
from whyops.models import ExceptionInfo, SpanKind, SpanRecord, Status, ThinkingBlock, TokenUsage

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

# In a child process, when it was forked (perf_counter_ns, which fork does not reset): a
# span started before (open in the parent when it forked) is the parent's to end and
# export, never the child's. Comparing start times costs the hot path no extra store.
_forked_at = 0


def _after_fork_in_child() -> None:
    global _forked_at
    _forked_at = perf_counter_ns()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

Tokens = tuple["Token[Span | None]", "Token[TraceContext | None] | None"]


class Span(AsyncWith["Span"]):
    """One traced operation. See the ``Span`` section of docs/core.md."""

    # No __slots__: rarely-set fields live as class-level defaults, so a new span only
    # stores what every span has (measurably cheaper than filling twenty slots).
    output: Any = None
    has_output = False
    thinking: list[ThinkingBlock] | None = None
    usage: TokenUsage | None = None
    model: str | None = None
    provider: str | None = None
    exception: ExceptionInfo | PendingException | None = None
    status = Status.OK
    _sid = 0
    _parent_sid = 0
    _count = 0
    _owns_trace = False
    _parent: Span | None = None
    #: A cheap estimate of the memory the span holds, its captured values included (cut
    #: to the limits when captured): what the export queue's byte budget counts. A plain
    #: attribute, read on every submit, added to as values are captured.
    approx_bytes = _SPAN_BYTES
    trace: TraceContext
    start_time_ns: int
    end_time_ns: int
    duration_ns: int
    _start_perf: int
    _span_token: Token[Span | None] | None
    _trace_token: Token[TraceContext | None] | None

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
        self.inputs = inputs
        self.attributes: dict[str, Any] | None = dict(attributes) if attributes else None
        self._capture_output = capture_output
        self._state = _NEW

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
        return self.trace.trace_id if self._state in (_LIVE, _ENDED) else ""

    @property
    def is_recording(self) -> bool:
        """True while the span is live and will be exported."""
        return self._state == _LIVE

    def __repr__(self) -> str:
        return f"<Span {self.kind.value} {self.name!r} {self.span_id or '-'}>"

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Give the span its place in the tree and its start time; the context is untouched."""
        if SUPPRESS.get():
            self._state = _NOOP
            return
        parent = SPAN.get()
        ambient = TRACE.get()
        if ambient is None:
            agent = self.name if self.kind is _AGENT else _tracer.TRACER.config.agent_name
            trace = TraceContext(new_trace_id(), agent_name=agent)
        # An unnamed trace may get its agent here; not from a child of a span that left
        # this very context unnamed (unless the child is an agent).
        elif ambient.agent_name is None and (
            parent is None or self.kind is _AGENT or parent.trace is not ambient
        ):
            trace = self._name_trace(ambient, parent)
        else:
            trace = ambient
        # Every span stores the same attributes in the same order, roots and children
        # alike, so instances keep CPython's shared key layout.
        self.trace = trace
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
        self.start_time_ns = time_ns()
        self._start_perf = perf_counter_ns()

    def _name_trace(self, trace: TraceContext, parent: Span | None) -> TraceContext:
        """Give a trace that no context named its agent (see "Agent names" in docs/core.md).

        A root span names it: an agent by its own name, any other span by the configured
        name. Below a root that left it unnamed (a request span), the first agent span
        names it, for itself, its open ancestors and everything that starts later.
        """
        if parent is None or parent.trace.trace_id != trace.trace_id:
            agent = self.name if self.kind is _AGENT else _tracer.TRACER.config.agent_name
        else:
            agent = parent.trace.agent_name
            if agent is None and self.kind is _AGENT:
                agent = self.name
                parent._adopt_agent(agent)
        return trace if agent is None else trace._replace(agent_name=agent)

    def _adopt_agent(self, agent: str) -> None:
        trace_id = self.trace.trace_id
        span: Span | None = self
        while span is not None and span._state == _LIVE and span.trace.trace_id == trace_id:
            if span.trace.agent_name is not None:
                return
            span.trace = span.trace._replace(agent_name=agent)
            span = span._parent

    def activate(self) -> Tokens:
        """Make this span (and its trace, when it started one) current in this context."""
        trace_token = TRACE.set(self.trace) if self._owns_trace else None
        return SPAN.set(self), trace_token

    @staticmethod
    def deactivate(tokens: Tokens) -> None:
        span_token, trace_token = tokens
        try:
            SPAN.reset(span_token)
            if trace_token is not None:
                TRACE.reset(trace_token)
        except ValueError:
            # Entered in one context and left in another (a ``with`` spread over two
            # tasks): the span still ends; the other context's state is not ours to fix.
            pass

    def end(self, exc: BaseException | None = None, tb: TracebackType | None = None) -> None:
        """Stop the clock, record ``exc`` if any, and hand the span to the tracer."""
        if self._state != _LIVE:
            return
        if self._start_perf < _forked_at:
            self._state = _ENDED  # inherited across fork: the parent process ends it
            return
        duration = perf_counter_ns() - self._start_perf
        self.duration_ns = duration
        self.end_time_ns = self.start_time_ns + duration
        if exc is not None:
            self._record_exception(exc, tb)
        self._state = _ENDED
        _tracer.TRACER.on_end(self)

    def __enter__(self) -> Span:
        self.start()
        if self._state == _LIVE:
            self._span_token = SPAN.set(self)
            self._trace_token = TRACE.set(self.trace) if self._owns_trace else None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state != _LIVE:
            return
        span_token, trace_token = self._span_token, self._trace_token
        # A queued span must not keep context tokens (and the values they hold) alive.
        self._span_token = self._trace_token = None
        try:
            if span_token is not None:
                SPAN.reset(span_token)
            if trace_token is not None:
                TRACE.reset(trace_token)
        except ValueError:
            pass  # left in another context than entered (see ``deactivate``)
        self.end(exc, tb)

    # -- what happened ----------------------------------------------------------------

    def set_result(self, value: Any) -> Any:
        """Record a returned value (if output capture is on) and what it says; return it."""
        if self._state != _LIVE:
            return value
        if self._capture_output and _tracer.TRACER.capture_outputs:
            self.output = value if type(value) in _SMALL else self._keep(value)
            self.has_output = True
        kind = self.kind
        if kind is _LLM or kind is _EMBEDDING:  # identity: an Enum's __hash__ is Python
            self._absorb(value)
        return value

    def _keep(self, value: Any) -> Any:
        """``value`` frozen within the limits (see ``whyops._snapshot``), its size counted."""
        kind = type(value)
        if kind in _SMALL:
            return value  # counted in the span's own bytes
        limits = _tracer.TRACER.config.limits
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
        if facts.usage is not None and self.usage is None:
            self.usage = facts.usage
        if facts.thinking:
            self.thinking = [*(self.thinking or ()), *facts.thinking]
        self.model = self.model or facts.model
        self.provider = self.provider or facts.provider

    def set_output(self, value: Any) -> None:
        """Set the span's output explicitly (replaces a captured return value)."""
        if self._state == _LIVE:
            self.output = self._keep(value)
            self.has_output = True

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
        self.status = value
        if value is Status.ERROR:
            self.exception = ExceptionInfo(str(error_type), str(message or "error"), "")
        else:
            self.exception = None

    def set_attribute(self, key: str, value: Any) -> None:
        """Attach a free attribute (shown in the tree, sent in the last event's metadata)."""
        if self._state == _LIVE:
            if self.attributes is None:
                self.attributes = {}
            self.attributes[str(key)] = self._keep(value)

    def set_model(self, model: str | None, provider: str | None = None) -> None:
        if self._state == _LIVE:
            self.model = model
            if provider is not None:
                self.provider = provider

    def record_thinking(
        self,
        text: str | None = None,
        signature: str | None = None,
        redacted_data: str | None = None,
    ) -> None:
        """Record one thinking block: visible text (with its signature) or a redacted blob."""
        if self._state == _LIVE:
            block = ThinkingBlock(text=text, signature=signature, redacted_data=redacted_data)
            self.thinking = [*(self.thinking or ()), block]

    def record_usage(self, usage: Any = None, **counts: int | None) -> None:
        """Add token counts: a :class:`TokenUsage`, a provider ``usage`` object, or counts."""
        if self._state != _LIVE:
            return
        found = usage_from(usage) if usage is not None else TokenUsage(**counts)
        if found is not None:
            self.usage = found if self.usage is None else add_usage(self.usage, found)

    def record_item(self, item: Any) -> None:
        """Count one yielded item and keep it while under the cap."""
        if self._state != _LIVE:
            return
        tracer = _tracer.TRACER
        if self.output is None:
            self.output, self._count = [], 0
            self.has_output = self._capture_output and tracer.capture_outputs
        self._count += 1
        if self.has_output and self._count <= tracer.config.limits.max_yielded_items:
            self.output.append(self._keep(item))

    def finish_iteration(self, how: str) -> None:
        """Turn the yielded items into the generator output ``{yielded, count, ...}``."""
        if self._state != _LIVE:
            return
        items = self.output if isinstance(self.output, list) else []
        count = self._count if self.output is not None else 0
        self.output = {
            "yielded": items if self.has_output else [],
            "count": count,
            "truncated": count > len(items),
            "ended": how,
        }
        self.has_output = True

    def _record_exception(self, exc: BaseException, tb: TracebackType | None) -> None:
        self.status = Status.ERROR
        limit = _tracer.TRACER.config.limits.max_string_length
        try:
            pending = exception_info(exc, tb, self.trace.trace_id, self.span_id, limit)
            self.exception = pending
            self.approx_bytes += pending.approx_bytes
        except BaseException:  # the exception's own code raising: keep what is certain
            self.exception = ExceptionInfo(type_name(exc), "<unprintable exception>", "")

    # -- hand-off ---------------------------------------------------------------------

    def to_record(self) -> SpanRecord:
        """The frozen form of an ended span (called by processors, often on the flusher)."""
        trace = self.trace
        pending = self.exception
        exception = (
            pending.resolve(_tracer.TRACER.config.limits.max_string_length)
            if isinstance(pending, PendingException)
            else pending
        )
        # Positional, in SpanRecord's field order: a third cheaper than keywords, and this
        # runs once per span on the flusher (tests/core/test_context.py checks the order).
        return SpanRecord(
            trace.trace_id,
            f"{self._sid:016x}",
            f"{self._parent_sid:016x}" if self._parent_sid else None,
            self.name,
            self.kind,
            self.start_time_ns,
            self.end_time_ns,
            self.duration_ns,
            self.status,
            trace.agent_name,
            trace.thread_id,
            trace.external_user_id,
            self.inputs,
            self.output,
            self.has_output,
            exception,
            tuple(self.thinking or ()),
            self.usage,
            self.model,
            self.provider,
            self.attributes or {},
        )


NOOP_SPAN = Span("noop")
NOOP_SPAN._state = _NOOP
