"""Plain records exchanged between the HTTP layer and the store."""

from __future__ import annotations

from typing import Any, NamedTuple

import attrs


@attrs.define(slots=True, kw_only=True)
class EventRow:
    """One validated event, ready to insert. JSON columns are already serialized.

    Built by keyword only: 17 optional fields in a row are too easy to shift by one."""

    item: int
    event_type: str
    trace_id: str
    agent_name: str
    ts: str
    ts_us: int
    span_id: str | None = None
    step_id: int | None = None
    parent_step_id: int | None = None
    parent_span_id: str | None = None
    span_kind: str | None = None
    span_name: str | None = None
    thread_id: str | None = None
    external_user_id: str | None = None
    idempotency_key: str | None = None
    content: str | None = None
    metadata: str | None = None
    model: str | None = None
    provider: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    reasoning_tokens: int | None = None
    # The cache writes split by lifetime (priced apart; stored only in ``metadata``).
    cache_write_5m_tokens: int | None = None
    cache_write_1h_tokens: int | None = None
    latency_ms: float | None = None
    finish_reason: str | None = None
    is_error: bool = False
    # What the call cost at the price table's ``price_version`` (set at ingest; None: no price).
    cost_usd: float | None = None
    price_version: str | None = None
    # An ``error`` event restating an exception recorded in an inner span (content
    # ``originSpanId``): the span failed, but the exception is counted once, where it began.
    error_echo: bool = False
    # The parsed metadata, kept for auto-creating an unknown agent (never stored as is).
    raw_metadata: dict[str, Any] | None = None


class EventResult(NamedTuple):
    """What happened to one posted item: ``saved`` or ``skipped`` (idempotency key seen)."""

    item: int
    id: str
    status: str
    step_id: int | None
    parent_step_id: int | None
    span_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "stepId": self.step_id,
            "parentStepId": self.parent_step_id,
            "spanId": self.span_id,
        }


@attrs.frozen(slots=True)
class Project:
    """A tenant: every key belongs to one, every trace is scoped to one."""

    id: str
    name: str


@attrs.frozen(slots=True)
class InitOutcome:
    agent_id: str
    version_id: str
    version_hash: str
    created: bool
