"""The decorators and blocks users write: ``@tool``, ``@agent``, ``@span``, ``with span()``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar, overload

from whyops._context import SPAN
from whyops._decorate import decorate
from whyops._span import NOOP_SPAN, AsyncWith, Span
from whyops._tracer import TRACER
from whyops.wire.records import SpanKind

__all__ = ["SpanBlock", "agent", "span", "thinking", "tool"]

F = TypeVar("F", bound=Callable[..., Any])


def _kind(kind: SpanKind | str) -> SpanKind:
    if type(kind) is SpanKind:
        return kind  # the usual case, without the (slow) call of the enum class
    try:
        return SpanKind(kind)
    except ValueError:
        choices = ", ".join(k.value for k in SpanKind)
        raise ValueError(f"kind must be one of {choices}, got {kind!r}") from None


def _decorator_factory(
    kind: SpanKind,
    func: Any,
    name: str | None,
    capture_inputs: bool,
    capture_output: bool,
    attributes: Mapping[str, Any] | None,
) -> Any:
    if isinstance(func, str):
        func, name = None, func
    if func is not None:
        return decorate(func, kind, name, capture_inputs, capture_output, attributes)

    def decorator(f: F) -> F:
        wrapped: F = decorate(f, kind, name, capture_inputs, capture_output, attributes)
        return wrapped

    return decorator


@overload
def tool(func: F, /) -> F: ...
@overload
def tool(
    func: str | None = None,
    /,
    *,
    name: str | None = None,
    capture_inputs: bool = True,
    capture_output: bool = True,
    attributes: Mapping[str, Any] | None = None,
) -> Callable[[F], F]: ...
def tool(
    func: Any = None,
    /,
    *,
    name: str | None = None,
    capture_inputs: bool = True,
    capture_output: bool = True,
    attributes: Mapping[str, Any] | None = None,
) -> Any:
    """Trace a function as a tool: ``@whyops.tool`` or ``@whyops.tool(name="search")``."""
    return _decorator_factory(SpanKind.TOOL, func, name, capture_inputs, capture_output, attributes)


@overload
def agent(func: F, /) -> F: ...
@overload
def agent(
    func: str | None = None,
    /,
    *,
    name: str | None = None,
    capture_inputs: bool = True,
    capture_output: bool = True,
    attributes: Mapping[str, Any] | None = None,
) -> Callable[[F], F]: ...
def agent(
    func: Any = None,
    /,
    *,
    name: str | None = None,
    capture_inputs: bool = True,
    capture_output: bool = True,
    attributes: Mapping[str, Any] | None = None,
) -> Any:
    """Trace an agent run: the root of a new trace when none is ambient."""
    return _decorator_factory(
        SpanKind.AGENT, func, name, capture_inputs, capture_output, attributes
    )


class SpanBlock(AsyncWith[Span]):
    """What ``whyops.span(...)`` returns: a ``with``/``async with`` block and a decorator."""

    __slots__ = (
        "_open",
        "attributes",
        "capture_inputs",
        "capture_output",
        "inputs",
        "kind",
        "name",
    )

    def __init__(
        self,
        name: str | None,
        kind: SpanKind,
        capture_inputs: bool,
        capture_output: bool,
        attributes: Mapping[str, Any] | None,
        inputs: Mapping[str, Any] | None,
    ) -> None:
        self.name, self.kind = name, kind
        self.capture_inputs, self.capture_output = capture_inputs, capture_output
        self.attributes, self.inputs = attributes, inputs
        self._open: list[Span] = []

    def __call__(self, func: F) -> F:
        wrapped: F = decorate(
            func, self.kind, self.name, self.capture_inputs, self.capture_output, self.attributes
        )
        return wrapped

    def __enter__(self) -> Span:
        if not TRACER.enabled:
            self._open.append(NOOP_SPAN)
            return NOOP_SPAN
        inputs = dict(self.inputs) if self.inputs is not None and self.capture_inputs else None
        opened = Span(
            self.name or self.kind.value, self.kind, inputs, self.attributes, self.capture_output
        )
        self._open.append(opened)
        return opened.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        opened = self._open.pop() if self._open else NOOP_SPAN
        opened.__exit__(exc_type, exc, tb)


@overload
def span(func: F, /) -> F: ...
@overload
def span(
    func: str | None = None,
    /,
    *,
    name: str | None = None,
    kind: SpanKind | str = SpanKind.SPAN,
    capture_inputs: bool = True,
    capture_output: bool = True,
    attributes: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
) -> SpanBlock: ...
def span(
    func: Any = None,
    /,
    *,
    name: str | None = None,
    kind: SpanKind | str = SpanKind.SPAN,
    capture_inputs: bool = True,
    capture_output: bool = True,
    attributes: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
) -> Any:
    """A span: ``@whyops.span``, ``@whyops.span(kind="llm")`` or ``with whyops.span("step"):``."""
    if callable(func) or isinstance(func, (classmethod, staticmethod)):
        return decorate(func, _kind(kind), name, capture_inputs, capture_output, attributes)
    if func is not None and not isinstance(func, str):
        raise TypeError(f"whyops.span() takes a name or a function, got {func!r}")
    return SpanBlock(name or func, _kind(kind), capture_inputs, capture_output, attributes, inputs)


def thinking(
    text: str | None = None, signature: str | None = None, redacted_data: str | None = None
) -> None:
    """Record a thinking block on the current span (no-op outside a span)."""
    current = SPAN.get()
    if current is not None:
        current.record_thinking(text, signature, redacted_data)
