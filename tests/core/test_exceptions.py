"""Exceptions pass through unchanged and are recorded in full once, where they were raised."""

from __future__ import annotations

from typing import Any

import pytest
from core_helpers import call, make

import whyops
from whyops.models import Status


class Boom(Exception):
    pass


def test_exception_is_reraised_unchanged_and_recorded_once(memory: Any, flavor: str) -> None:
    error = Boom("bad order 42")

    def raw_inner() -> None:
        raise error

    inner = whyops.tool(name="inner")(make(flavor, raw_inner))
    middle = whyops.tool(name="middle")(make(flavor, lambda: inner()))
    outer_fn = whyops.agent(name="outer")(make(flavor, lambda: middle()))
    with pytest.raises(Boom) as caught:
        call(outer_fn)
    assert caught.value is error
    spans = {s.name: s for s in memory.spans()}
    assert all(s.status is Status.ERROR for s in spans.values())
    full = spans["inner"].exception
    assert (full.type, full.message) == ("Boom", "bad order 42")
    assert "raise error" in full.traceback and full.origin_span_id is None
    for name in ("middle", "outer"):
        info = spans[name].exception
        assert (info.type, info.message, info.traceback) == ("Boom", "bad order 42", "")
        assert info.origin_span_id == spans["inner"].span_id
    errors = [e for e in memory.events() if e["eventType"] == "error"]
    assert len(errors) == 3
    assert sum("stack" in e["content"] for e in errors) == 1
    assert {e["content"].get("originSpanId") for e in errors} == {None, spans["inner"].span_id}


def test_a_caught_exception_does_not_mark_the_outer_span(memory: Any) -> None:
    @whyops.tool
    def fails() -> None:
        raise KeyError("k")

    with whyops.span("outer"):
        try:
            fails()
        except KeyError:
            pass
    fails_span, outer = memory.spans()
    assert fails_span.status is Status.ERROR and outer.status is Status.OK


def test_a_new_exception_raised_from_a_handled_one_is_recorded_in_full(memory: Any) -> None:
    @whyops.tool
    def fails() -> None:
        raise KeyError("k")

    @whyops.tool
    def wraps() -> None:
        try:
            fails()
        except KeyError as exc:
            raise ValueError("wrapped") from exc

    with pytest.raises(ValueError):
        wraps()
    _, wraps_span = memory.spans()
    assert wraps_span.exception.type == "ValueError" and wraps_span.exception.traceback
    assert "KeyError" in wraps_span.exception.traceback


def test_exceptions_with_hostile_str_are_still_recorded(memory: Any) -> None:
    class Hostile(Exception):
        __slots__ = ()

        def __str__(self) -> str:
            raise RuntimeError("no str for you")

    @whyops.tool
    def fails() -> None:
        raise Hostile()

    with pytest.raises(Hostile):
        fails()
    (span,) = memory.spans()
    assert span.exception.type.endswith("Hostile")
    assert span.exception.message == "<unprintable " + span.exception.type + ">"
    assert memory.events()[-1]["eventType"] == "error"


def test_base_exceptions_like_cancellation_mark_the_span(memory: Any) -> None:
    import asyncio

    @whyops.tool
    async def slow() -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        task = asyncio.create_task(slow())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    (span,) = memory.spans()
    assert span.status is Status.ERROR and span.exception.type == "CancelledError"
