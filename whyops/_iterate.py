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

from whyops import _tracer
from whyops._span import Span

__all__ = ["async_generator_wrapper", "traced_generator"]


class _Yielded:
    """A generator span's output as it grows: the first items, cut to the limits, and a count.

    At the end it becomes ``{"yielded": [...], "count": n, "truncated": bool, "ended": how}``.
    """

    __slots__ = ("count", "items", "keep", "limit", "span")

    def __init__(self, span: Span) -> None:
        tracer = _tracer.TRACER
        self.span = span
        self.items: list[Any] = []
        self.count = 0
        self.keep = span._capture_output and tracer.capture_outputs
        self.limit = tracer.config.limits.max_yielded_items

    def add(self, item: Any) -> None:
        """Count one yielded item and keep it while under the cap."""
        self.count += 1
        if self.keep and self.count <= self.limit:
            self.items.append(self.span._keep(item))

    def end(self, how: str, exc: BaseException | None = None) -> None:
        """Set the span's output to what was yielded and end it (``how`` it ended)."""
        items, count = self.items, self.count
        output = {"yielded": items, "count": count, "truncated": count > len(items), "ended": how}
        self.span._set_output_kept(output)
        self.span._end(exc, None if exc is None else exc.__traceback__)


def traced_generator(span: Span, gen: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
    """Drive ``gen`` step by step under ``span``; a transparent ``yield from`` otherwise."""
    if not span._start():
        return (yield from gen)
    items = _Yielded(span)
    try:
        value = yield from _steps(items, gen)
    except GeneratorExit:
        _close_inner(items, gen.close)
        raise
    except BaseException as exc:
        items.end("error", exc)
        raise
    items.end("exhausted")
    return value


def _steps(items: _Yielded, gen: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
    span = items.span
    method: Callable[[Any], Any] = gen.send
    arg: Any = None
    while True:
        span._activate()
        try:
            item = method(arg)
        except StopIteration as stop:
            return stop.value
        finally:
            span._deactivate()
        items.add(item)
        try:
            arg, method = (yield item), gen.send
        except GeneratorExit:
            raise
        except BaseException as exc:
            arg, method = exc, gen.throw


def _close_inner(items: _Yielded, close: Callable[[], Any]) -> None:
    """Close the traced generator under its span, then end the span as "closed"."""
    span = items.span
    span._activate()
    try:
        close()
    except BaseException as exc:
        span._deactivate()
        items.end("error", exc)
        raise
    span._deactivate()
    items.end("closed")


def async_generator_wrapper(
    func: Callable[..., AsyncGenerator[Any, Any]],
    open_span: Callable[[tuple[Any, ...], dict[str, Any]], Span | None],
) -> Callable[..., AsyncGenerator[Any, Any]]:
    """An async generator function tracing ``func`` (async generators cannot delegate)."""

    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        span = open_span(args, kwargs)
        agen = func(*args, **kwargs)
        items = _Yielded(span) if span is not None and span._start() else None
        method: Callable[[Any], Any] = agen.asend
        arg: Any = None
        while True:
            try:
                item = await _astep(items, method, arg)
            except StopAsyncIteration:
                _end(items, "exhausted")
                return
            except BaseException as exc:
                _end(items, "error", exc)
                raise
            if items is not None:
                items.add(item)
            try:
                arg, method = (yield item), agen.asend
            except GeneratorExit:
                await _aclose_inner(items, agen)
                raise
            except BaseException as exc:
                arg, method = exc, agen.athrow

    return wrapper


async def _astep(items: _Yielded | None, method: Callable[[Any], Any], arg: Any) -> Any:
    if items is None:
        return await method(arg)
    span = items.span
    span._activate()
    try:
        return await method(arg)
    finally:
        span._deactivate()


async def _aclose_inner(items: _Yielded | None, agen: AsyncGenerator[Any, Any]) -> None:
    try:
        await _astep(items, lambda _: agen.aclose(), None)
    except BaseException as exc:
        _end(items, "error", exc)
        raise
    _end(items, "closed")


def _end(items: _Yielded | None, how: str, exc: BaseException | None = None) -> None:
    if items is not None:
        items.end(how, exc)
