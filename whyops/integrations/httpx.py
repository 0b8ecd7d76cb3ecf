"""Carry the ambient trace to other services over httpx / httpx2 clients (opt-in).

    client = whyops.integrations.httpx.instrument(httpx2.AsyncClient())

or, when building the client yourself::

    httpx2.Client(event_hooks={"request": [whyops.integrations.httpx.inject_headers]})
    httpx2.AsyncClient(event_hooks={"request": [whyops.integrations.httpx.ainject_headers]})

Every request made inside a traced span then carries ``X-Trace-ID``, ``X-Thread-ID``,
``X-Parent-Span-ID``, ``X-External-User-Id`` and (for 32-hex trace ids) W3C
``traceparent``; a service wrapped in whyops's ASGI/WSGI middleware continues the same
trace, with its spans under the caller's span. Headers the caller set explicitly win.
Neither httpx nor httpx2 is imported here: clients are handled by their shape.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol, TypeVar

from whyops import _context
from whyops.wire.headers import add_trace_headers, outgoing_headers

__all__ = ["ainject_headers", "current_headers", "inject_headers", "instrument", "uninstrument"]

_MARK = "_whyops_propagation"


class _HasHeaders(Protocol):
    headers: Any


ClientT = TypeVar("ClientT")


def current_headers() -> dict[str, str]:
    """The trace headers for a call made right now (empty outside any trace)."""
    try:
        trace = _context.current_trace()
        span = _context.current_span()
        if (trace is None and span is None) or _context.is_suppressed():
            return {}
        trace_id = trace.trace_id if trace is not None else span.trace_id  # type: ignore[union-attr]
        in_trace = span is not None and span.trace_id == trace_id
        return outgoing_headers(
            trace_id,
            span.span_id if in_trace else None,  # type: ignore[union-attr]
            thread_id=trace.thread_id if trace is not None else None,
            external_user_id=trace.external_user_id if trace is not None else None,
        )
    except Exception:  # tracing never breaks the caller's request
        return {}


def inject_headers(request: _HasHeaders) -> None:
    """Request event hook for sync clients: add the ambient trace headers.

    A request that already names a trace keeps it; if that trace is not the ambient one,
    nothing else is added (the ambient span belongs to another trace).
    """
    add_trace_headers(request.headers, current_headers())


async def ainject_headers(request: _HasHeaders) -> None:
    """Request event hook for async clients (httpx awaits hooks of an AsyncClient)."""
    inject_headers(request)


def instrument(client: ClientT) -> ClientT:
    """Add the propagation hook to an httpx/httpx2 ``Client`` or ``AsyncClient``.

    Idempotent; returns the same client so it can wrap a constructor call.
    """
    if getattr(client, _MARK, False):
        return client
    hooks: dict[str, list[Any]] = dict(client.event_hooks)  # type: ignore[attr-defined]
    hook = ainject_headers if _is_async_client(client) else inject_headers
    hooks["request"] = [*hooks.get("request", []), hook]
    client.event_hooks = hooks  # type: ignore[attr-defined]
    setattr(client, _MARK, True)
    return client


def uninstrument(client: Any) -> None:
    """Remove the hook :func:`instrument` added."""
    if not getattr(client, _MARK, False):
        return
    hooks = dict(client.event_hooks)
    ours = (inject_headers, ainject_headers)
    hooks["request"] = [h for h in hooks.get("request", []) if h not in ours]
    client.event_hooks = hooks
    setattr(client, _MARK, False)


def _is_async_client(client: Any) -> bool:
    # Both httpx and httpx2 name their async client AsyncClient and give it a coroutine send.
    return inspect.iscoroutinefunction(getattr(client, "send", None))
