"""The decorators keep the shape of what they wrap and record one span per call."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
from core_helpers import call

import whyops
from whyops.wire.records import SpanKind


def plain(a: int, b: int = 2, *rest: int, key: str = "k", **extra: Any) -> int:
    """Doc of plain."""
    return a + b


async def coro(a: int, b: int = 2) -> int:
    """Doc of coro."""
    await asyncio.sleep(0)
    return a + b


def gen(n: int) -> Any:
    """Doc of gen."""
    yield from range(n)


async def agen(n: int) -> Any:
    """Doc of agen."""
    for i in range(n):
        yield i


SHAPES = [
    (plain, inspect.isfunction),
    (coro, inspect.iscoroutinefunction),
    (gen, inspect.isgeneratorfunction),
    (agen, inspect.isasyncgenfunction),
]
DECORATORS = [
    whyops.tool,
    whyops.agent,
    whyops.span,
    whyops.tool(name="named"),
    whyops.span(kind="llm", capture_inputs=False),
]


@pytest.mark.parametrize("func,check", SHAPES)
@pytest.mark.parametrize("decorator", DECORATORS)
def test_decorated_functions_keep_their_shape(func: Any, check: Any, decorator: Any) -> None:
    wrapped = decorator(func)
    assert check(wrapped)
    assert inspect.signature(wrapped) == inspect.signature(func)
    assert wrapped.__wrapped__ is func
    assert wrapped.__name__ == func.__name__
    assert wrapped.__doc__ == func.__doc__
    assert inspect.iscoroutinefunction(wrapped) == inspect.iscoroutinefunction(func)
    assert inspect.isgeneratorfunction(wrapped) == inspect.isgeneratorfunction(func)
    assert inspect.isasyncgenfunction(wrapped) == inspect.isasyncgenfunction(func)


def _collect(result: Any) -> Any:
    if inspect.isgenerator(result):
        return list(result)
    if inspect.isasyncgen(result):

        async def drain() -> list[Any]:
            return [item async for item in result]

        return asyncio.run(drain())
    if inspect.iscoroutine(result):
        return asyncio.run(result)
    return result


@pytest.mark.parametrize("func,check", SHAPES)
def test_each_shape_records_one_span_with_inputs_and_output(
    memory: Any, func: Any, check: Any
) -> None:
    wrapped = whyops.tool(func)
    result = _collect(wrapped(3))
    assert result == _collect(func(3))
    (span,) = memory.spans()
    assert span.name == func.__qualname__
    assert span.kind is SpanKind.TOOL
    assert span.inputs["n" if "n" in span.inputs else "a"] == 3
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        assert span.output == {
            "yielded": [0, 1, 2],
            "count": 3,
            "truncated": False,
            "ended": "exhausted",
        }
    else:
        assert span.output == 5


def test_inputs_are_bound_to_parameter_names_with_defaults(memory: Any) -> None:
    whyops.tool(plain)(1, 5, 6, 7, key="x", flag=True)
    (span,) = memory.spans()
    assert dict(span.inputs) == {
        "a": 1,
        "b": 5,
        "rest": (6, 7),
        "key": "x",
        "extra": {"flag": True},
    }
    whyops.tool(plain)(1)
    assert dict(memory.spans()[1].inputs) == {"a": 1, "b": 2, "key": "k"}


class Service:
    def __init__(self) -> None:
        self.calls = 0

    @whyops.tool
    def method(self, x: int) -> int:
        self.calls += 1
        return x * 2

    @whyops.tool
    @classmethod
    def class_first(cls, x: int) -> str:
        return cls.__name__ + str(x)

    @classmethod
    @whyops.tool
    def class_last(cls, x: int) -> str:
        return cls.__name__ + str(x)

    @whyops.tool
    @staticmethod
    def static_first(x: int) -> int:
        return x + 1

    @staticmethod
    @whyops.tool(name="static")
    def static_last(x: int) -> int:
        return x + 1

    @whyops.tool
    async def amethod(self, x: int) -> int:
        return x


def test_methods_classmethods_and_staticmethods_drop_self_and_cls(memory: Any) -> None:
    service = Service()
    assert service.method(2) == 4 and service.calls == 1
    assert Service.class_first(1) == "Service1" and service.class_first(2) == "Service2"
    assert Service.class_last(3) == "Service3"
    assert Service.static_first(1) == 2 and service.static_last(1) == 2
    assert asyncio.run(service.amethod(7)) == 7
    inputs = [dict(s.inputs) for s in memory.spans()]
    assert inputs == [{"x": 2}, {"x": 1}, {"x": 2}, {"x": 3}, {"x": 1}, {"x": 1}, {"x": 7}]
    names = [s.name for s in memory.spans()]
    assert names[0] == "Service.method" and names[5] == "static"
    assert list(inspect.signature(Service.class_first).parameters) == ["x"]


def test_capture_can_be_turned_off_per_decorator(memory: Any) -> None:
    @whyops.tool(capture_inputs=False, capture_output=False, attributes={"team": "core"})
    def secret(password: str) -> str:
        return password[::-1]

    assert secret("hunter2") == "2retnuh"
    (span,) = memory.spans()
    assert span.inputs is None and span.has_output is False and span.output is None
    assert span.attributes == {"team": "core"}
    events = memory.events()
    assert events[0]["content"]["toolCalls"][0]["arguments"] == {}
    assert events[-1]["content"]["toolResults"] is None


def test_capture_can_be_turned_off_globally(memory: Any) -> None:
    tracer = whyops._tracer.TRACER
    tracer.capture_inputs = tracer.capture_outputs = False
    try:
        whyops.tool(plain)(1)
    finally:
        tracer.capture_inputs = tracer.capture_outputs = True
    (span,) = memory.spans()
    assert span.inputs is None and not span.has_output


def test_with_span_and_async_with_span(memory: Any, flavor: str) -> None:
    async def in_async() -> None:
        async with whyops.span("block", kind="llm", inputs={"messages": []}) as span:
            span.set_attribute("k", [1])
            span.set_output("out")

    if flavor == "sync":
        with whyops.span("block", kind="llm", inputs={"messages": []}) as span:
            span.set_attribute("k", [1])
            span.set_output("out")
    else:
        asyncio.run(in_async())
    (record,) = memory.spans()
    assert (record.name, record.kind, record.output) == ("block", SpanKind.LLM, "out")
    assert record.attributes == {"k": [1]} and record.inputs == {"messages": []}


def test_a_span_block_object_can_be_reused_and_nested(memory: Any) -> None:
    block = whyops.span("again")
    with block as outer, block as inner:
        assert inner.parent_span_id == outer.span_id
    with block:
        pass
    assert [s.name for s in memory.spans()] == ["again"] * 3


def test_changes_after_a_span_ended_are_ignored(memory: Any) -> None:
    with whyops.span("done") as span:
        pass
    span.set_attribute("late", 1)
    span.set_output("late")
    span.record_thinking("late")
    (record,) = memory.spans()
    assert record.attributes == {} and record.output is None and record.thinking == ()


def test_a_span_can_be_renamed_and_failed_without_an_exception(memory: Any) -> None:
    with whyops.span("GET /orders/42") as span:
        span.update_name("GET /orders/{id}")
        span.set_status("error", "503 Service Unavailable", error_type="HTTPError")
    with whyops.span("recovered") as other:
        other.set_status("error", "flaky")
        other.set_status("ok")
    failed, ok = memory.spans()
    assert failed.name == "GET /orders/{id}" and failed.status.value == "error"
    assert (failed.exception.type, failed.exception.message) == (
        "HTTPError",
        "503 Service Unavailable",
    )
    assert (ok.status.value, ok.exception) == ("ok", None)
    error = memory.events()[1]
    assert error["eventType"] == "error" and error["spanName"] == "GET /orders/{id}"
    assert error["content"] == {
        "message": "HTTPError: 503 Service Unavailable",
        "type": "HTTPError",
    }
    span.update_name("late")
    span.set_status("ok")
    assert memory.spans()[0] == failed
    with pytest.raises(ValueError, match="status must be"):
        span.set_status("broken")


def test_an_exception_wins_over_a_status_set_before(memory: Any) -> None:
    with pytest.raises(KeyError), whyops.span("s") as span:
        span.set_status("error", "first", error_type="Mine")
        raise KeyError("k")
    (record,) = memory.spans()
    assert record.exception.type == "KeyError" and record.exception.traceback


def test_bad_arguments_give_clear_errors() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        whyops.span("x", kind="nope")
    with pytest.raises(TypeError, match="takes a name or a function"):
        whyops.span(42)
    with pytest.raises(TypeError, match="only decorate callables"):
        whyops.tool(name="x")(42)


@pytest.mark.parametrize("func,check", SHAPES)
def test_unconfigured_decorators_call_straight_through(
    tracing_off: Any, func: Any, check: Any
) -> None:
    wrapped = whyops.tool(func)
    assert _collect(wrapped(4)) == _collect(func(4))
    with whyops.span("noop") as span:
        span.set_attribute("ignored", 1)
    assert whyops.current_span() is None and span.span_id == ""


def test_generator_protocol_passes_through_send_and_throw(memory: Any, flavor: str) -> None:
    def echo() -> Any:
        received = yield "ready"
        while True:
            try:
                received = yield f"got {received}"
            except KeyError:
                received = "thrown"

    wrapped = whyops.tool(echo)
    g = wrapped()
    assert next(g) == "ready"
    assert g.send(1) == "got 1"
    assert g.throw(KeyError("k")) == "got thrown"
    g.close()
    (span,) = memory.spans()
    assert span.output["count"] == 3 and span.output["ended"] == "closed"


def test_async_generator_protocol_passes_through_asend_and_athrow(memory: Any) -> None:
    async def echo() -> Any:
        received = yield "ready"
        while True:
            try:
                received = yield f"got {received}"
            except KeyError:
                received = "thrown"

    async def drive() -> list[Any]:
        g = whyops.tool(echo)()
        out = [await g.asend(None), await g.asend(1), await g.athrow(KeyError("k"))]
        await g.aclose()
        return out

    assert asyncio.run(drive()) == ["ready", "got 1", "got thrown"]
    (span,) = memory.spans()
    assert span.output["count"] == 3 and span.output["ended"] == "closed"


def test_call_helper_runs_both_flavours() -> None:
    assert call(plain, 1) == 3
    assert call(coro, 1) == 3
