"""Frozen records handed from the caller's thread to exporters.

A live span (``whyops._span.Span``) is mutable and belongs to the code it traces.
When it ends it is frozen into a :class:`SpanRecord`; from then on only the
flusher thread and exporters see it. Manual WhyOps events travel the same queue
as an :class:`EventRecord` that already holds the wire payload.

Values in ``inputs``/``output`` are the caller's objects, not yet JSON: turning
them into JSON-safe data is done off the hot path (``whyops._capture``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs


class SpanKind(str, enum.Enum):
    """What a span stands for in an agent run."""

    AGENT = "agent"
    TOOL = "tool"
    LLM = "llm"
    EMBEDDING = "embedding"
    SPAN = "span"


class Status(str, enum.Enum):
    OK = "ok"
    ERROR = "error"


@attrs.frozen(slots=True)
class TokenUsage:
    """Token counts of one model call.

    ``prompt_tokens`` follows the provider: OpenAI counts cached prompt tokens in
    it, Anthropic does not (see docs/wire-format.md). ``reasoning_tokens`` are part of
    ``completion_tokens``; ``cache_write_5m_tokens`` and ``cache_write_1h_tokens`` split
    ``cache_creation_tokens`` by cache lifetime (Anthropic).
    """

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    # Keyword-only, after the first five, so positional constructions keep their meaning.
    reasoning_tokens: int | None = attrs.field(default=None, kw_only=True)
    cache_write_5m_tokens: int | None = attrs.field(default=None, kw_only=True)
    cache_write_1h_tokens: int | None = attrs.field(default=None, kw_only=True)


@attrs.frozen(slots=True)
class ThinkingBlock:
    """A model's thinking: visible text with its signature, or a redacted blob."""

    text: str | None = None
    signature: str | None = None
    redacted_data: str | None = None

    @property
    def redacted(self) -> bool:
        return self.redacted_data is not None


@attrs.frozen(slots=True)
class ExceptionInfo:
    """An exception that ended a span.

    The span the exception was raised in records it in full. Each enclosing span it passed
    through records only ``type`` and ``message``, with ``traceback`` empty and
    ``origin_span_id`` naming the span that holds the full record.
    """

    type: str
    message: str
    traceback: str = ""
    origin_span_id: str | None = None


@attrs.frozen(slots=True)
class SpanRecord:
    """One finished span. Times are UTC epoch nanoseconds; duration is monotonic."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: SpanKind
    start_time_ns: int
    end_time_ns: int
    duration_ns: int
    status: Status = Status.OK
    agent_name: str | None = None
    thread_id: str | None = None
    external_user_id: str | None = None
    inputs: Mapping[str, Any] | None = None
    output: Any = None
    has_output: bool = False
    exception: ExceptionInfo | None = None
    thinking: tuple[ThinkingBlock, ...] = ()
    usage: TokenUsage | None = None
    model: str | None = None
    provider: str | None = None
    attributes: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(slots=True)
class EventRecord:
    """A WhyOps wire event built by the client's trace builder.

    ``draft`` is the event as built (``EventRecord(payload)`` takes it as is). The trace
    builder leaves the ``timestamp``, ``idempotencyKey`` and ``spanId`` it would generate
    as ``None`` in it, and records the call's ``time_ns`` and 192 ``random_bits`` instead:
    formatting them is left to the flusher thread. A record always gives the same
    :attr:`payload`, so a retried or re-split batch keeps its idempotency keys.
    """

    draft: Mapping[str, Any] = attrs.field(alias="payload")
    time_ns: int | None = None
    random_bits: int | None = None

    @property
    def payload(self) -> Mapping[str, Any]:
        """The wire event, with the generated fields filled in."""
        if self.time_ns is None and self.random_bits is None:
            return self.draft
        from whyops.wire.stamp import complete_event

        return complete_event(self)


Record = SpanRecord | EventRecord


@attrs.frozen(slots=True)
class DeliveryReport:
    """What a flush or shutdown achieved, counted in records since start-up.

    ``delivered``: accepted by the exporter. ``retried``: export attempts that were
    repeated (counted while they happen). ``dropped``: records lost (queue full, rejected,
    retries exhausted), never silently. ``pending``: still queued when the call returned.
    ``last_error``: why records were last lost or not yet delivered, e.g.
    ``"HTTP 401: Unauthorized: Invalid API key"``.
    """

    delivered: int = 0
    retried: int = 0
    dropped: int = 0
    pending: int = 0
    timed_out: bool = False
    last_error: str | None = None

    @property
    def ok(self) -> bool:
        """Everything emitted so far was delivered: nothing dropped, nothing left waiting."""
        return self.dropped == 0 and self.pending == 0 and not self.timed_out
