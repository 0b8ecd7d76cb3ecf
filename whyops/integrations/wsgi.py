"""WSGI middleware (Flask, Django, any WSGI app): one span per HTTP request.

    app.wsgi_app = WhyOpsWSGIMiddleware(app.wsgi_app)     # any WSGI app
    instrument_flask(app)                                 # Flask: adds route templates
    application = WhyOpsWSGIMiddleware(get_wsgi_application())   # Django

The span lasts until the server closed the response body, so streamed bodies are inside
it and remain in the trace. Everything the request does, body iteration included, runs
in one private ``contextvars.Context``: the request's span is ambient there and never
leaks into the server's own context. The incoming trace headers are read, and
``X-Trace-ID`` is answered, as in ``whyops.integrations.asgi``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from whyops.integrations._propagation import extract_from_environ
from whyops.integrations._request import Middleware, RequestTrace
from whyops.wire.headers import TRACE_ID

__all__ = ["ROUTE_KEY", "WhyOpsWSGIMiddleware", "instrument_flask"]

#: Frameworks (or your code) may put the matched route template in the environ here.
ROUTE_KEY = "whyops.route"
_ERROR_KEY = "whyops.error"

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class WhyOpsWSGIMiddleware(Middleware[WSGIApp]):
    """Trace every request of the wrapped WSGI app.

    ``agent_name`` names the agent of traces started here (default: the configured one).
    ``exclude_paths`` are served untraced.
    """

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO") or "/")
        if path in self.exclude_paths:
            return self.app(environ, start_response)
        method = str(environ.get("REQUEST_METHOD", "GET"))
        request = RequestTrace(extract_from_environ(environ), method, path, self.agent_name)
        context = contextvars.copy_context()
        body = _TracedBody(environ, request, context)

        def recording_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            body.status_code = _status_code(status)
            if request.trace_id is not None and request.trace_id.isascii():
                headers = [*headers, (TRACE_ID, request.trace_id)]
            return start_response(status, headers, exc_info)

        context.run(request.open)
        try:
            result = context.run(self.app, environ, recording_start_response)
        except BaseException as exc:
            body.finish(exc)
            raise
        body.result = result
        return body


class _TracedBody:
    """The app's response body, iterated inside the request's context; closing ends the span."""

    def __init__(self, environ: Environ, request: RequestTrace, context: contextvars.Context):
        self.environ = environ
        self.request = request
        self.context = context
        self.status_code: int | None = None
        self.result: Iterable[bytes] = ()
        self._finished = False

    def __iter__(self) -> Iterator[bytes]:
        iterator = self.context.run(iter, self.result)
        while True:
            try:
                chunk = self.context.run(next, iterator, None)
            except BaseException as exc:
                self.finish(exc)
                raise
            if chunk is None:
                return
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                self.context.run(close)
        finally:
            self.finish(None)

    def finish(self, error: BaseException | None) -> None:
        if self._finished:
            return
        self._finished = True
        error = error or self.environ.get(_ERROR_KEY)
        code = self.status_code if self.status_code is not None else (500 if error else None)
        route = self.environ.get(ROUTE_KEY)
        self.context.run(self.request.close, code, route if isinstance(route, str) else None, error)


def _status_code(status: str) -> int | None:
    try:
        return int(status.split(" ", 1)[0])
    except (ValueError, AttributeError):
        return None


def instrument_flask(app: Any, *, agent_name: str | None = None) -> Any:
    """Wrap a Flask app's WSGI callable and record route templates and handled errors.

    Flask turns an exception raised by a view into a 500 answer; the span still records
    the exception (type, message, traceback). Idempotent; returns the app.
    """
    if getattr(app, "_whyops_instrumented", False):
        return app
    from flask import got_request_exception, request

    def remember_route() -> None:
        rule = request.url_rule
        if rule is not None:
            request.environ[ROUTE_KEY] = rule.rule

    def remember_error(sender: Any, exception: BaseException, **_: Any) -> None:
        request.environ[_ERROR_KEY] = exception

    app.before_request(remember_route)
    got_request_exception.connect(remember_error, app, weak=False)
    app.wsgi_app = WhyOpsWSGIMiddleware(app.wsgi_app, agent_name=agent_name)
    app._whyops_instrumented = True
    return app
