"""The batch processor: batching, exact drop counts, bounded flushes, shutdown."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from whyops import _internal_errors
from whyops.export import ExportResult
from whyops.export.batch import BatchProcessor
from whyops.wire.records import EventRecord, Record


class Recorder:
    """An exporter that records batches and can be held back."""

    def __init__(self) -> None:
        self.batches: list[list[Record]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.shut = False

    def export(self, records: Sequence[Record]) -> ExportResult:
        self.gate.wait()
        self.batches.append(list(records))
        return ExportResult(ok=True)

    def shutdown(self) -> None:
        self.shut = True
        self.gate.set()


def rec(i: int) -> EventRecord:
    return EventRecord({"i": i})


def wait_for(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def test_full_batches_ship_without_waiting_for_the_interval() -> None:
    exporter = Recorder()
    processor = BatchProcessor(exporter, max_batch_size=10, flush_interval=60)
    for i in range(25):
        processor.submit(rec(i))
    wait_for(lambda: len(exporter.batches) == 2)
    assert [len(b) for b in exporter.batches] == [10, 10]
    report = processor.flush(5)
    assert [len(b) for b in exporter.batches] == [10, 10, 5]
    assert (report.delivered, report.pending, report.dropped, report.timed_out) == (25, 0, 0, False)
    assert [r.payload["i"] for b in exporter.batches for r in b] == list(range(25))  # type: ignore[union-attr]
    processor.shutdown(1)


def test_a_partial_batch_ships_after_the_interval() -> None:
    exporter = Recorder()
    processor = BatchProcessor(exporter, max_batch_size=100, flush_interval=0.05)
    processor.submit(rec(1))
    wait_for(lambda: exporter.batches)
    processor.shutdown(1)


def test_drops_are_counted_exactly_with_many_producers(caplog: pytest.LogCaptureFixture) -> None:
    exporter = Recorder()
    exporter.gate.clear()
    processor = BatchProcessor(
        exporter, max_queue_size=1000, max_batch_size=100, flush_interval=0.01
    )
    per_thread, threads = 5000, 8

    def produce() -> None:
        for i in range(per_thread):
            processor.submit(rec(i))

    with caplog.at_level(logging.WARNING, logger="whyops"):
        workers = [threading.Thread(target=produce) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        held = processor.report()
        assert held.pending <= 1000 + 100 + threads  # cap + the batch in flight + racing threads
        exporter.gate.set()
        report = processor.flush(5)
    delivered = sum(len(b) for b in exporter.batches)
    assert report.delivered == delivered
    assert report.delivered + report.dropped == per_thread * threads
    assert report.dropped > 0 and report.pending == 0
    assert sum("queue is full" in r.getMessage() for r in caplog.records) == 1
    processor.shutdown(1)


def test_flush_returns_within_its_timeout_when_the_exporter_hangs() -> None:
    exporter = Recorder()
    exporter.gate.clear()
    processor = BatchProcessor(exporter, max_batch_size=10, flush_interval=60)
    for i in range(50):
        processor.submit(rec(i))
    started = time.monotonic()
    report = processor.flush(0.2)
    assert time.monotonic() - started < 1.0
    assert report.timed_out and report.pending == 50 and report.delivered == 0
    started = time.monotonic()
    final = processor.shutdown(0.3)
    assert time.monotonic() - started < 1.5
    assert exporter.shut and final.delivered + final.pending + final.dropped == 50


def test_records_after_shutdown_are_dropped_and_counted() -> None:
    processor = BatchProcessor(Recorder(), flush_interval=60)
    processor.submit(rec(0))
    assert processor.shutdown(1).delivered == 1
    processor.submit(rec(1))
    assert processor.report().dropped == 1


def test_a_failing_exporter_loses_its_batch_but_not_the_flusher() -> None:
    class Flaky(Recorder):
        def export(self, records: Sequence[Record]) -> ExportResult:
            if not self.batches:
                self.batches.append([])
                raise RuntimeError("exporter bug")
            return super().export(records)

    _internal_errors.RAISE = False
    exporter = Flaky()
    processor = BatchProcessor(exporter, max_batch_size=5, flush_interval=60)
    for i in range(5):
        processor.submit(rec(i))
    assert processor.flush(5).dropped == 5
    processor.submit(rec(9))
    report = processor.flush(5)
    assert (report.delivered, report.dropped) == (1, 5)
    processor.shutdown(1)


def test_flush_without_any_record_returns_at_once() -> None:
    processor = BatchProcessor(Recorder())
    report = processor.flush(5)
    assert report.ok and report.delivered == 0


def test_export_runs_with_tracing_suppressed(restore_tracer: Any) -> None:
    import whyops
    from whyops._context import is_suppressed

    seen: list[tuple[bool, Any]] = []

    @whyops.tool
    def traced_inside_export() -> Any:
        return whyops.current_span()

    class Reentrant(Recorder):
        def export(self, records: Sequence[Record]) -> ExportResult:
            seen.append((is_suppressed(), traced_inside_export()))
            return super().export(records)

    exporter = Reentrant()
    whyops.configure(exporter=exporter, flush_interval=60)
    traced_inside_export()
    report = whyops.flush(5)
    assert seen == [(True, None)]
    assert report.delivered == 1 and len(exporter.batches) == 1


def test_a_failing_inline_exporter_never_reaches_the_caller(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import whyops
    from whyops._tracer import TRACER

    class Broken:
        inline = True

        def export(self, records: Sequence[Record]) -> ExportResult:
            raise RuntimeError("exporter bug")

        def shutdown(self) -> None:
            raise RuntimeError("shutdown bug")

    _internal_errors.RAISE = False

    @whyops.tool
    def work(x: int) -> int:
        return x * 2

    with caplog.at_level(logging.WARNING, logger="whyops"), TRACER.use_exporter(Broken()):
        assert work(21) == 42
        assert whyops.flush(1).dropped == 1
    assert any("internal error" in r.getMessage() for r in caplog.records)


class Sized:
    """A queued item that says how many bytes its captured values take."""

    def __init__(self, i: int, approx_bytes: int) -> None:
        self.i, self.approx_bytes = i, approx_bytes

    def _to_record(self) -> EventRecord:
        return rec(self.i)


def test_the_queue_is_bounded_in_bytes_and_refusals_are_counted() -> None:
    exporter = Recorder()
    exporter.gate.clear()
    processor = BatchProcessor(exporter, max_queue_bytes=1_000, max_batch_size=1, flush_interval=60)
    processor.submit(Sized(0, 300))
    wait_for(lambda: processor.report().pending == 1 and not processor._queue)  # in flight
    for i in range(1, 8):
        processor.submit(Sized(i, 300))  # 1..3 fit next to nothing queued; 4..7 do not
    held = processor.report()
    assert (held.pending, held.dropped) == (4, 4)
    assert held.last_error == "export queue is full (10000 records or 1000 bytes)"
    assert not held.ok
    exporter.gate.set()
    assert processor.flush(5).delivered == 4
    for i in range(2):
        processor.submit(Sized(10 + i, 300))  # the budget is free again once shipped
    processor.submit(rec(98))  # no size of its own: counted as 256 bytes, so it fits...
    processor.submit(rec(99))  # ...and a second one does not
    report = processor.flush(5)
    assert (report.delivered, report.dropped, report.pending) == (7, 5, 0)
    processor.shutdown(1)


def test_a_base_exception_from_a_records_own_code_costs_that_record_only() -> None:
    import asyncio

    class Hostile:
        def __init__(self, exc: BaseException) -> None:
            self.exc = exc

        def _to_record(self) -> Record:
            raise self.exc

    exporter = Recorder()
    processor = BatchProcessor(exporter, max_batch_size=100, flush_interval=60)
    for n, exc in enumerate([asyncio.CancelledError(), KeyboardInterrupt(), SystemExit(3)]):
        processor.submit(rec(2 * n))
        processor.submit(Hostile(exc))
        processor.submit(rec(2 * n + 1))
    report = processor.flush(5)
    assert (report.delivered, report.dropped, report.pending) == (6, 3, 0)
    assert not report.timed_out and "could not be frozen" in str(report.last_error)
    thread = processor._thread
    assert thread is not None and thread.is_alive()
    processor.shutdown(1)


def test_an_exporter_raising_a_base_exception_loses_its_batch_not_the_flusher() -> None:
    import asyncio

    class Cancelling(Recorder):
        def export(self, records: Sequence[Record]) -> ExportResult:
            if not self.batches:
                self.batches.append([])
                raise asyncio.CancelledError()
            return super().export(records)

    processor = BatchProcessor(Cancelling(), max_batch_size=5, flush_interval=60)
    for i in range(5):
        processor.submit(rec(i))
    first = processor.flush(5)
    assert (first.dropped, first.timed_out) == (5, False)
    assert first.last_error == "CancelledError raised while exporting"
    processor.submit(rec(9))
    assert processor.flush(5).delivered == 1
    processor.shutdown(1)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_flusher_that_dies_anyway_is_replaced_and_its_batch_counted() -> None:
    exporter = Recorder()
    processor = BatchProcessor(exporter, max_batch_size=5, flush_interval=60)
    real_export = processor._export

    def dies_once(batch: list[Any]) -> None:
        processor._export = real_export  # type: ignore[method-assign]
        raise SystemExit("a bug in the flusher")

    processor._export = dies_once  # type: ignore[method-assign]
    for i in range(5):
        processor.submit(rec(i))
    first_thread = processor._thread
    assert first_thread is not None
    first = processor.flush(5)
    assert (first.delivered, first.dropped, first.timed_out) == (0, 5, False)
    first_thread.join(5)
    assert not first_thread.is_alive()
    for i in range(3):
        processor.submit(rec(10 + i))
    report = processor.flush(5)
    assert (report.delivered, report.dropped, report.pending) == (3, 5, 0)
    assert processor._thread is not first_thread
    assert [r.payload["i"] for r in exporter.batches[-1]] == [10, 11, 12]  # type: ignore[union-attr]
    processor.shutdown(1)


def test_aflush_waits_without_blocking_the_event_loop(restore_tracer: Any) -> None:
    import asyncio

    import whyops

    exporter = Recorder()
    exporter.gate.clear()
    whyops.configure(exporter=exporter, flush_interval=60)

    @whyops.tool
    def work(i: int) -> int:
        return i

    async def main() -> Any:
        for i in range(3):
            work(i)
        flushing = asyncio.ensure_future(whyops.aflush(5))
        # The loop keeps running while the flush waits: these ticks open the exporter's gate.
        # A flush that blocked the loop would hold it until its timeout, with nothing sent.
        for _ in range(10):
            await asyncio.sleep(0.01)
            assert not flushing.done()
        exporter.gate.set()
        return await flushing

    report = asyncio.run(main())
    assert (report.delivered, report.pending) == (3, 0)


@pytest.mark.parametrize("flavor", ["sync", "async"])
def test_flush_after_delivers_a_handlers_spans_before_it_returns(
    flavor: str, restore_tracer: Any
) -> None:
    import asyncio

    import whyops

    exporter = Recorder()
    whyops.configure(exporter=exporter, flush_interval=60)

    @whyops.tool
    def step(event: str) -> str:
        if event == "bad":
            raise ValueError("bad event")
        return event.upper()

    if flavor == "sync":

        @whyops.flush_after
        def handler(event: str) -> str:
            return step(event)

        call = handler
    else:

        @whyops.flush_after(timeout=5)
        async def ahandler(event: str) -> str:
            return step(event)

        def call(event: str) -> Any:
            return asyncio.run(ahandler(event))

    assert call("ok") == "OK"
    assert sum(len(b) for b in exporter.batches) == 1  # shipped, not waiting for 60 s
    with pytest.raises(ValueError, match="bad event"):
        call("bad")
    assert sum(len(b) for b in exporter.batches) == 2


def test_flush_after_is_bounded_by_its_timeout(restore_tracer: Any) -> None:
    import whyops

    exporter = Recorder()
    exporter.gate.clear()
    whyops.configure(exporter=exporter, flush_interval=60)

    @whyops.flush_after(timeout=0.2)
    @whyops.tool
    def handler() -> int:
        return 1

    started = time.monotonic()
    assert handler() == 1
    assert time.monotonic() - started < 2.0  # the 0.2 s bound, with room for a loaded machine
    exporter.gate.set()


def test_the_byte_count_stays_exact_while_threads_submit_and_the_worker_takes() -> None:
    import sys

    class Slow(Recorder):
        def export(self, records: Sequence[Record]) -> ExportResult:
            time.sleep(0.001)  # slower than the producers: the queue never runs empty
            return super().export(records)

    exporter = Slow()
    processor = BatchProcessor(
        exporter,
        max_queue_size=10**7,
        max_queue_bytes=10**12,
        max_batch_size=50,
        flush_interval=0.001,
    )

    def produce() -> None:
        for i in range(20_000):
            processor.submit(Sized(i, 1_000))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # thread switches everywhere, as on a busy machine
    try:
        producers = [threading.Thread(target=produce) for _ in range(4)]
        for producer in producers:
            producer.start()
        for producer in producers:
            producer.join()
    finally:
        sys.setswitchinterval(interval)
    exporter.gate.clear()  # hold the worker so the queue stands still
    with processor._lock:
        queued = [item for item in processor._queue if isinstance(item, Sized)]
        assert queued, "the queue ran empty: nothing to compare"
        assert processor._queued_bytes == 1_000 * len(queued)
    exporter.gate.set()
    report = processor.flush(30)
    assert (report.delivered, report.dropped, report.pending) == (80_000, 0, 0)
    assert processor._queued_bytes == 0
    processor.shutdown(1)
