"""App assembly: collector, read API, proxy, simulator and web page on one Starlette app."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from whyops.pricing import PriceTable
from whyops.server import collector, otlp_route, proxy, readapi, simulator
from whyops.server.backpressure import STORAGE_RETRY_AFTER_S
from whyops.server.otlp_export import Forwarder, start_forwarder
from whyops.server.proxy.budgets import Budgets, parse_budgets
from whyops.server.recorder import Recorder
from whyops.server.security import SecurityHeaders
from whyops.server.settings import ServerSettings
from whyops.server.simulator_mount import SimulatorGate
from whyops.server.store import StorageUnavailableError, Store, bootstrap_keys

log = logging.getLogger("whyops.server")
WEB_DIR = Path(__file__).parent / "web"


def _proxy_routes() -> list[BaseRoute]:
    return list(proxy.routes())


def _simulator_routes(settings: ServerSettings) -> list[BaseRoute]:
    """The simulator, with ``--simulate`` only, behind the server's auth and body limit."""
    if not settings.simulate:
        return []
    return [Mount("/simulator", app=SimulatorGate(simulator.create_app()))]


class _WebMount(Mount):
    """The web page at ``/``, but only for GET/HEAD outside the API prefixes, so an unknown
    API path stays a JSON 404 and a wrong method on an API route a 405 with its own Allow."""

    _API_PREFIXES = ("/api/", "/v1/", "/simulator/")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and (
            scope["method"] not in ("GET", "HEAD") or scope["path"].startswith(self._API_PREFIXES)
        ):
            return Match.NONE, {}
        return super().matches(scope)


def _web_routes() -> list[BaseRoute]:
    if not (WEB_DIR / "index.html").is_file():
        return []
    return [_WebMount("/", app=StaticFiles(directory=WEB_DIR, html=True), name="web")]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "Not Found", 405: "Method Not Allowed"}
    message = messages.get(exc.status_code, exc.detail)
    return JSONResponse({"error": message}, exc.status_code, headers=exc.headers)


async def _storage_unavailable(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StorageUnavailableError)
    message = f"Service Unavailable: the store cannot commit ({exc.reason}); nothing was stored"
    headers = {"Retry-After": str(STORAGE_RETRY_AFTER_S)}
    return JSONResponse({"error": message}, 503, headers=headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": "Internal Server Error"}, 500)


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    settings: ServerSettings = app.state.settings
    keys, generated = bootstrap_keys(settings.db_path, settings.key_specs)
    if generated is not None:
        log.warning("generated API key (shown once): %s", generated)
    store = Store(settings.db_path, PriceTable.load(settings.prices_path))
    app.state.keys = keys
    app.state.store = store
    app.state.recorder = Recorder(store)
    app.state.forwarder = _start_forwarder(settings, store)
    try:
        yield
    finally:
        await _close_proxy(app)
        if app.state.forwarder is not None:
            app.state.forwarder.stop()
        store.close()


def _start_forwarder(settings: ServerSettings, store: Store) -> Forwarder | None:
    """``--otlp-export``: the durable forwarder of everything stored (otlp_export/)."""
    if settings.otlp_export_url is None:
        return None
    return start_forwarder(store, settings.otlp_export_url, settings.otlp_export_headers)


async def _close_proxy(app: Starlette) -> None:
    try:
        await proxy.aclose(app)
    except Exception:
        log.exception("closing the proxy's upstream client failed")


def create_app(settings: ServerSettings) -> Starlette:
    """The whole server as one ASGI app; storage opens and closes with its lifespan."""
    routes: list[BaseRoute] = [*collector.routes(), *otlp_route.routes(), *readapi.routes()]
    routes += _proxy_routes()
    routes += _simulator_routes(settings)
    routes += _web_routes()
    app = Starlette(
        routes=routes,
        exception_handlers={
            HTTPException: _http_error,
            StorageUnavailableError: _storage_unavailable,
            Exception: _internal_error,
        },
        middleware=[Middleware(SecurityHeaders)],
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.budgets = Budgets(parse_budgets(settings.budgets))
    return app
