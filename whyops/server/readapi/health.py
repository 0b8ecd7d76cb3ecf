"""``GET /api/health``: cheap; liveness for anyone, the build and write counters with a key."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from whyops._version import __version__
from whyops.server.auth import authenticate
from whyops.server.store.schema import SCHEMA_VERSION


def _status(state: Any) -> dict[str, Any]:
    """``ok``, or ``degraded`` while the store cannot commit (with why, for key holders)."""
    store = getattr(state, "store", None)
    failure = None if store is None else store.failure
    return {"status": "ok"} if failure is None else {"status": "degraded", "reason": failure}


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
    status = _status(request.app.state)
    if await authenticate(request) is None:  # liveness only: nothing about the build or load
        return JSONResponse({"status": status["status"], "service": "whyops"})
    build = {"service": "whyops", "version": __version__, "schema": SCHEMA_VERSION}
    forwarder = getattr(request.app.state, "forwarder", None)  # --otlp-export
    export = {} if forwarder is None else {"otlpExport": forwarder.status()}
    return JSONResponse({**status, **build, **_writes(request.app.state), **export})
