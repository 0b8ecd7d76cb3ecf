"""The single writer thread: group commit for every write the server makes.

Callers hand over a job (a function of the writer connection) and get a future. The thread
takes the first queued job, then every job queued behind it, and runs them all in ONE
transaction, each inside its own savepoint so one failing job cannot undo the others. Futures
are resolved only after COMMIT returned: an acknowledged write is in the WAL.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import attrs

from whyops.server.store.connection import open_writer, unwritable

log = logging.getLogger("whyops.server.store")
T = TypeVar("T")
# Jobs per transaction; bounds how long a group holds the write lock and the latency of the
# first job in it. Ingest requests of 100 events make this up to ~25k rows per commit.
MAX_JOBS_PER_COMMIT = 256
# Traces whose last step is kept in memory; beyond it the cache starts over (bounded memory).
MAX_CACHED_TRACES = 100_000


@attrs.define
class WriterState:
    """Caches owned by the writer thread (the only writer, so they stay exact)."""

    step_max: dict[tuple[str, str], int] = attrs.field(factory=dict)
    agents: dict[tuple[str, str], tuple[str, str]] = attrs.field(factory=dict)
    last_stamp_us: int = 0

    def remember_step(self, key: tuple[str, str], step: int) -> None:
        if len(self.step_max) >= MAX_CACHED_TRACES:  # forgotten steps are re-read from the table
            self.step_max.clear()
        self.step_max[key] = step

    def stamp(self, now_us: int) -> int:
        """A write time that never goes backwards (trace ``updatedAt``, for live polling)."""
        self.last_stamp_us = max(now_us, self.last_stamp_us)
        return self.last_stamp_us

    def reset(self) -> None:
        """Forget everything; called when a rollback may have undone cached writes."""
        self.step_max.clear()
        self.agents.clear()


Job = Callable[[sqlite3.Connection, WriterState], Any]


class WriterClosedError(RuntimeError):
    """The store is shutting down and accepts no more writes."""


class StorageUnavailableError(RuntimeError):
    """The database cannot commit right now (disk full, I/O error, read-only or locked file);
    nothing of the write was stored, and a retry may succeed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# What SQLite says when the storage, not the write, is at fault (primary result codes; the
# messages are for Pythons before 3.11, whose errors carry no code).
_STORAGE_FAILURES = {
    13: "database or disk is full",  # SQLITE_FULL (also a file-size limit)
    10: "disk I/O error",  # SQLITE_IOERR
    8: "attempt to write a readonly database",  # SQLITE_READONLY
    14: "unable to open database file",  # SQLITE_CANTOPEN
    5: "database is locked",  # SQLITE_BUSY
    15: "locking protocol",  # SQLITE_PROTOCOL
    11: "database disk image is malformed",  # SQLITE_CORRUPT
    26: "file is not a database",  # SQLITE_NOTADB
}


def storage_failure(exc: BaseException) -> str | None:
    """The storage problem ``exc`` reports, or None when it is not one."""
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return str(exc) if code & 0xFF in _STORAGE_FAILURES else None
    message = str(exc)
    return message if any(m in message for m in _STORAGE_FAILURES.values()) else None


@attrs.define
class _Queued:
    job: Job
    future: Future[Any]


_STOP = object()


class Writer:
    """Owns the write connection and the thread that uses it."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn = open_writer(path)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._state = WriterState()
        self._lock = threading.Lock()
        self._closed = False
        self.commits = 0  # transactions committed, for tests and the benchmark
        # Why the last transaction could not commit; None once one commits again.
        self.failure: str | None = None
        self._thread = threading.Thread(target=self._run, name="whyops-store-writer", daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        """Jobs waiting for the writer thread (approximate, for monitoring)."""
        return self._queue.qsize()

    def submit(self, job: Callable[[sqlite3.Connection, WriterState], T]) -> Future[T]:
        """Queue ``job``; the future resolves once its transaction committed."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise WriterClosedError("the store is closed")
            self._queue.put(_Queued(job, future))
        return future

    def close(self, timeout: float | None = None) -> None:
        """Stop accepting jobs, commit everything already queued, then stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)
        if not self._thread.is_alive() and unwritable(self._path) is None:
            self._conn.close()  # (on an unwritable -shm file, closing could raise SIGBUS)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            batch: list[_Queued] = []
            item = first
            while True:
                if item is _STOP:
                    stopping = True  # keep draining: nothing queued before close is lost
                else:
                    batch.append(item)
                if len(batch) >= MAX_JOBS_PER_COMMIT:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._commit(batch)
        self._drain_after_stop()

    def _drain_after_stop(self) -> None:
        rest: list[_Queued] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                rest.append(item)
        if rest:
            self._commit(rest)

    def _commit(self, batch: list[_Queued]) -> None:
        outcomes: list[tuple[_Queued, Any, BaseException | None]] = []
        try:
            problem = unwritable(self._path)
            if problem is not None:
                raise StorageUnavailableError(problem)
            self._conn.execute("BEGIN IMMEDIATE")
            for queued in batch:
                outcomes.append((queued, *self._apply(queued.job)))
            self._conn.execute("COMMIT")
            self.commits += 1
        except Exception as exc:  # the transaction as a whole failed: nobody was acknowledged
            failure = self._failed(exc)
            self._rollback()
            for queued in batch:
                _settle(queued.future, None, failure)
            return
        if self.failure is not None:
            log.warning("the store commits again (it had failed: %s)", self.failure)
            self.failure = None
        for queued, result, error in outcomes:
            _settle(queued.future, result, error)

    def _failed(self, exc: Exception) -> Exception:
        """What a failed transaction's callers get; a storage failure is logged once, when the
        store goes from committing to failing, not for every batch while it lasts."""
        reason = exc.reason if isinstance(exc, StorageUnavailableError) else storage_failure(exc)
        if reason is None:
            log.exception("store transaction failed")
            return exc
        if self.failure is None:
            log.error("the store cannot commit (%s); writes answer 503 until it can", reason)
        self.failure = reason
        return StorageUnavailableError(reason)

    def _apply(self, job: Job) -> tuple[Any, BaseException | None]:
        self._conn.execute("SAVEPOINT job")
        try:
            result = job(self._conn, self._state)
        except Exception as exc:
            try:
                self._conn.execute("ROLLBACK TO job")
                self._conn.execute("RELEASE job")
            except sqlite3.Error:  # SQLite already rolled the whole transaction back
                raise exc from None
            self._state.reset()
            return None, self._failed(exc) if storage_failure(exc) else exc
        self._conn.execute("RELEASE job")
        return result, None

    def _rollback(self) -> None:
        self._state.reset()
        try:
            self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _settle(future: Future[Any], result: Any, error: BaseException | None) -> None:
    if future.set_running_or_notify_cancel():
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
