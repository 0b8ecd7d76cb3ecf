"""``GET /api/health``: no authentication, cheap, says which build answers and how writes go."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from whyops._version import __version__
from whyops.server.store.schema import SCHEMA_VERSION


def _writes(state: Any) -> dict[str, Any]:
    """What the proxy's recorder stored and dropped, and the writer's backlog."""
    recorder, store = getattr(state, "recorder", None), getattr(state, "store", None)
    if recorder is None or store is None:
        return {}
    counts = recorder.counts()
    return {
        "recorder": {"recorded": counts[0], "failed": counts[1]},
        "writerQueue": store.queued_writes,
    }


async def health(request: Request) -> Response:
    build = {"status": "ok", "service": "whyops", "version": __version__, "schema": SCHEMA_VERSION}
    return JSONResponse({**build, **_writes(request.app.state)})
