"""The WhyOps collector: agent init and event ingest, same paths, bodies and status codes.

Writes are acknowledged only after they are committed: ``/api/events/ingest`` answers 202
once the batch is in the database (WhyOps answers 202 when it is queued in Redis).
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from whyops.server.agent_schema import parse_agent_init
from whyops.server.auth import Project, authenticated
from whyops.server.bodies import BodyError, read_body, read_json
from whyops.server.headers import header_text
from whyops.server.intake import Batch, Intake, Refused
from whyops.server.settings import ServerSettings
from whyops.server.store import Store, WriterClosedError
from whyops.server.store.text import NUL_MESSAGE
from whyops.server.timeutil import now_us
from whyops.server.validation import Issues, check_string
from whyops.wire.events import EventType


def _settings(request: Request) -> ServerSettings:
    return request.app.state.settings


def _store(request: Request) -> Store:
    return request.app.state.store


def _unavailable() -> JSONResponse:
    return JSONResponse({"error": "Service Unavailable: the server is shutting down"}, 503)


@authenticated(success=False)
async def init_agent(request: Request, project: Project) -> Response:
    """``POST /api/entities/init`` and ``POST /v1/agents/init``."""
    try:
        body = await read_json(request, _settings(request).max_body_bytes)
    except BodyError as exc:
        return JSONResponse({"success": False, "error": exc.message}, exc.status)
    name, metadata, issues = parse_agent_init(body)
    if not issues and "\x00" in name and _store(request).postgres:  # text PostgreSQL can't hold
        issues = [{"code": "invalid_string", "message": NUL_MESSAGE, "path": ["agentName"]}]
    if issues:
        error = {"issues": issues, "name": "ZodError"}
        return JSONResponse({"success": False, "error": error}, 400)
    try:
        future = _store(request).init_agent(project.id, name, metadata)
    except WriterClosedError:
        return _unavailable()
    outcome = await asyncio.wrap_future(future)
    payload = {
        "success": True,
        "agentId": outcome.agent_id,
        "agentVersionId": outcome.version_id,
        "status": "created" if outcome.created else "existing",
        "versionHash": outcome.version_hash,
    }
    return JSONResponse(payload, 201 if outcome.created else 200)


def _validation_failed(details: list[dict[str, str]]) -> JSONResponse:
    return JSONResponse({"error": "Validation failed", "details": details}, 400)


async def _accept(
    request: Request, project: Project, forced_type: str | None = None
) -> Batch | Response:
    """Read, then parse, validate and store a batch; a Response: refused."""
    settings = _settings(request)
    issues = Issues()
    header_user = header_text(request.headers, "x-external-user-id")
    if header_user is not None:
        header_user = check_string(header_user, "X-External-User-Id", issues, max_len=255)
    if issues:
        return _validation_failed(issues.items)
    try:
        raw = await read_body(request, settings.max_body_bytes)
    except BodyError as exc:
        return exc.response()
    intake = Intake(
        raw=raw,
        encoding=request.headers.get("content-encoding"),
        header_user=header_user,
        forced_type=forced_type,
        received_us=now_us(),
        max_body_bytes=settings.max_body_bytes,
        max_batch_events=settings.max_batch_events,
    )
    try:
        future = _store(request).submit(partial(intake.run, project_id=project.id))
    except WriterClosedError:
        return _unavailable()
    outcome = await asyncio.wrap_future(future)
    return outcome.response() if isinstance(outcome, Refused) else outcome


@authenticated()
async def ingest(request: Request, project: Project) -> Response:
    """``POST /api/events/ingest``: 202 once the whole batch is committed."""
    outcome = await _accept(request, project)
    if isinstance(outcome, Response):
        return outcome
    payload = {"success": True, "accepted": True, "queuedCount": outcome.items}
    return JSONResponse(payload, 202)


def _per_item(batch: Batch) -> Any:
    """One result per posted item (a legacy ``tool_call`` item stored two events: the last)."""
    by_item = {result.item: result.to_json() for result in batch.results}
    if batch.is_list:
        return [by_item[i] for i in range(batch.items)]
    return by_item[0]


@authenticated()
async def create_events(request: Request, project: Project) -> Response:
    """``POST /api/events``: synchronous, 201 with per-event results (saved/skipped)."""
    outcome = await _accept(request, project)
    if isinstance(outcome, Response):
        return outcome
    return JSONResponse(_per_item(outcome), 201)


@authenticated()
async def tool_result(request: Request, project: Project) -> Response:
    """``POST /api/events/tool-result``: a ``tool_call_response`` without ``eventType``."""
    outcome = await _accept(request, project, forced_type=EventType.TOOL_CALL_RESPONSE.value)
    if isinstance(outcome, Response):
        return outcome
    return JSONResponse(_per_item(outcome), 201)


def routes() -> list[Route]:
    return [
        Route("/api/entities/init", init_agent, methods=["POST"]),
        Route("/v1/agents/init", init_agent, methods=["POST"]),
        Route("/api/events/ingest", ingest, methods=["POST"]),
        Route("/api/events/tool-result", tool_result, methods=["POST"]),
        Route("/api/events", create_events, methods=["POST"]),
    ]
