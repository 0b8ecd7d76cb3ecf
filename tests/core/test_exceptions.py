"""Exceptions pass through unchanged and are recorded in full once, where they were raised."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from core_helpers import call, make

import whyops
from whyops.wire.records import Status


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


class Collector:
    """A batching exporter: records are frozen on the flusher thread, not the caller's."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def export(self, records: Any) -> Any:
        from whyops.export import ExportResult

        self.records.extend(records)
        return ExportResult(ok=True)

    def shutdown(self) -> None:
        pass


@pytest.fixture
def batched() -> Any:
    from whyops._tracer import TRACER

    exporter = Collector()
    with TRACER.use_exporter(exporter):
        yield exporter


def test_str_of_an_exception_runs_once_and_off_the_callers_thread(batched: Collector) -> None:
    import threading

    calls: list[str] = []

    class Slow(Exception):
        def __str__(self) -> str:
            calls.append(threading.current_thread().name)
            return "slow message"

    inner = whyops.tool(name="inner")(lambda: (_ for _ in ()).throw(Slow()))
    outer = whyops.tool(name="outer")(lambda: inner())
    with pytest.raises(Slow):
        outer()
    assert calls == []  # nothing formatted while the caller waits
    assert whyops.flush(5).ok
    assert calls == ["whyops-flusher"]  # once, for both spans
    messages = {r.name: (r.exception.message, r.exception.traceback) for r in batched.records}
    assert messages["inner"][0] == messages["outer"][0] == "slow message"
    assert "Slow: slow message" in messages["inner"][1] and messages["outer"][1] == ""


def test_a_huge_message_is_cut_when_the_span_ends(batched: Collector) -> None:
    from whyops._span import Span

    ended: list[Span] = []

    @whyops.tool
    def fails() -> None:
        ended.append(whyops.current_span())  # type: ignore[arg-type]
        raise ValueError("m" * 1_000_000)

    with pytest.raises(ValueError):
        fails()
    assert ended[0].approx_bytes < 100_000  # the 1 MB message is not held
    assert whyops.flush(5).ok
    (record,) = batched.records
    assert record.exception.message.endswith("…[truncated 967232 chars]")
    assert len(record.exception.traceback) < 40_000


def test_a_deep_traceback_keeps_its_first_and_last_frames() -> None:
    from whyops._exception_capture import exception_info

    def recurse(n: int) -> None:
        if n == 0:
            raise RuntimeError("bottom")
        recurse(n - 1)

    try:
        recurse(500)
    except RuntimeError as exc:
        pending = exception_info(exc, exc.__traceback__, "t", "s", 100)
    text = pending.resolve(100).traceback
    assert text.startswith("Traceback (most recent call last):\n")
    assert "frames left out" in text and text.count("recurse") < 150
    assert 'raise RuntimeError("bottom")' in text and text.endswith("RuntimeError: bottom\n")


def test_the_traceback_reads_like_pythons_own_with_its_chain(memory: Any) -> None:
    import traceback

    @whyops.tool
    def wraps() -> None:
        try:
            {}["k"]
        except KeyError as exc:
            raise ValueError("wrapped") from exc

    with pytest.raises(ValueError) as caught:
        wraps()
    ours = memory.spans()[0].exception.traceback
    theirs = "".join(traceback.format_exception(caught.value))
    # Python's adds the caller frames above the span and column carets: ours is its subset.
    ours_lines = [line for line in ours.splitlines() if line.strip()]
    theirs_lines = [line.rstrip() for line in theirs.splitlines()]
    assert all(line in theirs_lines for line in ours_lines)
    assert "The above exception was the direct cause of the following exception:" in ours
    assert ours.index("KeyError: 'k'") < ours.index("ValueError: wrapped")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception groups and notes: 3.11")
def test_an_exception_groups_members_and_notes_are_in_the_traceback(memory: Any) -> None:
    @whyops.tool
    def gathers() -> None:
        try:
            {}["first-key"]
        except KeyError as exc:
            exc.add_note("while looking up the order")
            group = ExceptionGroup("2 tools failed", [exc, ValueError("second tool")])  # noqa: F821
            group.add_note("in the planning step")
            raise group from None

    with pytest.raises(ExceptionGroup):  # noqa: F821
        gathers()
    text = memory.spans()[0].exception.traceback
    assert "ExceptionGroup: 2 tools failed (2 sub-exceptions)\nin the planning step\n" in text
    # Each member, as Python's own traceback shows it, notes included.
    assert "| KeyError: 'first-key'\n| while looking up the order\n" in text
    assert "| ValueError: second tool\n" in text
    assert text.index("first-key") < text.index("second tool")


def test_an_exception_kept_for_the_flusher_counts_what_it_holds(batched: Collector) -> None:
    class Custom(Exception):
        def __str__(self) -> str:
            return "custom: " + self.args[0][:10]

    ended: list[Any] = []

    @whyops.tool
    def fails() -> None:
        ended.append(whyops.current_span())
        raise Custom("c" * 1_000_000)

    with pytest.raises(Custom):
        fails()
    # Its __str__ waits for the flusher, so its 1 MB argument is still held: counted.
    assert ended[0].approx_bytes > 1_000_000
    assert whyops.flush(5).ok
    assert batched.records[0].exception.message == "custom: cccccccccc"
