"""The flusher: a bounded queue on the caller's side, one daemon thread on the other.

Drop rule: the queue holds at most ``max_queue_size`` records. When it is full, the *new*
record is refused and counted (records already queued stay, so a trace's early spans are
not evicted by a flood of later ones). The first drop is logged once on the ``whyops``
logger; every drop is counted exactly in :class:`~whyops.models.DeliveryReport.dropped`.

The caller's side (``submit``) takes one uncontended lock that is never held across I/O.
The worker exports with instrumentation suppressed, so its own HTTP is never traced.
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
from whyops._errors import log_internal_error
from whyops.export import Exporter, ExportResult, freeze
from whyops.models import DeliveryReport, Record

__all__ = ["BatchProcessor", "InlineProcessor"]

logger = logging.getLogger("whyops")


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
        max_batch_size: int = 512,
        flush_interval: float = 1.0,
    ) -> None:
        self.exporter = exporter
        self.max_queue_size = max_queue_size
        self.max_batch_size = max_batch_size
        self.flush_interval = flush_interval
        self._reset()
        ref = weakref.WeakMethod(self.after_fork)
        os.register_at_fork(after_in_child=lambda: (m := ref()) and m())

    def _reset(self) -> None:
        self._queue: deque[Any] = deque()
        self._counter_lock = threading.Lock()  # drops have two writers: callers and worker
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._in_flight = 0
        self._delivered = self._retried = self._dropped = 0
        self._drop_logged = False

    # -- caller's side ------------------------------------------------------------------

    def submit(self, item: Any) -> None:
        """Queue an ended span or a record: O(1), lock-free unless dropping, never raises.

        Threads racing at the cap can overshoot it by at most one record each; every
        refused record is counted exactly.
        """
        if self._thread is None:
            self._start()
        queue = self._queue
        if len(queue) >= self.max_queue_size or self._closed:
            self._count_drop()
            return
        queue.append(item)
        if len(queue) >= self.max_batch_size and not self._wake.is_set():
            self._wake.set()

    def _count_drop(self) -> None:
        with self._counter_lock:
            self._dropped += 1
            first = not self._drop_logged
            self._drop_logged = True
        if first:
            reason = "is shut down" if self._closed else f"is full ({self.max_queue_size} records)"
            logger.warning(
                "whyops: export queue %s; new records are dropped and counted "
                "(see the DeliveryReport of whyops.flush())",
                reason,
            )

    def _start(self) -> None:
        with self._counter_lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="whyops-flusher", daemon=True)
        try:
            self._thread.start()
        except RuntimeError:
            # No new threads (interpreter shutting down, or a thread limit): records can no
            # longer be delivered, so refuse them, counted, instead of queueing forever.
            self._closed = True
            logger.warning("whyops: cannot start the flusher thread; records are dropped")

    def flush(self, timeout: float = 5.0) -> DeliveryReport:
        """Wait until every record queued before the call is exported or dropped."""
        thread = self._thread
        if thread is None or thread is threading.current_thread() or not thread.is_alive():
            return self.report(timed_out=bool(self._queue) and thread is not None)
        marker = _FlushMarker()
        self._queue.append(marker)
        self._wake.set()
        ok = marker.done.wait(max(timeout, 0.0))
        return self.report(timed_out=not ok)

    def shutdown(self, timeout: float = 2.0) -> DeliveryReport:
        """Flush within ``timeout``, then stop the worker and the exporter."""
        deadline = time.monotonic() + max(timeout, 0.0)
        report = self.flush(timeout)
        self._closed = True
        self._wake.set()
        _stop_exporter(self.exporter)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
        final = self.report(timed_out=report.timed_out)
        if final.pending:
            logger.warning(
                "whyops: shut down with %d records not delivered (exporter too slow or "
                "unreachable); they are lost",
                final.pending,
            )
        if final.dropped:
            logger.warning("whyops: %d records were dropped in total", final.dropped)
        return final

    def report(self, timed_out: bool = False) -> DeliveryReport:
        queued = sum(1 for item in list(self._queue) if not isinstance(item, _FlushMarker))
        return DeliveryReport(
            delivered=self._delivered,
            retried=self._retried,
            dropped=self._dropped,
            pending=queued + self._in_flight,
            timed_out=timed_out,
        )

    def after_fork(self) -> None:
        """In a forked child: forget the parent's queue and thread; start afresh on demand."""
        self._reset()
        reset = getattr(self.exporter, "after_fork", None)
        if callable(reset):
            reset()

    # -- worker's side ------------------------------------------------------------------

    def _run(self) -> None:
        SUPPRESS.set(True)  # this thread's own context: nothing it does is traced
        while True:
            signalled = self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self._drain(interval_due=not signalled)
            except Exception:
                log_internal_error("flusher")
            if self._closed and not self._queue:
                return

    def _drain(self, interval_due: bool) -> None:
        """Ship full batches; ship a partial one when the interval passed or a flush waits."""
        while self._queue:
            due = interval_due or self._closed or len(self._queue) >= self.max_batch_size
            if not due and not any(isinstance(i, _FlushMarker) for i in list(self._queue)):
                return
            batch, markers = self._take()
            if batch:
                self._export(batch)
            for marker in markers:
                marker.done.set()

    def _take(self) -> tuple[list[Any], list[_FlushMarker]]:
        """Up to one batch of records, stopping after the first flush marker."""
        queue = self._queue
        batch: list[Any] = []
        markers: list[_FlushMarker] = []
        while queue and len(batch) < self.max_batch_size:
            item = queue.popleft()
            if isinstance(item, _FlushMarker):
                markers.append(item)
                break
            batch.append(item)
        self._in_flight = len(batch)
        return batch, markers

    def _export(self, batch: list[Any]) -> None:
        records: list[Record] = []
        for item in batch:
            try:
                records.append(freeze(item))
            except Exception:
                log_internal_error("freeze")
        result = _call_exporter(self.exporter, records) if records else ExportResult(ok=True)
        self._retried += result.retries
        lost = len(batch) - len(records) + result.dropped if result.ok else len(batch)
        if result.ok:
            self._delivered += len(records) - result.dropped
        if lost:
            with self._counter_lock:
                self._dropped += lost
        self._in_flight = 0


def _call_exporter(exporter: Exporter, records: list[Record]) -> ExportResult:
    try:
        return exporter.export(records)
    except Exception as exc:
        log_internal_error(f"{type(exporter).__name__}.export")
        return ExportResult(ok=False, error=repr(exc))


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
        self._lock = threading.Lock()
        self._delivered = self._dropped = 0
