"""``GET /api/threads`` and ``GET /api/threads/{id}``: traces with their totals."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from whyops.server.auth import Project, authenticated
from whyops.server.readapi.common import not_found, read
from whyops.server.readapi.params import Query
from whyops.server.readapi.shapes import (
    ENCODER,
    RawJSONResponse,
    event_fields,
    event_text,
    pagination,
    thread_summary_json,
)
from whyops.server.store import queries
from whyops.server.store.dialect import Connection
from whyops.server.store.queries import TS_US, EventTuple, Row

# A whole trace is what the web page wants; WhyOps' default page of 200 would cut it.
DEFAULT_EVENT_LIMIT = 1000
MAX_EVENT_LIMIT = 10_000


@authenticated()
async def list_threads(request: Request, project: Project) -> Response:
    query = Query(request)
    page = query.integer("page", 1, 1, 1_000_000)
    count = query.integer("count", 20, 1, 100)
    where = queries.TraceFilter(
        agent_name=query.text("agentName", "entityName"),
        agent_id=query.text("agentId"),
        external_user_id=query.text("externalUserId"),
        thread_id=query.text("threadId"),
        start_us=query.time_us("startDate"),
        end_us=query.time_us("endDate"),
        has_errors=query.boolean("hasErrors"),
        updated_since_us=query.time_us("updatedSince"),
        trace_id_prefix=query.text("traceIdPrefix"),
    )
    if (error := query.error()) is not None:
        return error
    total, rows = await read(
        request, queries.list_traces, project.id, where, limit=count, offset=(page - 1) * count
    )
    threads = [thread_summary_json(row) for row in rows]
    return JSONResponse(
        {"success": True, "threads": threads, "pagination": pagination(total, count, page)}
    )


def _thread_detail(
    conn: Connection,
    project_id: str,
    trace_id: str,
    limit: int,
    offset: int,
    include: set[str],
) -> tuple[Row | None, list[EventTuple]]:
    trace = queries.get_trace(conn, project_id, trace_id)
    if trace is None:
        return None, []
    rows = queries.trace_events(
        conn,
        project_id,
        trace_id,
        limit=limit,
        offset=offset,
        content="content" in include,
        metadata="metadata" in include,
    )
    return trace, rows


@authenticated()
async def get_thread(request: Request, project: Project) -> Response:
    query = Query(request)
    limit = query.integer("eventLimit", DEFAULT_EVENT_LIMIT, 1, MAX_EVENT_LIMIT)
    offset = query.integer("eventOffset", 0, 0, 2**31)
    include = query.includes("eventInclude") | query.includes("include")
    if (error := query.error()) is not None:
        return error
    trace_id = request.path_params["thread_id"]
    trace, rows = await read(request, _thread_detail, project.id, trace_id, limit, offset, include)
    if trace is None:
        return not_found("Thread")
    return RawJSONResponse(_detail_text(trace, rows, include, limit, offset))


def _detail_text(
    trace: Row, rows: list[EventTuple], include: set[str], limit: int, offset: int
) -> str:
    """The thread as JSON text; events are spliced in as text (see ``event_text``)."""
    summary = thread_summary_json(trace)
    events, late = _timed_events(rows, trace["first_ts_us"], include)
    llm_calls = summary["llmCalls"]
    head = {
        "success": True,
        "sampledOut": False,
        "sampledIn": True,
        **summary,
        "avgLatency": summary["totalLatency"] / llm_calls if llm_calls else 0,
        "hasLateEvents": late,
        "eventsPagination": {
            "total": summary["eventCount"],
            "limit": limit,
            "offset": offset,
            "hasMore": offset + len(rows) < summary["eventCount"],
        },
    }
    return ENCODER.encode(head)[:-1] + ',"events":[' + ",".join(events) + "]}"


def _timed_events(
    rows: list[EventTuple], start_us: int, include: set[str]
) -> tuple[list[str], bool]:
    """Events as JSON texts with WhyOps' derived timing fields, and whether any came late."""
    content, metadata = "content" in include, "metadata" in include
    texts = []
    highest_step = 0
    late = False
    for index, row in enumerate(rows):
        event = event_fields(row)
        ts_us = row[TS_US]
        following = rows[index + 1][TS_US] if index + 1 < len(rows) else ts_us
        event["duration"] = (following - ts_us) / 1000
        event["timeSinceStart"] = (ts_us - start_us) / 1000
        step = event["stepId"] or 0
        event["isLateEvent"] = step < highest_step
        late = late or event["isLateEvent"]
        highest_step = max(highest_step, step)
        texts.append(event_text(event, row, content=content, metadata=metadata))
    return texts, late
