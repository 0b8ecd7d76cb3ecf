"""Spans over generators: open from the first step until exhausted, closed or collected.

The span is made current only while the generator body runs (each ``send``/``throw``),
and reset before control returns to the consumer. No context token is ever held across
a ``yield``, so a generator consumed in another task or thread, or dropped half-way and
collected later, ends its span without "different Context" errors, and the span never
leaks into the consumer's code.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

from whyops._span import Span

__all__ = ["async_generator_wrapper", "traced_generator"]


def traced_generator(span: Span, gen: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
    """Drive ``gen`` step by step under ``span``; a transparent ``yield from`` otherwise."""
    span.start()
    if not span.is_recording:
        return (yield from gen)
    try:
        value = yield from _steps(span, gen)
    except GeneratorExit:
        _close_inner(span, gen.close)
        raise
    except BaseException as exc:
        span.finish_iteration("error")
        span.end(exc, exc.__traceback__)
        raise
    span.finish_iteration("exhausted")
    span.end()
    return value


def _steps(span: Span, gen: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
    method: Callable[[Any], Any] = gen.send
    arg: Any = None
    while True:
        tokens = span.activate()
        try:
            item = method(arg)
        except StopIteration as stop:
            return stop.value
        finally:
            span.deactivate(tokens)
        span.record_item(item)
        try:
            arg, method = (yield item), gen.send
        except GeneratorExit:
            raise
        except BaseException as exc:
            arg, method = exc, gen.throw


def _close_inner(span: Span, close: Callable[[], Any]) -> None:
    """Close the traced generator under its span, then end the span as "closed"."""
    tokens = span.activate()
    try:
        close()
    except BaseException as exc:
        span.deactivate(tokens)
        span.finish_iteration("error")
        span.end(exc, exc.__traceback__)
        raise
    span.deactivate(tokens)
    span.finish_iteration("closed")
    span.end()


def async_generator_wrapper(
    func: Callable[..., AsyncGenerator[Any, Any]],
    open_span: Callable[[tuple[Any, ...], dict[str, Any]], Span | None],
) -> Callable[..., AsyncGenerator[Any, Any]]:
    """An async generator function tracing ``func`` (async generators cannot delegate)."""

    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        span = open_span(args, kwargs)
        agen = func(*args, **kwargs)
        if span is not None:
            span.start()
        method: Callable[[Any], Any] = agen.asend
        arg: Any = None
        while True:
            try:
                item = await _astep(span, method, arg)
            except StopAsyncIteration:
                _end(span, "exhausted")
                return
            except BaseException as exc:
                _end(span, "error", exc)
                raise
            if span is not None:
                span.record_item(item)
            try:
                arg, method = (yield item), agen.asend
            except GeneratorExit:
                await _aclose_inner(span, agen)
                raise
            except BaseException as exc:
                arg, method = exc, agen.athrow

    return wrapper


async def _astep(span: Span | None, method: Callable[[Any], Any], arg: Any) -> Any:
    if span is None or not span.is_recording:
        return await method(arg)
    tokens = span.activate()
    try:
        return await method(arg)
    finally:
        span.deactivate(tokens)


async def _aclose_inner(span: Span | None, agen: AsyncGenerator[Any, Any]) -> None:
    try:
        await _astep(span, lambda _: agen.aclose(), None)
    except BaseException as exc:
        _end(span, "error", exc)
        raise
    _end(span, "closed")


def _end(span: Span | None, how: str, exc: BaseException | None = None) -> None:
    if span is not None and span.is_recording:
        span.finish_iteration(how)
        span.end(exc, None if exc is None else exc.__traceback__)
