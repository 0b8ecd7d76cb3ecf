"""The batch processor: batching, exact drop counts, bounded flushes, shutdown."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from whyops import _errors
from whyops.export import ExportResult
from whyops.export.batch import BatchProcessor
from whyops.models import EventRecord, Record


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

    _errors.RAISE = False
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
    from whyops._tracer import get_tracer

    class Broken:
        inline = True

        def export(self, records: Sequence[Record]) -> ExportResult:
            raise RuntimeError("exporter bug")

        def shutdown(self) -> None:
            raise RuntimeError("shutdown bug")

    _errors.RAISE = False

    @whyops.tool
    def work(x: int) -> int:
        return x * 2

    with caplog.at_level(logging.WARNING, logger="whyops"), get_tracer().use_exporter(Broken()):
        assert work(21) == 42
        assert whyops.flush(1).dropped == 1
    assert any("internal error" in r.getMessage() for r in caplog.records)
