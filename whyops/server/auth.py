"""API-key authentication: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from whyops.server.store.keys import hash_key
from whyops.server.store.rows import Project

__all__ = ["Project", "authenticate", "extract_key", "unauthorized"]


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


def unauthorized(request: HTTPConnection, **extra: object) -> JSONResponse:
    reason = "Invalid API key" if extract_key(request) else "Authentication required"
    return JSONResponse({**extra, "error": f"Unauthorized: {reason}"}, status_code=401)
