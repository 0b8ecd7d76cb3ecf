"""``GET /api/events`` (newest first) and ``GET /api/events/{id}``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from whyops.server.auth import Project, authenticated
from whyops.server.readapi.common import read
from whyops.server.readapi.params import Query
from whyops.server.readapi.shapes import (
    ENCODER,
    RawJSONResponse,
    event_fields,
    event_json,
    event_text,
)
from whyops.server.store import queries


@authenticated()
async def list_events(request: Request, project: Project) -> Response:
    query = Query(request)
    limit = query.integer("limit", 100, 1, 200)
    offset = query.integer("offset", 0, 0, 2**31)
    include = query.includes("include")
    if (error := query.error()) is not None:
        return error
    content, metadata = "content" in include, "metadata" in include
    total, rows = await read(
        request,
        queries.list_events,
        project.id,
        query.text("traceId", "threadId"),
        limit=limit,
        offset=offset,
        content=content,
        metadata=metadata,
    )
    events = [event_text(event_fields(r), r, content=content, metadata=metadata) for r in rows]
    page = {"total": total, "limit": limit, "offset": offset, "hasMore": offset + len(rows) < total}
    return RawJSONResponse(
        '{"events":[' + ",".join(events) + '],"pagination":' + ENCODER.encode(page) + "}"
    )


@authenticated()
async def get_event(request: Request, project: Project) -> Response:
    query = Query(request)
    include = query.includes("include")
    content, metadata = "content" in include, "metadata" in include
    row = await read(
        request,
        queries.get_event,
        project.id,
        request.path_params["event_id"],
        content=content,
        metadata=metadata,
    )
    if row is None:
        return JSONResponse({"error": "Event not found"}, 404)
    return JSONResponse(event_json(row, content=content, metadata=metadata))
