"""The flusher: a bounded queue on the caller's side, one daemon thread on the other.

Drop rule: the queue holds at most ``max_queue_size`` records and ``max_queue_bytes``
bytes (each item's ``approx_bytes``, the estimated size of its captured values). When a
new record would pass either cap, it is refused and counted (records already queued stay,
so a trace's early spans are not evicted by a flood of later ones). The first drop is
logged once on the ``whyops`` logger; every drop is counted exactly in
:class:`~whyops.wire.records.DeliveryReport.dropped`.

The caller's side (``submit``) takes no lock unless it drops (then one uncontended lock
that is never held across I/O).
The worker exports with instrumentation suppressed, so its own HTTP is never traced.
Whatever a record's own code raises while it is frozen (a ``__repr__`` raising
``CancelledError``) costs that record only; if the worker dies anyway, the next
``submit`` starts a new one and the batch it held is counted as dropped.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import deque
from typing import Any

from whyops._context import SUPPRESS
from whyops._internal_errors import log_internal_error, warn_once
from whyops.export import Exporter, ExportResult, freeze
from whyops.export.forksafe import import_flusher_modules, no_fork
from whyops.wire.records import DeliveryReport, Record

__all__ = ["BatchProcessor", "InlineProcessor"]

logger = logging.getLogger("whyops")

#: The size counted for an item that does not say its own (a manual event).
UNSIZED_ITEM_BYTES = 256


class _FlushMarker:
    """Queued by ``flush()``; the worker signals it once everything before it is handled."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class BatchProcessor:
    """Batches records by size and interval and exports them from one background thread."""

    def __init__(
        self,
        exporter: Exporter,
        *,
        max_queue_size: int = 10_000,
        max_queue_bytes: int = 64 * 2**20,
        max_batch_size: int = 512,
        flush_interval: float = 1.0,
    ) -> None:
        self.exporter = exporter
        self.max_queue_size = max_queue_size
        self.max_queue_bytes = max_queue_bytes
        self.max_batch_size = max_batch_size
        self.flush_interval = flush_interval
        budget = f"{max_queue_bytes / 2**20:g} MB" if max_queue_bytes >= 2**20 else None
        self._full_reason = (
            f"export queue is full ({max_queue_size} records or "
            f"{budget or f'{max_queue_bytes} bytes'})"
        )
        import_flusher_modules()
        self._reset()
        ref = weakref.WeakMethod(self.after_fork)
        os.register_at_fork(after_in_child=lambda: (m := ref()) and m())

    def _reset(self) -> None:
        self._queue: deque[Any] = deque()
        self._lock = threading.Lock()  # the counters: callers (drops) and worker
        self._queued_bytes = 0
        self._queued_markers = 0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._in_flight = 0
        self._delivered = self._retried = self._dropped = 0
        self._last_error: str | None = None
        self._drop_logged = False

    # -- caller's side ------------------------------------------------------------------

    def submit(self, item: Any) -> None:
        """Queue an ended span or a record: O(1), lock-free unless dropping, never raises.

        Threads racing at a cap can overshoot it by at most one record each; every refused
        record is counted exactly.
        """
        if self._thread is None:
            self._start()
        size = getattr(item, "approx_bytes", UNSIZED_ITEM_BYTES)
        queue = self._queue
        if (
            len(queue) >= self.max_queue_size
            or self._queued_bytes + size > self.max_queue_bytes
            or self._closed
        ):
            self._count_drop()
            return
        # One augmented assignment with no call inside, so no thread switch splits it (the
        # GIL): no update, another caller's or the worker's, is lost. A lock would cost every
        # call, and a garbage-collected generator's span ending inside it would deadlock.
        # Before the append: the worker only subtracts what it has taken.
        self._queued_bytes += size
        queue.append(item)
        if len(queue) >= self.max_batch_size and not self._wake.is_set():
            self._wake.set()

    def _count_drop(self) -> None:
        reason = "export queue is shut down" if self._closed else self._full_reason
        with self._lock:
            self._dropped += 1
            self._last_error = reason
            first = not self._drop_logged
            self._drop_logged = True
        if first:
            logger.warning(
                "whyops: %s; new records are dropped and counted "
                "(see the DeliveryReport of whyops.flush())",
                reason,
            )

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            thread = threading.Thread(target=self._run, name="whyops-flusher", daemon=True)
            self._thread = thread
        try:
            thread.start()
        except RuntimeError:
            # No new threads (interpreter shutting down, or a thread limit): records can no
            # longer be delivered, so refuse them, counted, instead of queueing forever.
            self._closed = True
            logger.warning("whyops: cannot start the flusher thread; records are dropped")

    def flush(self, timeout: float = 5.0) -> DeliveryReport:
        """Wait until every record queued before the call is exported or dropped."""
        thread = self._thread
        idle = thread is None and not self._queue  # never started, or nothing left to do
        if idle or self._closed or thread is threading.current_thread():
            return self.report(timed_out=bool(self._queue) and thread is not None)
        marker = _FlushMarker()
        with self._lock:
            self._queue.append(marker)
            self._queued_markers += 1
            stopped = self._thread is None  # the worker died: the marker needs a new one
        if stopped:
            self._start()
        self._wake.set()
        ok = marker.done.wait(max(timeout, 0.0))
        return self.report(timed_out=not ok)

    def shutdown(self, timeout: float = 2.0) -> DeliveryReport:
        """Flush within ``timeout``, then stop the worker and the exporter, all in ``timeout``."""
        deadline = time.monotonic() + max(timeout, 0.0)
        # Stopping the exporter and joining take a moment too; keep it inside the bound.
        report = self.flush(max(0.0, timeout - min(0.05, timeout / 10)))
        self._closed = True
        self._wake.set()
        _stop_exporter(self.exporter)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
        final = self.report(timed_out=report.timed_out)
        if final.pending or final.dropped:
            self._warn_undelivered(final)
        return final

    def _warn_undelivered(self, final: DeliveryReport) -> None:
        cause = final.last_error or (
            "no answer within the time allowed" if final.pending else "unknown"
        )
        logger.warning(
            "whyops: %d records not delivered to %s (%s): %d dropped, %d still queued at "
            "shutdown and lost",
            final.dropped + final.pending,
            _destination(self.exporter),
            cause,
            final.dropped,
            final.pending,
        )

    def report(self, timed_out: bool = False) -> DeliveryReport:
        with self._lock:
            queued = len(self._queue) - self._queued_markers
            in_flight = self._in_flight
            live = getattr(self.exporter, "live_retries", 0) if in_flight else 0
            retried = self._retried + live
            delivered, dropped, last_error = self._delivered, self._dropped, self._last_error
        if last_error is None and (queued or in_flight):
            last_error = getattr(self.exporter, "last_failure", None)
        return DeliveryReport(
            delivered=delivered,
            retried=retried,
            dropped=dropped,
            pending=queued + in_flight,
            timed_out=timed_out,
            last_error=last_error,
        )

    def after_fork(self) -> None:
        """In a forked child: forget the parent's queue and thread; start afresh on demand."""
        self._reset()
        _exporter_after_fork(self.exporter)

    # -- worker's side ------------------------------------------------------------------

    def _run(self) -> None:
        SUPPRESS.set(True)  # this thread's own context: nothing it does is traced
        try:
            self._loop()
        finally:
            self._worker_ended()

    def _loop(self) -> None:
        while True:
            signalled = self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self._drain(interval_due=not signalled)
            except Exception:
                log_internal_error("flusher")
            if self._closed and not self._queue:
                return

    def _lose_in_flight(self, reason: str) -> None:
        with self._lock:
            lost, self._in_flight = self._in_flight, 0
            self._dropped += lost
            if lost:
                self._last_error = reason

    def _worker_ended(self) -> None:
        """The worker is gone: a dead one is replaced now (records wait) or on demand."""
        self._lose_in_flight("the flusher thread stopped unexpectedly")
        if self._closed:
            return
        warn_once("flusher-restart", "whyops: the flusher thread stopped; starting a new one")
        with self._lock:
            self._thread = None
        if self._queue:
            self._wake.set()  # a wake-up the dead worker took is not lost
            self._start()

    def _drain(self, interval_due: bool) -> None:
        """Ship full batches; ship a partial one when the interval passed or a flush waits."""
        while self._queue:
            due = interval_due or self._closed or len(self._queue) >= self.max_batch_size
            if not due and not self._queued_markers:
                return
            batch, markers = self._take()
            try:
                if batch:
                    self._export(batch)
            except BaseException:
                self._lose_in_flight("the flusher failed while exporting")
                raise
            finally:
                for marker in markers:
                    marker.done.set()

    def _take(self) -> tuple[list[Any], list[_FlushMarker]]:
        """Up to one batch of records, stopping after the first flush marker."""
        queue = self._queue
        batch: list[Any] = []
        markers: list[_FlushMarker] = []
        taken = 0
        with self._lock:
            while queue and len(batch) < self.max_batch_size:
                item = queue.popleft()
                if isinstance(item, _FlushMarker):
                    markers.append(item)
                    self._queued_markers -= 1
                    break
                batch.append(item)
                taken += getattr(item, "approx_bytes", UNSIZED_ITEM_BYTES)
            self._in_flight = len(batch)
        self._queued_bytes -= taken  # one uninterrupted update, as in submit
        return batch, markers

    def _export(self, batch: list[Any]) -> None:
        records = self._freeze_all(batch)
        result = _call_exporter(self.exporter, records) if records else ExportResult(ok=True)
        lost_in_export = result.dropped if result.ok else len(records)
        lost = len(batch) - len(records) + lost_in_export
        with self._lock:
            self._delivered += len(records) - lost_in_export
            self._dropped += lost
            self._retried += result.retries
            self._in_flight = 0
            if lost_in_export and result.error:
                self._last_error = result.error
            exporter: Any = self.exporter
            if hasattr(exporter, "live_retries"):
                exporter.live_retries = 0  # now counted in _retried

    def _freeze_all(self, batch: list[Any]) -> list[Record]:
        records: list[Record] = []
        for item in batch:
            try:
                with no_fork():
                    records.append(freeze(item))
            except BaseException as exc:  # user code may raise anything: it costs this record
                self._last_error = f"a record could not be frozen ({type(exc).__name__})"
                if isinstance(exc, Exception):
                    log_internal_error("freeze")
                else:
                    warn_once("freeze-base", "whyops: %s; it is dropped", self._last_error)
        return records


def _destination(exporter: Exporter) -> str:
    return str(getattr(exporter, "destination", None) or type(exporter).__name__)


def _call_exporter(exporter: Exporter, records: list[Record]) -> ExportResult:
    try:
        return exporter.export(records)
    except Exception as exc:
        log_internal_error(f"{type(exporter).__name__}.export")
        return ExportResult(ok=False, error=repr(exc))
    except BaseException as exc:  # raised by user code the exporter ran: the batch only
        warn_once("export-base", "whyops: %s.export raised %r", type(exporter).__name__, exc)
        return ExportResult(ok=False, error=f"{type(exc).__name__} raised while exporting")


def _exporter_after_fork(exporter: Exporter) -> None:
    reset = getattr(exporter, "after_fork", None)
    if callable(reset):
        reset()


def _stop_exporter(exporter: Exporter) -> None:
    try:
        exporter.shutdown()
    except Exception:
        log_internal_error(f"{type(exporter).__name__}.shutdown")


class InlineProcessor:
    """Exports each record on the caller's thread: for in-process exporters (memory)."""

    def __init__(self, exporter: Exporter) -> None:
        self.exporter = exporter
        self._lock = threading.Lock()
        self._delivered = self._dropped = 0
        ref = weakref.WeakMethod(self.after_fork)
        os.register_at_fork(after_in_child=lambda: (m := ref()) and m())

    def submit(self, item: Any) -> None:
        try:
            result = self.exporter.export([freeze(item)])
            ok = result.ok and not result.dropped
        except Exception:
            log_internal_error(f"{type(self.exporter).__name__}.export")
            ok = False
        with self._lock:
            if ok:
                self._delivered += 1
            else:
                self._dropped += 1

    def flush(self, timeout: float = 5.0) -> DeliveryReport:
        return DeliveryReport(delivered=self._delivered, dropped=self._dropped)

    def shutdown(self, timeout: float = 2.0) -> DeliveryReport:
        _stop_exporter(self.exporter)
        return self.flush(timeout)

    def after_fork(self) -> None:
        """In a forked child: fresh counters, and no lock the parent's threads held."""
        self._lock = threading.Lock()
        self._delivered = self._dropped = 0
        _exporter_after_fork(self.exporter)
