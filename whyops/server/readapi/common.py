"""What every read endpoint does first: authenticate, then run a query off the event loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from whyops.server.store import Store

T = TypeVar("T")


async def read(request: Request, query: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    store: Store = request.app.state.store
    return await run_in_threadpool(store.read, query, *args, **kwargs)


def not_found(what: str) -> JSONResponse:
    return JSONResponse({"error": f"{what} not found"}, 404)
