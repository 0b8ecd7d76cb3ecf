"""ASGI middleware (Starlette, FastAPI, any ASGI 3 app): one span per HTTP request.

    app = WhyOpsMiddleware(app)                       # any ASGI app
    app.add_middleware(WhyOpsMiddleware)              # Starlette / FastAPI

The span (``"POST /orders/{order_id}"``, kind ``span``) records method, path, route
template, status code and latency, ends with the error when the app raised, and is the
ambient span while the request is handled: ``@whyops.agent``/``@whyops.tool`` calls made
by the handler nest under it. A request carrying ``X-Trace-ID`` (or ``X-Thread-ID``, or a
W3C ``traceparent``) continues that trace, under the caller's ``X-Parent-Span-ID``. The
response carries ``X-Trace-ID``, so a caller can find the trace of its request.
Nothing from Starlette is imported: the route template is read from the ASGI scope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from whyops.integrations._propagation import extract_from_pairs
from whyops.integrations._request import Middleware, RequestTrace
from whyops.wire.headers import TRACE_ID

__all__ = ["WhyOpsMiddleware"]

_TRACE_ID_NAME = TRACE_ID.lower().encode("latin-1")  # ASGI names are lowercase bytes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class WhyOpsMiddleware(Middleware[ASGIApp]):
    """Trace every HTTP request of the wrapped ASGI app (websockets and lifespan pass through).

    ``agent_name`` names the agent of traces started here (default: the configured one).
    ``exclude_paths`` are served untraced (health checks, metrics).
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or scope.get("path") in self.exclude_paths:
            await self.app(scope, receive, send)
            return
        remote = extract_from_pairs(scope.get("headers") or ())
        method = str(scope.get("method", "GET"))
        request = RequestTrace(remote, method, str(scope.get("path", "/")), self.agent_name)
        outer_root = str(scope.get("root_path", ""))
        status: list[int] = []

        async def send_status(message: Message) -> None:
            if message.get("type") == "http.response.start":
                status.append(int(message.get("status", 200)))
                if request.trace_id is not None and request.trace_id.isascii():
                    trace_header = (_TRACE_ID_NAME, request.trace_id.encode("latin-1"))
                    message["headers"] = [*message.get("headers", ()), trace_header]
            await send(message)

        request.open()
        error: BaseException | None = None
        try:
            await self.app(scope, receive, send_status)
        except BaseException as exc:
            error = exc
            raise
        finally:
            code = status[0] if status else (500 if error is not None else None)
            request.close(code, route_template(scope, outer_root), error)


def route_template(scope: Scope, outer_root_path: str = "") -> str | None:
    """The matched route's path template (``/orders/{order_id}``), mounts included.

    Starlette (and so FastAPI) leaves the matched route in ``scope["route"]`` and appends
    each mount's prefix to ``scope["root_path"]``.
    """
    route = scope.get("route")
    path = getattr(route, "path", None) or getattr(route, "path_format", None)
    if not isinstance(path, str):
        return None
    root = str(scope.get("root_path", ""))
    prefix = root[len(outer_root_path) :] if root.startswith(outer_root_path) else ""
    return prefix + path
