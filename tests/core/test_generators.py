"""Generators: the span covers iteration, is current only inside the body, ends however
iteration stops (exhausted, closed, abandoned and collected, failed), in any task."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from typing import Any

import pytest

import whyops
from whyops._config import Limits
from whyops._tracer import TRACER


@whyops.tool
def numbers(n: int) -> Any:
    for i in range(n):
        yield {"i": i, "span": whyops.current_span().name}  # type: ignore[union-attr]


@whyops.tool
async def anumbers(n: int) -> Any:
    for i in range(n):
        await asyncio.sleep(0)
        yield {"i": i, "span": whyops.current_span().name}  # type: ignore[union-attr]


def _unraisable(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    return seen


def test_span_is_current_only_inside_the_generator_body(memory: Any) -> None:
    with whyops.span("consumer") as consumer:
        for item in numbers(2):
            assert item["span"] == "numbers"
            assert whyops.current_span() is consumer
    gen_span = next(s for s in memory.spans() if s.name == "numbers")
    assert gen_span.parent_span_id == consumer.span_id
    assert gen_span.output["count"] == 2 and gen_span.output["ended"] == "exhausted"


def test_async_span_is_current_only_inside_the_generator_body(memory: Any) -> None:
    async def main() -> None:
        async with whyops.span("consumer") as consumer:
            async for item in anumbers(2):
                assert item["span"] == "numbers" or item["span"] == "anumbers"
                assert whyops.current_span() is consumer

    asyncio.run(main())
    gen_span = next(s for s in memory.spans() if s.name == "anumbers")
    assert gen_span.output["yielded"][1] == {"i": 1, "span": "anumbers"}


def test_yielded_items_are_capped_but_counted(memory: Any) -> None:
    tracer = TRACER
    saved = tracer.config
    import attrs

    tracer.config = attrs.evolve(saved, limits=Limits(max_yielded_items=3))
    try:
        assert len(list(numbers(10))) == 10
    finally:
        tracer.config = saved
    (span,) = memory.spans()
    assert len(span.output["yielded"]) == 3
    assert span.output["count"] == 10 and span.output["truncated"] is True
    events = memory.events()
    assert events[-1]["content"]["toolResults"]["count"] == 10


def test_abandoned_generator_ends_its_span_when_collected(
    memory: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    unraisable = _unraisable(monkeypatch)
    with caplog.at_level(logging.DEBUG):
        with whyops.span("consumer"):
            g = numbers(100)
            assert next(g)["i"] == 0
            del g
            gc.collect()
    spans = {s.name: s for s in memory.spans()}
    assert spans["numbers"].output["ended"] == "closed"
    assert spans["numbers"].output["count"] == 1
    assert spans["numbers"].status.value == "ok"
    assert unraisable == [] and not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_abandoned_async_generator_ends_its_span(
    memory: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    unraisable = _unraisable(monkeypatch)

    async def main() -> None:
        async with whyops.span("consumer"):
            async for _ in anumbers(100):
                break  # abandoned after one item; asyncio's finalizer closes it
        await asyncio.sleep(0.01)

    with caplog.at_level(logging.DEBUG):
        asyncio.run(main())
        gc.collect()
    spans = {s.name: s for s in memory.spans()}
    assert spans["anumbers"].output["ended"] == "closed"
    assert spans["anumbers"].output["count"] == 1
    assert unraisable == [] and not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_async_generator_consumed_in_another_task(
    memory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    unraisable = _unraisable(monkeypatch)

    async def consume(agen: Any) -> list[int]:
        first = await agen.__anext__()
        return [first["i"]]

    async def consume_rest(agen: Any) -> list[int]:
        return [item["i"] async for item in agen]

    async def main() -> list[int]:
        async with whyops.span("producer"):
            agen = anumbers(4)
        head = await asyncio.create_task(consume(agen))
        tail = await asyncio.create_task(consume_rest(agen))
        return head + tail

    assert asyncio.run(main()) == [0, 1, 2, 3]
    span = next(s for s in memory.spans() if s.name == "anumbers")
    assert span.output["count"] == 4 and span.output["ended"] == "exhausted"
    assert span.parent_span_id is None  # iteration began outside any span
    assert unraisable == []


def test_sync_generator_consumed_in_another_thread(memory: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with whyops.span("producer") as producer:
        g = numbers(3)
        first = next(g)
        with ThreadPoolExecutor(1) as pool:
            rest = pool.submit(list, g).result()
    assert [first["i"]] + [r["i"] for r in rest] == [0, 1, 2]
    span = next(s for s in memory.spans() if s.name == "numbers")
    assert span.parent_span_id == producer.span_id and span.output["count"] == 3


def test_generator_that_raises_records_the_error(memory: Any, flavor: str) -> None:
    @whyops.tool
    def failing() -> Any:
        yield 1
        raise RuntimeError("boom")

    @whyops.tool
    async def afailing() -> Any:
        yield 1
        raise RuntimeError("boom")

    async def drain_async() -> list[int]:
        return [x async for x in afailing()]

    with pytest.raises(RuntimeError, match="boom"):
        if flavor == "sync":
            list(failing())
        else:
            asyncio.run(drain_async())
    (span,) = memory.spans()
    assert span.status.value == "error" and span.exception.type == "RuntimeError"
    assert span.output == {"yielded": [1], "count": 1, "truncated": False, "ended": "error"}


def test_generator_return_value_passes_through(memory: Any) -> None:
    @whyops.tool
    def returns() -> Any:
        yield 1
        return "done"

    def outer() -> Any:
        result = yield from returns()
        return result

    g = outer()
    assert next(g) == 1
    with pytest.raises(StopIteration) as stop:
        next(g)
    assert stop.value.value == "done"


def test_set_output_inside_a_generator_never_breaks_its_iteration(memory: Any, flavor: str) -> None:
    """The generator's summary is its output; an explicit ``set_output`` in the body is
    replaced by it, and never reaches the consumer as an error."""

    @whyops.tool
    def summarised() -> Any:
        whyops.current_span().set_output("summary")  # type: ignore[union-attr]
        yield 1
        yield 2

    @whyops.tool
    async def asummarised() -> Any:
        whyops.current_span().set_output("summary")  # type: ignore[union-attr]
        yield 1
        yield 2

    async def drain_async() -> list[int]:
        return [x async for x in asummarised()]

    items = list(summarised()) if flavor == "sync" else asyncio.run(drain_async())
    assert items == [1, 2]
    (span,) = memory.spans()
    assert span.status.value == "ok"
    assert span.output == {"yielded": [1, 2], "count": 2, "truncated": False, "ended": "exhausted"}


def test_a_generator_without_output_capture_still_counts_its_items(memory: Any) -> None:
    @whyops.tool(capture_output=False)
    def quiet() -> Any:
        yield from range(3)

    assert list(quiet()) == [0, 1, 2]
    (span,) = memory.spans()
    assert span.output == {"yielded": [], "count": 3, "truncated": True, "ended": "exhausted"}
