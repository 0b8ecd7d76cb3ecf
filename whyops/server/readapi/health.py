"""``GET /api/health``: no authentication, cheap, says which build answers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from whyops._version import __version__
from whyops.server.store.schema import SCHEMA_VERSION


async def health(request: Request) -> Response:
    return JSONResponse(
        {"status": "ok", "service": "whyops", "version": __version__, "schema": SCHEMA_VERSION}
    )
