"""API-key authentication: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from whyops.server.store.keys import hash_key
from whyops.server.store.rows import Project

__all__ = [
    "Project",
    "authenticate",
    "authenticated",
    "extract_key",
    "unauthorized",
    "unauthorized_message",
]

Handler = Callable[[Request, Project], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def extract_key(conn: HTTPConnection) -> str | None:
    """The key a request carries, in WhyOps' order: Bearer first, then X-API-Key."""
    header = conn.headers.get("authorization")
    if header is not None and header[:7].lower() == "bearer ":
        key = header[7:].strip()
        if key:
            return key
    key = (conn.headers.get("x-api-key") or "").strip()
    return key or None


async def authenticate(request: HTTPConnection) -> Project | None:
    """The project of the request's key, or None (answer with :func:`unauthorized`)."""
    key = extract_key(request)
    if key is None:
        return None
    keys: dict[str, Project] = request.app.state.keys
    return keys.get(hash_key(key))


def unauthorized_message(conn: HTTPConnection) -> str:
    reason = "Invalid API key" if extract_key(conn) else "Authentication required"
    return f"Unauthorized: {reason}"


def unauthorized(request: HTTPConnection, **extra: object) -> JSONResponse:
    return JSONResponse({**extra, "error": unauthorized_message(request)}, status_code=401)


def authenticated(**refusal: object) -> Callable[[Handler], Endpoint]:
    """Turn ``handler(request, project)`` into an endpoint that answers 401 without a valid key.

    ``refusal`` adds fields to the 401 body (agent init answers ``"success": false``).
    """

    def wrap(handler: Handler) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            project = await authenticate(request)
            if project is None:
                return unauthorized(request, **refusal)
            return await handler(request, project)

        return endpoint

    return wrap
