"""Inserting a batch of validated events (runs on the writer thread)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

from whyops.pricing import PriceTable
from whyops.pricing.cost import cost_usd
from whyops.server.store.agents import resolve_agent
from whyops.server.store.dialect import DIALECTS, Connection, dialect_of
from whyops.server.store.ids import uuid7_batch
from whyops.server.store.rows import EventResult, EventRow
from whyops.server.store.writer import WriterState
from whyops.server.timeutil import format_us, now_us
from whyops.wire.events import NEEDS_MODEL

# SQLite's default limit on bound parameters is 32766; stay far below it.
_KEY_CHUNK = 500
_LLM_TYPES = NEEDS_MODEL
_PENDING = EventResult(-1, "", "", None, None, "")  # placeholder until the row is assigned

EVENT_COLUMNS = (
    "id", "project_id", "trace_id", "step_id", "parent_step_id", "span_id", "parent_span_id",
    "span_kind", "span_name", "thread_id", "event_type", "ts", "ts_us", "agent_name",
    "external_user_id", "idempotency_key", "content", "metadata", "model", "provider",
    "prompt_tokens", "completion_tokens", "total_tokens", "cache_read_tokens",
    "cache_creation_tokens", "latency_ms", "finish_reason", "is_error", "created_at",
    "reasoning_tokens", "cost_usd", "price_version",
)  # fmt: skip
_INSERT_EVENT = (
    f"INSERT INTO events ({', '.join(EVENT_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
)

_UPSERT_TRACE_TEMPLATE = """
INSERT INTO traces (project_id, trace_id, agent_name, agent_id, agent_version_id, thread_id,
    external_user_id, first_ts, first_ts_us, last_ts, last_ts_us, event_count, error_count,
    prompt_tokens, completion_tokens, total_tokens, cache_read_tokens, cache_creation_tokens,
    total_latency_ms, llm_calls, last_model, created_at, updated_at, updated_us,
    reasoning_tokens, cost_usd, unpriced_calls)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (project_id, trace_id) DO UPDATE SET
    thread_id = coalesce(traces.thread_id, excluded.thread_id),
    external_user_id = coalesce(traces.external_user_id, excluded.external_user_id),
    first_ts = CASE WHEN excluded.first_ts_us < traces.first_ts_us
        THEN excluded.first_ts ELSE traces.first_ts END,
    first_ts_us = {least}(traces.first_ts_us, excluded.first_ts_us),
    last_ts = CASE WHEN excluded.last_ts_us > traces.last_ts_us
        THEN excluded.last_ts ELSE traces.last_ts END,
    last_ts_us = {greatest}(traces.last_ts_us, excluded.last_ts_us),
    event_count = traces.event_count + excluded.event_count,
    error_count = traces.error_count + excluded.error_count,
    prompt_tokens = traces.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = traces.completion_tokens + excluded.completion_tokens,
    total_tokens = traces.total_tokens + excluded.total_tokens,
    cache_read_tokens = traces.cache_read_tokens + excluded.cache_read_tokens,
    cache_creation_tokens = traces.cache_creation_tokens + excluded.cache_creation_tokens,
    total_latency_ms = traces.total_latency_ms + excluded.total_latency_ms,
    llm_calls = traces.llm_calls + excluded.llm_calls,
    reasoning_tokens = traces.reasoning_tokens + excluded.reasoning_tokens,
    -- NULL until a call is priced: the sum of the priced calls, never a made-up zero
    cost_usd = coalesce(traces.cost_usd + excluded.cost_usd, traces.cost_usd, excluded.cost_usd),
    unpriced_calls = traces.unpriced_calls + excluded.unpriced_calls,
    last_model = coalesce(excluded.last_model, traces.last_model),
    updated_at = excluded.updated_at,
    updated_us = excluded.updated_us
"""
_UPSERT_TRACE = {
    d.name: _UPSERT_TRACE_TEMPLATE.format(least=d.least, greatest=d.greatest) for d in DIALECTS
}


def insert_events(
    conn: Connection, state: WriterState, project_id: str, rows: Sequence[EventRow]
) -> list[EventResult]:
    """Store ``rows`` (skipping idempotency-key repeats); one result per row, in order."""
    results: list[EventResult] = [_PENDING] * len(rows)
    new_ids = iter(uuid7_batch(len(rows)))
    stamp_us = state.stamp(now_us())
    created_at = format_us(stamp_us)
    groups = _by_trace(rows)
    holding = getattr(conn, "hold_rows", False)
    with conn.ingesting() if holding else contextlib.nullcontext():  # type: ignore[attr-defined]
        if not state.exclusive:
            state.lock(conn, _lock_names(state, project_id, groups, rows))
        for trace_id, indices in groups.items():
            trace_rows = [rows[i] for i in indices]
            key = (project_id, trace_id)
            last, seen = _stored(conn, state, key, trace_rows)
            assigned = _assign_trace(state, key, last, trace_rows, seen, new_ids, created_at)
            for index, result in zip(indices, assigned.results, strict=True):
                results[index] = result
            if assigned.fresh:
                steps = (r.step_id for r in assigned.results if r.step_id is not None)
                held = (key, max(last, *steps), seen) if holding else None
                _write_trace(conn, state, key, assigned, created_at, stamp_us, held)
    return results


def _lock_names(
    state: WriterState, project_id: str, groups: dict[str, list[int]], rows: Sequence[EventRow]
) -> list[tuple[str, ...]]:
    """What the batch locks with other servers writing: each trace, whose steps and totals
    one transaction at a time reads and updates, and each agent it may create (one not
    known to exist). All taken at once, in one order, so two servers cannot deadlock."""
    names: list[tuple[str, ...]] = [("trace", project_id, trace_id) for trace_id in groups]
    agents = {row.agent_name for row in rows}
    names += [("agent", project_id, a) for a in agents if (project_id, a) not in state.agents]
    return names


class _Assigned(NamedTuple):
    fresh: list[EventRow]  # the rows to insert
    params: list[tuple[object, ...]]  # their insert parameters
    results: list[EventResult]  # one per row of the trace, in order
    new_trace: bool  # the trace had no events: this batch binds it to its agent's version


def _by_trace(rows: Sequence[EventRow]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        groups.setdefault(row.trace_id, []).append(index)
    return groups


def _assign_trace(
    state: WriterState,
    key: tuple[str, str],
    last: int,
    rows: list[EventRow],
    seen: dict[str, EventResult],
    new_ids: Iterator[str],
    created_at: str,
) -> _Assigned:
    """Ids, spans and steps for one trace's new events (WhyOps: a step follows the trace's
    last); a row whose key is ``seen`` (stored, or earlier in ``rows``) repeats that one."""
    new_trace = last == 0
    prices = state.prices
    fresh: list[EventRow] = []
    params: list[tuple[object, ...]] = []
    results: list[EventResult] = []
    for row in rows:
        idempotency_key = row.idempotency_key
        if idempotency_key is not None and idempotency_key in seen:
            results.append(_skipped(row, seen[idempotency_key]))
            continue
        step, parent = row.step_id, row.parent_step_id
        if step is None:
            step = last + 1
            if parent is None and last > 0:
                parent = last
        elif parent is None and step > 1:
            parent = step - 1
        last = max(last, step)
        span = row.span_id or "span_" + secrets.token_urlsafe(16)
        if prices is not None and row.event_type in _LLM_TYPES:
            price_row(prices, row)
        result = EventResult(row.item, next(new_ids), "saved", step, parent, span)
        if idempotency_key is not None:
            seen[idempotency_key] = result
        results.append(result)
        fresh.append(row)
        params.append(_event_params(key[0], row, result, created_at))
    if fresh:
        state.remember_step(key, last)
    return _Assigned(fresh, params, results, new_trace)


_KEYS_FOUND = (
    "SELECT idempotency_key, id, step_id, parent_step_id, span_id FROM events"
    " WHERE project_id = ? AND trace_id = ? AND idempotency_key IN ({marks})"
)
# A row of its own (no key) beside the keys found: one round trip to the database for both.
_LAST_STEP = (
    "SELECT NULL, NULL, coalesce(max(step_id), 0), NULL, NULL FROM events"
    " WHERE project_id = ? AND trace_id = ?"
)
# PostgreSQL: the keys as one array parameter (one to bind, and one prepared statement for
# any number of keys); the last step read from the end of events_by_step, whatever the
# planner's statistics say (on a table filled since its last ANALYZE, max() read every
# event of the trace).
_KEYS_FOUND_PG = (
    "SELECT idempotency_key, id, step_id, parent_step_id, span_id FROM events"
    " WHERE project_id = ? AND trace_id = ? AND idempotency_key = ANY(?::text[])"
)
_LAST_STEP_PG = (
    "SELECT NULL, NULL, coalesce((SELECT step_id FROM events"
    " WHERE project_id = ? AND trace_id = ? AND step_id IS NOT NULL"
    " ORDER BY step_id DESC LIMIT 1), 0), NULL, NULL"
)


def _stored(
    conn: Connection, state: WriterState, key: tuple[str, str], rows: Iterable[EventRow]
) -> tuple[int, dict[str, EventResult]]:
    """The trace's last step (cached by the only writer) and its stored events holding the
    idempotency keys of ``rows``."""
    last = state.step_max.get(key)
    keys = sorted({row.idempotency_key for row in rows if row.idempotency_key is not None})
    found: dict[str, EventResult] = {}
    postgres = dialect_of(conn).name == "postgresql"
    if getattr(conn, "hold_rows", False):
        # Rows held for the group's COPY: a key stored before is not looked up but refused by
        # the table's unique index, which fails the transaction; it then runs again, each
        # batch on its own, and finds the key here (a repeat costs one transaction more, and
        # every batch saves a look-up whose cost grows with its trace).
        keys = []
        held = conn.held_traces  # type: ignore[attr-defined]
        if key in held:  # rows of this transaction not inserted yet (PgConnection.hold)
            last, held_seen = held[key]
            found.update(held_seen)
    chunk_size = max(len(keys), 1) if postgres else _KEY_CHUNK
    for start in range(0, max(len(keys), 1), chunk_size):
        chunk = keys[start : start + chunk_size]
        parts: list[str] = []
        params: list[object] = []
        if chunk and postgres:
            parts.append(_KEYS_FOUND_PG)
            params += [*key, chunk]
        elif chunk:
            parts.append(_KEYS_FOUND.format(marks=",".join("?" * len(chunk))))
            params += [*key, *chunk]
        if last is None:
            parts.append(_LAST_STEP_PG if postgres else _LAST_STEP)
            params += key
        if not parts:
            break
        for found_key, event_id, step, parent, span in conn.execute(
            " UNION ALL ".join(parts), params
        ):
            if found_key is None:
                last = int(step)
            else:
                found[found_key] = EventResult(-1, event_id, "saved", step, parent, span)
    return last or 0, found


def _skipped(row: EventRow, earlier: EventResult) -> EventResult:
    return EventResult(
        row.item, earlier.id, "skipped", earlier.step_id, earlier.parent_step_id, earlier.span_id
    )


def _write_trace(
    conn: Connection,
    state: WriterState,
    key: tuple[str, str],
    assigned: _Assigned,
    created_at: str,
    stamp_us: int,
    held: tuple[tuple[str, str], int, dict[str, EventResult]] | None = None,
) -> None:
    """Insert the new events, register the agents named, update the trace summary once;
    ``held``: the rows and the update wait for the group's others (``PgConnection.hold``)."""
    project_id, trace_id = key
    fresh = assigned.fresh
    first_row = fresh[0]
    agent_id, version_id = resolve_agent(
        conn, state, project_id, first_row.agent_name, first_row.raw_metadata, assigned.new_trace
    )
    for row in fresh:  # every agent named is registered; the trace binds to the first
        if row.agent_name != first_row.agent_name:
            resolve_agent(conn, state, project_id, row.agent_name, row.raw_metadata, False)
    # PostgreSQL: COPY, its fastest insert. (Rows sent as statement parameters, even
    # pipelined with the trace's upsert in one round trip, cost more: each value is adapted
    # in Python, where COPY's rows are written by psycopg's C code.)
    upsert = _UPSERT_TRACE[dialect_of(conn).name]
    trace = _trace_params(project_id, trace_id, agent_id, version_id, fresh, created_at, stamp_us)
    if held is not None:
        conn.hold(EVENT_COLUMNS, assigned.params, upsert, trace, held)  # type: ignore[attr-defined]
        return
    copy_rows = getattr(conn, "copy_rows", None)
    if copy_rows is None:
        conn.executemany(_INSERT_EVENT, assigned.params)
    else:
        copy_rows("events", EVENT_COLUMNS, assigned.params)
    conn.execute(upsert, trace)


def _event_params(
    project_id: str, row: EventRow, result: EventResult, created_at: str
) -> tuple[object, ...]:
    return (
        result.id, project_id, row.trace_id, result.step_id, result.parent_step_id,
        result.span_id, row.parent_span_id, row.span_kind, row.span_name, row.thread_id,
        row.event_type, row.ts, row.ts_us, row.agent_name, row.external_user_id,
        row.idempotency_key, row.content, row.metadata, row.model, row.provider,
        row.prompt_tokens, row.completion_tokens, row.total_tokens, row.cache_read_tokens,
        row.cache_creation_tokens, row.latency_ms, row.finish_reason, int(row.is_error),
        created_at, row.reasoning_tokens, row.cost_usd, row.price_version,
    )  # fmt: skip


def _trace_params(
    project_id: str,
    trace_id: str,
    agent_id: str,
    version_id: str,
    fresh: list[EventRow],
    created_at: str,
    stamp_us: int,
) -> tuple[object, ...]:
    """The trace row's share of this batch: one pass over the new events."""
    first = last = fresh[0]
    errors = calls = prompt = completion = total = cache_read = cache_created = 0
    reasoning = unpriced = 0
    latency = 0.0
    cost: float | None = None
    thread = user = model = None
    for row in fresh:
        if row.ts_us < first.ts_us:
            first = row
        if row.ts_us > last.ts_us:
            last = row
        errors += row.is_error and not row.error_echo
        thread = thread or row.thread_id
        user = user or row.external_user_id
        if row.event_type in _LLM_TYPES:
            calls += 1
            prompt += row.prompt_tokens or 0
            completion += row.completion_tokens or 0
            total += _total(row)
            cache_read += row.cache_read_tokens or 0
            cache_created += row.cache_creation_tokens or 0
            latency += row.latency_ms or 0
            model = row.model or model
            reasoning += row.reasoning_tokens or 0
            if row.cost_usd is not None:
                cost = row.cost_usd if cost is None else cost + row.cost_usd
            elif has_tokens(row):
                unpriced += 1
    return (
        project_id, trace_id, fresh[0].agent_name, agent_id, version_id, thread, user,
        first.ts, first.ts_us, last.ts, last.ts_us, len(fresh), errors, prompt, completion,
        total, cache_read, cache_created, latency, calls, model, created_at, created_at,
        stamp_us, reasoning, cost, unpriced,
    )  # fmt: skip


def _total(row: EventRow) -> int:
    if row.total_tokens is not None:
        return row.total_tokens
    return (row.prompt_tokens or 0) + (row.completion_tokens or 0)


def price_row(prices: PriceTable, row: EventRow) -> None:
    """Set an LLM call's cost and the price version (left None: no price, or no tokens)."""
    priced = prices.priced(row.provider, row.model)
    if priced is None or not has_tokens(row):
        return
    price, rates = priced
    # In pricing.Counts' order, as a plain tuple: cheaper to build once per call.
    counts = (
        row.prompt_tokens, row.completion_tokens, row.total_tokens, row.cache_read_tokens,
        row.cache_creation_tokens, row.cache_write_5m_tokens, row.cache_write_1h_tokens,
        row.reasoning_tokens,
    )  # fmt: skip
    row.cost_usd = cost_usd(price, rates, counts)
    row.price_version = prices.version


def has_tokens(row: EventRow) -> bool:
    """Whether the call reported any token count (a call without one has nothing to price)."""
    return (
        row.prompt_tokens is not None
        or row.completion_tokens is not None
        or row.total_tokens is not None
        or row.cache_read_tokens is not None
        or row.cache_creation_tokens is not None
    )
