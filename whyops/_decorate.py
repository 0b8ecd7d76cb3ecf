"""The decorators: everything is decided at decoration time, four tiny wrappers run.

``decorate()`` inspects the function once, builds a :class:`Plan` (name, kind, how to bind
arguments to parameter names) and picks the wrapper for its shape: plain, coroutine,
generator or async generator. Every wrapper first checks one attribute: when tracing is
off it calls straight through. Otherwise it opens one sync :class:`~whyops._span.Span`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from whyops._internal_errors import log_internal_error
from whyops._iterate import async_generator_wrapper, traced_generator
from whyops._snapshot import freeze
from whyops._span import Span
from whyops._tracer import TRACER
from whyops.wire.records import SpanKind

__all__ = ["Plan", "decorate"]

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
# Arguments kept as they are: immutable and small (short strings are checked inline).
_SMALL = frozenset({type(None), bool, int, float})
_ITEM_BYTES = 16


class Plan:
    """What a decorated function's spans look like, settled once per function."""

    __slots__ = (
        "attributes",
        "capture_inputs",
        "capture_output",
        "defaults",
        "keyword_names",
        "kind",
        "n_params",
        "name",
        "positional",
        "skip",
        "var_keyword",
        "var_positional",
    )

    def __init__(
        self,
        func: Callable[..., Any],
        kind: SpanKind,
        name: str | None,
        capture_inputs: bool,
        capture_output: bool,
        attributes: Mapping[str, Any] | None,
        drop_first: bool,
    ) -> None:
        self.kind = kind
        self.name = name or getattr(func, "__qualname__", None) or repr(func)
        self.capture_inputs = capture_inputs
        self.capture_output = capture_output
        self.attributes = dict(attributes) if attributes else None
        self._read_signature(func, drop_first)

    def _read_signature(self, func: Callable[..., Any], drop_first: bool) -> None:
        try:
            params = list(inspect.signature(func).parameters.values())
        except (TypeError, ValueError):
            params = []
        positional = [p.name for p in params if p.kind in _POSITIONAL]
        self.skip = 1 if positional and (drop_first or positional[0] in ("self", "cls")) else 0
        if self.skip:
            params = [p for p in params if p.name != positional[0]]
        self.positional = tuple(positional[self.skip :])
        self.keyword_names = frozenset(
            p.name for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD
        )
        self.defaults = {
            p.name: p.default for p in params if p.default is not inspect.Parameter.empty
        }
        self.n_params = len(params)
        var = [p.name for p in params if p.kind is inspect.Parameter.VAR_POSITIONAL]
        self.var_positional = var[0] if var else None
        kw = [p.name for p in params if p.kind is inspect.Parameter.VAR_KEYWORD]
        self.var_keyword = kw[0] if kw else None

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Arguments by parameter name (without ``self``/``cls``), snapshotted."""
        return self.bind_counted(args, kwargs)[0]

    def bind_counted(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], int]:
        """:meth:`bind`, and an estimate of the bytes the snapshot holds."""
        if self.skip:
            args = args[1:]
        names = self.positional
        # zip() without strict=: a keyword argument makes the call itself measurably slower.
        inputs = dict(zip(names, args))  # noqa: B905
        if len(args) > len(names) and self.var_positional is not None:
            inputs[self.var_positional] = args[len(names) :]
        if kwargs:
            self._bind_keywords(inputs, kwargs)
        # Snapshot in place (see whyops._snapshot). Inline, as are the usual cases (numbers,
        # short strings, a short list of numbers): this runs on every call.
        limits = TRACER.config.limits
        max_chars = limits.max_string_length
        size = 0  # numbers are in the span's own bytes; strings count their length
        for key, value in inputs.items():
            kind = type(value)
            if kind in _SMALL:
                continue
            if kind is str and len(value) <= max_chars:
                size += len(value)
                continue
            if kind is list and len(value) <= limits.max_items:
                copy = value.copy()
                for item in copy:
                    if type(item) not in _SMALL:
                        break
                else:
                    inputs[key] = copy
                    size += _ITEM_BYTES * len(copy)
                    continue
            inputs[key], held = freeze(value, limits)
            size += held
        if self.defaults and len(inputs) < self.n_params:
            for key, default in self.defaults.items():
                inputs.setdefault(key, default)
        return inputs, size

    def _bind_keywords(self, inputs: dict[str, Any], kwargs: dict[str, Any]) -> None:
        if self.var_keyword is None:
            inputs.update(kwargs)
            return
        extra = {}
        for key, value in kwargs.items():
            if key in self.keyword_names:
                inputs[key] = value
            else:
                extra[key] = value
        if extra:
            inputs[self.var_keyword] = extra  # a new dict: snapshotted with the rest

    def open(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Span:
        inputs, size = None, 0
        if self.capture_inputs and TRACER.capture_inputs:
            try:
                inputs, size = self.bind_counted(args, kwargs)
            except Exception:  # never let capture stop the call itself
                log_internal_error(f"capturing the inputs of {self.name}")
        span = Span(self.name, self.kind, inputs, self.attributes, self.capture_output)
        if size:
            span.approx_bytes += size
        return span


def decorate(
    func: Any,
    kind: SpanKind,
    name: str | None = None,
    capture_inputs: bool = True,
    capture_output: bool = True,
    attributes: Mapping[str, Any] | None = None,
) -> Any:
    """Wrap ``func`` (function, coroutine, generator, async generator, class/staticmethod)."""
    if isinstance(func, (classmethod, staticmethod)):
        inner = _wrap(
            func.__func__,
            Plan(
                func.__func__,
                kind,
                name,
                capture_inputs,
                capture_output,
                attributes,
                isinstance(func, classmethod),
            ),
        )
        return type(func)(inner)
    if not callable(func):
        raise TypeError(f"whyops can only decorate callables, got {func!r}")
    return _wrap(func, Plan(func, kind, name, capture_inputs, capture_output, attributes, False))


def _wrap(func: Callable[..., Any], plan: Plan) -> Callable[..., Any]:
    if inspect.isasyncgenfunction(func):
        wrapper = _async_generator_wrapper(func, plan)
    elif inspect.iscoroutinefunction(func):
        wrapper = _coroutine_wrapper(func, plan)
    elif inspect.isgeneratorfunction(func):
        wrapper = _generator_wrapper(func, plan)
    else:
        wrapper = _plain_wrapper(func, plan)
    functools.update_wrapper(wrapper, func)
    wrapper.__whyops_plan__ = plan  # type: ignore[attr-defined]
    return wrapper


def _plain_wrapper(func: Callable[..., Any], plan: Plan) -> Callable[..., Any]:
    tracer = TRACER

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not tracer.enabled:
            return func(*args, **kwargs)
        with plan.open(args, kwargs) as span:
            return span._set_result(func(*args, **kwargs))

    return wrapper


def _coroutine_wrapper(func: Callable[..., Any], plan: Plan) -> Callable[..., Any]:
    tracer = TRACER

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not tracer.enabled:
            return await func(*args, **kwargs)
        with plan.open(args, kwargs) as span:
            return span._set_result(await func(*args, **kwargs))

    return wrapper


def _generator_wrapper(func: Callable[..., Any], plan: Plan) -> Callable[..., Any]:
    tracer = TRACER

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not tracer.enabled:
            return (yield from func(*args, **kwargs))
        return (yield from traced_generator(plan.open(args, kwargs), func(*args, **kwargs)))

    return wrapper


def _async_generator_wrapper(func: Callable[..., Any], plan: Plan) -> Callable[..., Any]:
    tracer = TRACER

    def open_span(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Span | None:
        return plan.open(args, kwargs) if tracer.enabled else None

    return async_generator_wrapper(func, open_span)
