"""``configure``, ``flush`` and ``shutdown``: the process-wide tracer's controls."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, overload

from whyops import _tracer
from whyops._config import Limits
from whyops._internal_errors import log_internal_error
from whyops.wire.records import DeliveryReport

__all__ = ["aflush", "configure", "flush", "flush_after", "shutdown"]

F = TypeVar("F", bound=Callable[..., Any])


def configure(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    analyse_url: str | None = None,
    proxy_url: str | None = None,
    agent_name: str | None = None,
    exporter: str | Any | Sequence[Any] | None = None,
    disabled: bool | None = None,
    capture_inputs: bool | None = None,
    capture_outputs: bool | None = None,
    limits: Limits | None = None,
    max_queue_size: int | None = None,
    max_batch_size: int | None = None,
    flush_interval: float | None = None,
    exit_timeout: float | None = None,
    export_timeout: float | None = None,
    max_retries: int | None = None,
    propagate_to_threads: bool | None = None,
) -> None:
    """Turn tracing on (or reconfigure it). Arguments left out come from ``WHYOPS_*``.

    Without any call, the first span, event or flush configures from ``WHYOPS_*`` alone
    (an API key or an exporter turns tracing on); a call before that wins.

    ``exporter``: ``"http"`` (the default when an API key is set), ``"console"``,
    ``"memory"``, ``"jsonl:PATH"`` or a path, ``"none"``, an exporter object, or a list.
    See docs/core.md for every option and its default.
    """
    options = {key: value for key, value in locals().items() if value is not None}
    _tracer.TRACER.configure(**options)


def flush(timeout: float = 5.0) -> DeliveryReport:
    """Wait at most ``timeout`` seconds for everything queued so far to be exported."""
    return _tracer.TRACER.flush(timeout)


async def aflush(timeout: float = 5.0) -> DeliveryReport:
    """``flush`` for async code: the wait happens in a worker thread, never on the loop."""
    import asyncio

    return await asyncio.to_thread(flush, timeout)


@overload
def flush_after(handler: F, /) -> F: ...


@overload
def flush_after(*, timeout: float = 5.0) -> Callable[[F], F]: ...


def flush_after(handler: Any = None, /, *, timeout: float = 5.0) -> Any:
    """Flush (at most ``timeout`` seconds) each time ``handler`` returns or raises.

    For short-lived environments (serverless handlers) that may be frozen or killed right
    after a call: its spans are delivered before the call's result is handed back.
    Works on plain and ``async`` functions; use it outermost, above ``@whyops.agent``.
    """

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def flushing_coroutine(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await fn(*args, **kwargs)
                finally:
                    await _aflush_quietly(timeout)

            return flushing_coroutine  # type: ignore[return-value]

        @functools.wraps(fn)
        def flushing(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                _flush_quietly(timeout)

        return flushing  # type: ignore[return-value]

    return decorate(handler) if handler is not None else decorate


def _flush_quietly(timeout: float) -> None:
    try:
        flush(timeout)
    except Exception:
        log_internal_error("flush_after")


async def _aflush_quietly(timeout: float) -> None:
    try:
        await aflush(timeout)
    except Exception:
        log_internal_error("flush_after")


def shutdown(timeout: float = 2.0) -> DeliveryReport:
    """Flush within ``timeout``, stop the background thread and turn tracing off."""
    return _tracer.TRACER.shutdown(timeout)
