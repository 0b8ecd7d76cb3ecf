"""Read queries. Every one is scoped to a project: traces of two projects never mix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from whyops.server.store.dialect import Connection, dialect_of

# A row readable by position and by column name (``sqlite3.Row``, or ``pg.PgRow``).
Row = Any

# Every event query selects these, in this order, then ts_us, content, metadata. Rows come back
# as plain tuples: the read API turns them into JSON without parsing content or metadata.
EVENT_FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "id"),
    ("traceId", "trace_id"),
    ("threadId", "coalesce(thread_id, trace_id)"),
    ("spanId", "span_id"),
    ("parentSpanId", "parent_span_id"),
    ("spanKind", "span_kind"),
    ("spanName", "span_name"),
    ("stepId", "step_id"),
    ("parentStepId", "parent_step_id"),
    ("eventType", "event_type"),
    ("timestamp", "ts"),
    ("agentName", "agent_name"),
    ("externalUserId", "external_user_id"),
    ("model", "model"),
    ("provider", "provider"),
    ("promptTokens", "prompt_tokens"),
    ("completionTokens", "completion_tokens"),
    ("totalTokens", "total_tokens"),
    ("cacheReadTokens", "cache_read_tokens"),
    ("cacheCreationTokens", "cache_creation_tokens"),
    ("cacheWriteTokens", "cache_creation_tokens"),
    ("latencyMs", "latency_ms"),
    ("finishReason", "finish_reason"),
    ("hasError", "is_error = 1"),
    ("createdAt", "created_at"),
    # An LLM call's cost in USD at the price version that priced it; null: no price.
    ("costUsd", "cost_usd"),
    ("priceVersion", "price_version"),
)
TS_US = len(EVENT_FIELDS)
CONTENT = TS_US + 1
METADATA = TS_US + 2
EventTuple = tuple[Any, ...]


def _event_columns(content: bool, metadata: bool) -> str:
    fields = ", ".join(expression for _, expression in EVENT_FIELDS)
    return (
        f"{fields}, ts_us, {'content' if content else 'NULL'}, {'metadata' if metadata else 'NULL'}"
    )


def _tuples(conn: Connection, query: str, params: Sequence[Any]) -> list[EventTuple]:
    cursor = conn.cursor()  # type: ignore[attr-defined]
    cursor.row_factory = None
    return cursor.execute(query, params).fetchall()


TRACE_COLUMNS = (
    "t.trace_id, t.agent_name, t.agent_id, t.agent_version_id, t.thread_id,"
    " t.external_user_id, t.first_ts, t.first_ts_us, t.last_ts, t.last_ts_us, t.event_count,"
    " t.error_count, t.prompt_tokens, t.completion_tokens, t.total_tokens, t.cache_read_tokens,"
    " t.cache_creation_tokens, t.total_latency_ms, t.llm_calls, t.last_model, t.created_at,"
    " t.updated_at, t.updated_us, t.cost_usd, t.unpriced_calls, t.reasoning_tokens"
)


def trace_events(
    conn: Connection,
    project_id: str,
    trace_id: str,
    *,
    limit: int,
    offset: int = 0,
    content: bool = True,
    metadata: bool = True,
) -> list[EventTuple]:
    """A trace's events in time order (ties: step, then arrival)."""
    query = (
        f"SELECT {_event_columns(content, metadata)} FROM events"
        " WHERE project_id = ? AND trace_id = ? ORDER BY ts_us, step_id, seq LIMIT ? OFFSET ?"
    )
    return _tuples(conn, query, (project_id, trace_id, limit, offset))


def get_trace(conn: Connection, project_id: str, trace_id: str) -> Row | None:
    query = f"SELECT {TRACE_COLUMNS} FROM traces t WHERE t.project_id = ? AND t.trace_id = ?"
    row: Row | None = conn.execute(query, (project_id, trace_id)).fetchone()
    return row


@attrs.frozen
class TraceFilter:
    agent_name: str | None = None
    agent_id: str | None = None
    external_user_id: str | None = None
    thread_id: str | None = None
    start_us: int | None = None
    end_us: int | None = None
    has_errors: bool | None = None
    updated_since_us: int | None = None
    trace_id_prefix: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses, params = ["t.project_id = ?"], []
        checks: list[tuple[str, Any]] = [
            ("t.agent_name = ?", self.agent_name),
            ("t.agent_id = ?", self.agent_id),
            ("t.external_user_id = ?", self.external_user_id),
            ("t.last_ts_us >= ?", self.start_us),
            ("t.first_ts_us <= ?", self.end_us),
            # >=: a poller passing the largest updatedAt it saw never misses a later write
            ("t.updated_us >= ?", self.updated_since_us),
        ]
        for clause, value in checks:
            if value is not None:
                clauses.append(clause)
                params.append(value)
        if self.thread_id is not None:
            clauses.append("(t.trace_id = ? OR t.thread_id = ?)")
            params += [self.thread_id, self.thread_id]
        if self.has_errors is not None:
            clauses.append("t.error_count > 0" if self.has_errors else "t.error_count = 0")
        if self.trace_id_prefix:
            # A range (not LIKE, whose % and _ ids may hold): the index finds the first match.
            clauses.append("t.trace_id >= ? AND t.trace_id < ?")
            params += [self.trace_id_prefix, self.trace_id_prefix + "\U0010ffff"]
        return " AND ".join(clauses), params


def list_traces(
    conn: Connection, project_id: str, where: TraceFilter, *, limit: int, offset: int
) -> tuple[int, list[Row]]:
    clause, params = where.where()
    params = [project_id, *params]
    (total,) = conn.execute(f"SELECT count(*) FROM traces t WHERE {clause}", params).fetchone()
    rows = conn.execute(
        f"SELECT {TRACE_COLUMNS} FROM traces t WHERE {clause}"
        " ORDER BY t.last_ts_us DESC, t.trace_id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return int(total), rows


def list_events(
    conn: Connection,
    project_id: str,
    trace_id: str | None,
    *,
    limit: int,
    offset: int,
    content: bool,
    metadata: bool,
) -> tuple[int, list[EventTuple]]:
    """Events newest first (WhyOps ``GET /api/events``), optionally of one trace."""
    clause, params = "project_id = ?", [project_id]
    if trace_id is not None:
        clause, params = clause + " AND trace_id = ?", [project_id, trace_id]
    (total,) = conn.execute(f"SELECT count(*) FROM events WHERE {clause}", params).fetchone()
    rows = _tuples(
        conn,
        f"SELECT {_event_columns(content, metadata)} FROM events WHERE {clause}"
        " ORDER BY ts_us DESC, seq DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return int(total), rows


def get_event(
    conn: Connection, project_id: str, event_id: str, *, content: bool, metadata: bool
) -> EventTuple | None:
    columns = _event_columns(content, metadata)
    query = f"SELECT {columns} FROM events WHERE id = ? AND project_id = ?"
    rows = _tuples(conn, query, (event_id, project_id))
    return rows[0] if rows else None


def list_agents(
    conn: Connection,
    project_id: str,
    *,
    limit: int,
    offset: int,
    agent_id: str | None = None,
) -> tuple[int, list[Row]]:
    """Agents with their version, trace, event and error counts, most recently updated first.

    ``error_count`` counts error events; ``traces_with_errors`` the traces holding one or more;
    ``cost_usd`` sums the priced traces (NULL: none priced).
    """
    only = "" if agent_id is None else " AND a.id = ?"
    params: tuple[object, ...] = (project_id,) if agent_id is None else (project_id, agent_id)
    (total,) = conn.execute(
        f"SELECT count(*) FROM agents a WHERE a.project_id = ?{only}", params
    ).fetchone()
    rows = conn.execute(
        "SELECT a.id, a.name, a.created_at, a.updated_at, a.latest_version_id,"
        " (SELECT count(*) FROM traces t WHERE t.project_id = a.project_id AND t.agent_id = a.id)"
        "   AS trace_count,"
        " (SELECT coalesce(sum(event_count), 0) FROM traces t"
        "   WHERE t.project_id = a.project_id AND t.agent_id = a.id) AS event_count,"
        " (SELECT coalesce(sum(error_count), 0) FROM traces t"
        "   WHERE t.project_id = a.project_id AND t.agent_id = a.id) AS error_count,"
        " (SELECT count(*) FROM traces t WHERE t.project_id = a.project_id"
        "   AND t.agent_id = a.id AND t.error_count > 0) AS traces_with_errors,"
        " (SELECT count(*) FROM agent_versions v WHERE v.agent_id = a.id) AS version_count,"
        " (SELECT max(last_ts) FROM traces t"
        "   WHERE t.project_id = a.project_id AND t.agent_id = a.id) AS last_active,"
        " (SELECT sum(cost_usd) FROM traces t"
        "   WHERE t.project_id = a.project_id AND t.agent_id = a.id) AS cost_usd"
        f" FROM agents a WHERE a.project_id = ?{only} ORDER BY a.updated_at DESC, a.name"
        " LIMIT ? OFFSET ?",
        (*params, limit, offset),
    ).fetchall()
    return int(total), rows


def find_agent(conn: Connection, project_id: str, id_or_name: str) -> Row | None:
    row: Row | None = conn.execute(
        "SELECT id, name FROM agents WHERE project_id = ? AND (id = ? OR name = ?)"
        " ORDER BY id = ? DESC LIMIT 1",
        (project_id, id_or_name, id_or_name, id_or_name),
    ).fetchone()
    return row


def agent_version(conn: Connection, version_id: str) -> Row | None:
    row: Row | None = conn.execute(
        "SELECT id, hash, metadata, auto_created, created_at, updated_at FROM agent_versions"
        " WHERE id = ?",
        (version_id,),
    ).fetchone()
    return row


def agent_versions(conn: Connection, agent_id: str) -> list[Row]:
    order = dialect_of(conn).insertion_order
    rows: list[Row] = conn.execute(
        "SELECT id, hash, metadata, auto_created, created_at, updated_at FROM agent_versions"
        f" WHERE agent_id = ? ORDER BY created_at, {order}",
        (agent_id,),
    ).fetchall()
    return rows
