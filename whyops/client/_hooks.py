"""The request hook that carries the ambient trace on every proxied request.

One hook lives on a provider client's underlying httpx client (shared by its copies).
httpx runs request hooks in the caller's thread or task, after the SDK has merged its
headers, on every attempt (retries and redirects too), so the hook sees the caller's
``contextvars`` and whatever headers the caller set explicitly. It only touches requests
under a registered proxy prefix: a user's ``http_client`` may be shared with other hosts.
"""

from __future__ import annotations

from typing import Any

from whyops._internal_errors import log_internal_error
from whyops.integrations.httpx import current_headers
from whyops.wire.headers import add_trace_headers

# (scheme, host, port, path prefix ending in "/")
Route = tuple[str, str, int | None, str]


def route_of(url: Any) -> Route:
    """The route of an httpx URL (``httpx2.URL`` or legacy ``httpx.URL``)."""
    path = url.path if url.path.endswith("/") else url.path + "/"
    return (url.scheme, url.host, url.port, path)


def apply_trace_headers(request: Any, routes: tuple[Route, ...]) -> None:
    """On a proxied request, add the trace headers the caller did not set.

    The same headers, by the same rules, as service-to-service calls
    (:func:`whyops.integrations.httpx.inject_headers`).
    """
    wanted = current_headers()
    if wanted and _routed(request.url, routes):
        add_trace_headers(request.headers, wanted)


def _routed(url: Any, routes: tuple[Route, ...]) -> bool:
    scheme, host, port, path = url.scheme, url.host, url.port, url.path
    for r_scheme, r_host, r_port, r_prefix in routes:
        if host == r_host and port == r_port and scheme == r_scheme and path.startswith(r_prefix):
            return True
    return False


class _RouteSet:
    """Routes are replaced as a whole tuple, so a request reading them needs no lock."""

    routes: tuple[Route, ...]

    def __init__(self) -> None:
        self.routes = ()

    def add_route(self, url: Any) -> None:
        route = route_of(url)
        if route not in self.routes:
            self.routes = (*self.routes, route)

    def apply(self, request: Any) -> None:
        try:
            apply_trace_headers(request, self.routes)
        except Exception:  # a tracing bug must never fail the caller's request
            log_internal_error("trace headers")


class SyncTraceHook(_RouteSet):
    """Request hook for sync httpx clients."""

    def __call__(self, request: Any) -> None:
        self.apply(request)

    def __repr__(self) -> str:
        return f"<whyops trace-header hook for {len(self.routes)} route(s)>"


class AsyncTraceHook(_RouteSet):
    """Request hook for async httpx clients (httpx awaits async client hooks)."""

    async def __call__(self, request: Any) -> None:
        self.apply(request)

    def __repr__(self) -> str:
        return f"<whyops async trace-header hook for {len(self.routes)} route(s)>"


TraceHook = SyncTraceHook | AsyncTraceHook


def find_hook(http: Any) -> TraceHook | None:
    for hook in http.event_hooks["request"]:
        if isinstance(hook, (SyncTraceHook, AsyncTraceHook)):
            return hook
    return None
