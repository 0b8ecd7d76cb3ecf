"""One span per server request, shared by the ASGI and WSGI middleware.

The span is opened when the request arrives and closed when the response is done, which
for WSGI is after the server closed the body iterator: so it is driven by explicit
``open()``/``close()`` calls instead of a ``with`` block. Both must run in the same
``contextvars.Context`` (the middleware see to that).
"""

from __future__ import annotations

from contextlib import ExitStack
from http import HTTPStatus
from typing import Generic, TypeVar

from whyops import _tracer
from whyops._context import current_trace_id, trace_context
from whyops._internal_errors import log_internal_error
from whyops._span import Span
from whyops.integrations._propagation import RemoteContext
from whyops.wire.records import SpanKind

__all__ = ["Middleware", "RequestTrace"]

App = TypeVar("App")

METHOD = "http.request.method"
PATH = "url.path"
ROUTE = "http.route"
STATUS_CODE = "http.response.status_code"


class Middleware(Generic[App]):
    """What the ASGI and WSGI middleware share: the wrapped app and the options."""

    def __init__(
        self,
        app: App,
        *,
        agent_name: str | None = None,
        exclude_paths: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.agent_name = agent_name
        self.exclude_paths = frozenset(exclude_paths)


class RequestTrace:
    """The trace context and span of one incoming request."""

    __slots__ = ("_method", "_path", "_remote", "_stack", "agent_name", "span", "trace_id")

    def __init__(
        self, remote: RemoteContext, method: str, path: str, agent_name: str | None = None
    ) -> None:
        self._remote = remote
        self._method = method
        self._path = path
        self._stack = ExitStack()
        self.agent_name = agent_name
        self.span: Span | None = None
        self.trace_id: str | None = None

    def open(self) -> None:
        """Enter the caller's trace (or a new one) and make the request span current.

        Never raises: a tracing failure leaves the request untraced, not failed.
        """
        try:
            self._open()
        except Exception:
            self.span = None
            self._stack.close()
            log_internal_error("request span start")

    def _open(self) -> None:
        remote = self._remote
        tracer = _tracer.TRACER
        if not tracer.settled:
            tracer.settle()  # the first use: the environment's configuration applies
        agent = self.agent_name or tracer.config.agent_name
        if remote.trace_id is not None or agent is not None:
            # Even with tracing off, the caller's trace id stays ambient, so proxied model
            # calls made while serving the request still land in the caller's trace; the
            # request span (a root here) becomes a child of the caller's span.
            self._stack.enter_context(
                trace_context(
                    trace_id=remote.trace_id,
                    thread_id=remote.thread_id,
                    external_user_id=remote.external_user_id,
                    agent_name=agent,
                    parent_span_id=remote.parent_span_id,
                )
            )
        self.trace_id = current_trace_id()
        if not tracer.enabled:
            return
        span = Span(
            f"{self._method} {self._path}",
            SpanKind.SPAN,
            attributes={METHOD: self._method, PATH: self._path},
        )
        if not span._start():
            return
        span._activate()
        self._stack.callback(span._deactivate)
        self.span = span
        self.trace_id = span.trace_id

    def close(
        self,
        status_code: int | None,
        route: str | None,
        error: BaseException | None = None,
    ) -> None:
        """Record the outcome, end the span and leave the trace context (never raises)."""
        span = self.span
        try:
            try:
                if span is not None:
                    self._finish(span, status_code, route, error)
            finally:
                self._stack.close()
                if span is not None:
                    span._end(error, error.__traceback__ if error is not None else None)
        except Exception:
            log_internal_error("request span end")

    def _finish(
        self, span: Span, status_code: int | None, route: str | None, error: BaseException | None
    ) -> None:
        if route:
            span.update_name(f"{self._method} {route}")
            span.set_attribute(ROUTE, route)
        if status_code is not None:
            span.set_attribute(STATUS_CODE, status_code)
        if error is None and status_code is not None and status_code >= 500:
            # A framework that turned an exception into a 5xx answer has swallowed it; the
            # request still failed, and the tree should say so.
            span.set_status("error", _status_text(status_code), error_type="HTTPError")


def _status_text(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)
