"""``GET /api/entities`` and ``GET /api/entities/{id}``: agents and all their versions."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from whyops.server.auth import Project, authenticated
from whyops.server.nesting import load_stored
from whyops.server.readapi.common import not_found, read
from whyops.server.readapi.params import Query
from whyops.server.readapi.shapes import pagination
from whyops.server.store import queries
from whyops.server.store.dialect import Connection
from whyops.server.store.queries import Row


def _version_json(row: Row, *, metadata: bool) -> dict[str, Any]:
    version: dict[str, Any] = {
        "id": row["id"],
        "hash": row["hash"],
        "samplingRate": 1.0,  # every trace is kept: there is no sampling
        "autoCreated": bool(row["auto_created"]),
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }
    if metadata:
        version["metadata"] = load_stored(row["metadata"])
    return version


def _success_percentage(events: int, errors: int) -> float:
    return round((events - errors) / events * 100, 1) if events else 100.0


def _agent_json(row: Row, latest: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "maxTraces": None,
        "maxSpans": None,
        "versionCount": row["version_count"],
        "traceCount": row["trace_count"],
        "tracesWithErrors": row["traces_with_errors"],
        "eventCount": row["event_count"],
        "successPercentage": _success_percentage(row["event_count"], row["error_count"]),
        "lastActive": row["last_active"],
        "costUsd": row["cost_usd"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "latestVersion": latest,
    }


def _agents_page(
    conn: Connection, project_id: str, limit: int, offset: int, metadata: bool
) -> tuple[int, list[dict[str, Any]]]:
    total, rows = queries.list_agents(conn, project_id, limit=limit, offset=offset)
    agents = []
    for row in rows:
        latest_id = row["latest_version_id"]
        latest = None if latest_id is None else queries.agent_version(conn, latest_id)
        latest_json = None if latest is None else _version_json(latest, metadata=metadata)
        agents.append(_agent_json(row, latest_json))
    return total, agents


@authenticated()
async def list_entities(request: Request, project: Project) -> Response:
    query = Query(request)
    page = query.integer("page", 1, 1, 1_000_000)
    count = query.integer("count", 20, 1, 100)
    metadata = "metadata" in query.includes("include")
    if (error := query.error()) is not None:
        return error
    total, agents = await read(
        request, _agents_page, project.id, count, (page - 1) * count, metadata
    )
    return JSONResponse(
        {"success": True, "agents": agents, "pagination": pagination(total, count, page)}
    )


def _agent_detail(conn: Connection, project_id: str, id_or_name: str) -> dict[str, Any] | None:
    found = queries.find_agent(conn, project_id, id_or_name)
    if found is None:
        return None
    _, rows = queries.list_agents(conn, project_id, limit=1, offset=0, agent_id=found["id"])
    row = rows[0]
    versions = [_version_json(v, metadata=True) for v in queries.agent_versions(conn, row["id"])]
    latest = next((v for v in versions if v["id"] == row["latest_version_id"]), None)
    return {**_agent_json(row, latest), "versions": versions}


@authenticated()
async def get_entity(request: Request, project: Project) -> Response:
    agent = await read(request, _agent_detail, project.id, request.path_params["entity_id"])
    if agent is None:
        return not_found("Agent")
    return JSONResponse({"success": True, "agent": agent, **agent})
