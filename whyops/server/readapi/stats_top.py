"""``GET /api/stats/top``: the costliest traces, slowest and most failing tools, heaviest users.

Traces (and so users) are taken by their first event's time; tool calls by the time of the
event that ended them (``stats_sql.TOOL_END``). A tool is named by its event's
``metadata.tool``, else by its span name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from whyops.server.auth import Project, authenticated
from whyops.server.readapi.common import read
from whyops.server.readapi.params import Query
from whyops.server.readapi.stats_range import Range, read_range
from whyops.server.readapi.stats_sql import TOOL_END, percentile
from whyops.server.store.dialect import Connection, dialect_of
from whyops.server.timeutil import format_us

DEFAULT_LIMIT, MAX_LIMIT = 10, 100
P95 = 95
# The ranks (1-based ``r`` of ``n``) the 95th percentile interpolates from.
_P95 = f"r - 1 IN ({P95} * (n - 1) / 100, {P95} * (n - 1) / 100 + 1)"


def costliest_traces(
    conn: Connection, project_id: str, span: Range, limit: int
) -> list[dict[str, Any]]:
    where, params = span.where(project_id, "first_ts_us")
    rows = conn.execute(
        "SELECT trace_id, agent_name, coalesce(thread_id, trace_id), external_user_id, first_ts,"
        f" cost_usd, total_tokens, llm_calls FROM traces WHERE {where}"
        " ORDER BY cost_usd IS NULL, cost_usd DESC, total_tokens DESC, trace_id LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [dict(zip(_TRACE_NAMES, row, strict=True)) for row in rows]


_TRACE_NAMES = (
    "traceId", "agentName", "threadId", "userId", "startedAt", "costUsd", "tokens", "llmCalls",
)  # fmt: skip


def heaviest_users(
    conn: Connection, project_id: str, span: Range, limit: int
) -> list[dict[str, Any]]:
    where, params = span.where(project_id, "first_ts_us")
    where += " AND external_user_id IS NOT NULL"
    rows = conn.execute(
        "SELECT external_user_id, count(*), sum(total_tokens), sum(cost_usd) FROM traces"
        f" WHERE {where} GROUP BY external_user_id"
        " ORDER BY sum(cost_usd) IS NULL, sum(cost_usd) DESC, sum(total_tokens) DESC,"
        " external_user_id LIMIT ?",
        [*params, limit],
    ).fetchall()
    if not rows:
        return []
    users = [row[0] for row in rows]
    latest = conn.execute(
        "SELECT u, trace_id FROM (SELECT external_user_id AS u, trace_id, row_number() OVER"
        " (PARTITION BY external_user_id ORDER BY last_ts_us DESC, trace_id) AS r"
        f" FROM traces WHERE {where} AND external_user_id IN ({', '.join('?' * len(users))}))"
        " AS ordered WHERE r = 1",
        [*params, *users],
    ).fetchall()
    last = {user: trace for user, trace in latest}
    return [
        {"userId": u, "traces": n, "tokens": tokens, "costUsd": cost, "lastTraceId": last.get(u)}
        for u, n, tokens, cost in rows
    ]


def _tool_calls(
    conn: Connection, project_id: str, span: Range, columns: str
) -> tuple[str, list[Any]]:
    """The tool calls of the range, as a query of ``tool`` and ``columns``, and its params."""
    named = dialect_of(conn).json_string.format(column="metadata", key="tool")
    where, params = span.where(project_id, "ts_us")
    query = (
        f"SELECT coalesce({named}, span_name) AS tool, {columns} FROM events"
        f" WHERE {where} AND {TOOL_END}"
    )
    return query, params


def slowest_tools(
    conn: Connection, project_id: str, span: Range, limit: int
) -> list[dict[str, Any]]:
    calls, params = _tool_calls(conn, project_id, span, "latency_ms AS v, ts_us, trace_id")
    # Equally slow calls rank by time, then trace id: the row links the latest of them, the
    # same on both stores.
    ranked = (
        "SELECT tool, v, trace_id, row_number() OVER"
        " (PARTITION BY tool ORDER BY v, ts_us, trace_id) AS r,"
        f" count(*) OVER (PARTITION BY tool) AS n FROM ({calls} AND latency_ms IS NOT NULL)"
        " AS calls"
    )
    query = f"SELECT tool, v, trace_id, r, n FROM ({ranked}) AS ranked WHERE r = n OR {_P95}"
    tools: dict[Any, dict[str, Any]] = {}
    for tool, value, trace_id, rank, count in conn.execute(query, params):
        found = tools.setdefault(tool, {"calls": int(count), "values": {}, "slowest": None})
        found["values"][int(rank) - 1] = float(value)
        if rank == count:
            found["slowest"] = trace_id
    rows = [
        {
            "tool": tool,
            "calls": found["calls"],
            "p95Ms": percentile(found["values"], found["calls"], P95),
            "maxMs": found["values"][found["calls"] - 1],
            "slowestTraceId": found["slowest"],
        }
        for tool, found in tools.items()
    ]
    rows.sort(key=lambda row: (-row["p95Ms"], -row["maxMs"], str(row["tool"])))
    return rows[:limit]


def failing_tools(
    conn: Connection, project_id: str, span: Range, limit: int
) -> list[dict[str, Any]]:
    calls, params = _tool_calls(conn, project_id, span, "is_error, ts_us, trace_id")
    counted = (
        "SELECT tool, trace_id, count(*) OVER (PARTITION BY tool) AS calls,"
        " sum(is_error) OVER (PARTITION BY tool) AS failures, row_number() OVER"
        " (PARTITION BY tool ORDER BY is_error DESC, ts_us DESC, trace_id) AS r"
        f" FROM ({calls}) AS calls"
    )
    rows = conn.execute(
        f"SELECT tool, calls, failures, trace_id FROM ({counted}) AS counted"
        " WHERE r = 1 AND failures > 0",
        params,
    ).fetchall()
    failing = [
        {
            "tool": tool,
            "calls": int(calls),
            "failures": int(failures),
            "failureRate": int(failures) / int(calls),
            "lastFailedTraceId": trace_id,
        }
        for tool, calls, failures, trace_id in rows
    ]
    failing.sort(key=lambda row: (-row["failures"], -row["failureRate"], str(row["tool"])))
    return failing[:limit]


KINDS: dict[str, Callable[[Connection, str, Range, int], list[dict[str, Any]]]] = {
    "costliest_traces": costliest_traces,
    "slowest_tools": slowest_tools,
    "failing_tools": failing_tools,
    "heaviest_users": heaviest_users,
}


@authenticated()
async def get_top(request: Request, project: Project) -> Response:
    query = Query(request)
    kind = query.text("kind")
    if kind not in KINDS:
        query.issues.add("kind", f"Expected one of {', '.join(KINDS)}", "invalid_enum_value")
    span = read_range(query)
    limit = query.integer("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    if (error := query.error()) is not None:
        return error
    assert kind is not None
    rows = await read(request, KINDS[kind], project.id, span, limit)
    answer = {"kind": kind, "from": format_us(span.from_us), "to": format_us(span.to_us)}
    return JSONResponse({**answer, "rows": rows})
