"""The single writer thread: group commit for every write the server makes.

Callers hand over a job (a function of the writer connection) and get a future. The thread
takes the first queued job, then every job queued behind it, and runs them all in ONE
transaction, each inside its own savepoint so one failing job cannot undo the others. Futures
are resolved only after COMMIT returned: an acknowledged write is in the WAL (SQLite) or
committed by the database (PostgreSQL).

On PostgreSQL several servers write at once: jobs lock what they update (``WriterState.lock``),
only the first job of a transaction may wait for a lock, and a job finding its lock held by
another server ends its transaction early and runs first in the next one, waiting then.
There the ingest jobs of one transaction also hold their event rows back for one ``COPY``
before COMMIT (``PgConnection.hold``); should that fail, the transaction runs again with each
job inserting its own rows, so a failing job still fails alone.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

import attrs

from whyops.pricing import PriceTable
from whyops.server.store.connection import open_writer, unwritable
from whyops.server.store.dialect import Connection, LockBusy, dialect_of

log = logging.getLogger("whyops.server.store")
T = TypeVar("T")
# Jobs per transaction; bounds how long a group holds the write lock and the latency of the
# first job in it. Ingest requests of 100 events make this up to ~25k rows per commit.
MAX_JOBS_PER_COMMIT = 256
# Traces whose last step is kept in memory; beyond it the cache starts over (bounded memory).
MAX_CACHED_TRACES = 100_000


@attrs.define
class WriterState:
    """Caches owned by the writer thread. They stay exact when it is the database's only
    writer (``exclusive``: SQLite); with several servers on one database they stay empty, and
    jobs lock what they read and update instead (:meth:`lock`)."""

    step_max: dict[tuple[str, str], int] = attrs.field(factory=dict)
    agents: dict[tuple[str, str], tuple[str, str]] = attrs.field(factory=dict)
    last_stamp_us: int = 0
    exclusive: bool = True
    answers_pruned_us: int = 0  # when expired proxy answer ids were last deleted (answers.py)
    # The price table that prices LLM calls at ingest (None: calls are stored unpriced).
    prices: PriceTable | None = None

    def remember_step(self, key: tuple[str, str], step: int) -> None:
        if not self.exclusive:
            return
        if len(self.step_max) >= MAX_CACHED_TRACES:  # forgotten steps are re-read from the table
            self.step_max.clear()
        self.step_max[key] = step

    def remember_agent(self, key: tuple[str, str], ids: tuple[str, str]) -> None:
        """Cache an agent's ids (with other writers, only its existence is trusted)."""
        if len(self.agents) >= MAX_CACHED_TRACES:
            self.agents.clear()
        self.agents[key] = ids

    def lock(self, conn: Connection, names: Sequence[tuple[str, ...]]) -> None:
        """Lock ``names`` (e.g. ``("trace", project, trace)``) until the transaction ends;
        nothing to do for the only writer. May raise :class:`LockBusy`."""
        if not self.exclusive:
            conn.lock(names)  # type: ignore[attr-defined]

    def stamp(self, now_us: int) -> int:
        """A write time that never goes backwards (trace ``updatedAt``, for live polling)."""
        self.last_stamp_us = max(now_us, self.last_stamp_us)
        return self.last_stamp_us

    def reset(self) -> None:
        """Forget everything; called when a rollback may have undone cached writes."""
        self.step_max.clear()
        self.agents.clear()


Job = Callable[[Any, WriterState], Any]


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


class Backend(Protocol):
    """How the writer opens, checks and closes its database (SQLite file or PostgreSQL)."""

    exclusive: bool  # the only writer of its database: caches stay exact

    def connect(self) -> Any: ...

    def blocked(self) -> str | None: ...  # why a transaction must not even start, or None

    def failure(self, exc: BaseException) -> str | None: ...  # the storage problem, or None

    def retry(self, exc: BaseException) -> bool: ...  # two writers collided: run it again

    # A failure of the transaction, not of the job that saw it: run the batch again, each
    # job on its own (``group``: whether jobs may share their writes).
    def whole(self, exc: BaseException) -> bool: ...

    def group(self, conn: Any, on: bool) -> None: ...

    def broken(self, conn: Any) -> bool: ...

    def close(self, conn: Any) -> None: ...


@attrs.define
class SqliteBackend:
    path: str
    exclusive: bool = True

    def connect(self) -> sqlite3.Connection:
        return open_writer(self.path)

    def blocked(self) -> str | None:
        return unwritable(self.path)

    def failure(self, exc: BaseException) -> str | None:
        return storage_failure(exc)

    def retry(self, exc: BaseException) -> bool:
        return False

    def whole(self, exc: BaseException) -> bool:
        return False

    def group(self, conn: Any, on: bool) -> None:
        pass

    def broken(self, conn: Any) -> bool:
        return False

    def close(self, conn: Any) -> None:
        if unwritable(self.path) is None:  # (on an unwritable -shm file, closing could SIGBUS)
            conn.close()


@attrs.define
class _Queued:
    job: Job
    future: Future[Any]


class _Regroup(Exception):
    """The grouped transaction failed as a whole: run it again, each job on its own."""


_STOP = object()
_BUSY = object()  # a job's result: a lock it needs is held by another server


class Writer:
    """Owns the write connection and the thread that uses it."""

    def __init__(self, target: str | Backend, prices: PriceTable | None = None) -> None:
        self._backend = SqliteBackend(target) if isinstance(target, str) else target
        self._conn: Any = self._backend.connect()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._state = WriterState(exclusive=self._backend.exclusive, prices=prices)
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

    def submit(self, job: Callable[[Any, WriterState], T]) -> Future[T]:
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
        if not self._thread.is_alive() and self._conn is not None:
            self._backend.close(self._conn)

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
            self._commit_all(batch)
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
        self._commit_all(rest)

    def _commit_all(self, batch: list[_Queued]) -> None:
        """Commit ``batch``, in more than one transaction when a job waits for a lock."""
        waits = False
        grouped = True
        while batch:
            try:
                batch = self._commit(batch, first_waits=waits, grouped=grouped)
            except _Regroup:
                grouped = False  # once more, each job writing its own rows
                continue
            waits = True

    def _commit(
        self, batch: list[_Queued], *, first_waits: bool = False, grouped: bool = True
    ) -> list[_Queued]:
        """One transaction; returns the jobs left for the next one (a lock was busy)."""
        outcomes: list[tuple[_Queued, Any, BaseException | None]] = []
        left: list[_Queued] = []
        try:
            conn = self._begin()
            self._backend.group(conn, grouped)
            for index, queued in enumerate(batch):
                self._wait_for_locks(conn, first_waits and index == 0)
                result, error = self._apply(queued.job)
                if result is _BUSY:
                    left = batch[index:]
                    break
                outcomes.append((queued, result, error))
            conn.execute("COMMIT")
            self.commits += 1
        except Exception as exc:  # the transaction as a whole failed: nobody was acknowledged
            if grouped and self._backend.whole(exc):
                self._rollback()
                raise _Regroup from exc
            return self._abandon(batch, exc, retried=first_waits)
        if self.failure is not None:
            log.warning("the store commits again (it had failed: %s)", self.failure)
            self.failure = None
        for queued, result, error in outcomes:
            _settle(queued.future, result, error)
        return left

    def _begin(self) -> Any:
        problem = self._backend.blocked()
        if problem is not None:
            raise StorageUnavailableError(problem)
        if self._conn is None or self._backend.broken(self._conn):
            self._reconnect()
        try:
            self._conn.execute(dialect_of(self._conn).begin)
        except Exception:
            if not self._backend.broken(self._conn):
                raise
            self._reconnect()  # the database restarted while the connection sat idle
            self._conn.execute(dialect_of(self._conn).begin)
        return self._conn

    def _reconnect(self) -> None:
        """A new connection after the database went away (restart, failover)."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._backend.close(self._conn)
            self._conn = None
        self._conn = self._backend.connect()

    def _wait_for_locks(self, conn: Any, waits: bool) -> None:
        if not self._state.exclusive:
            conn.wait_for_locks = waits

    def _abandon(self, batch: list[_Queued], exc: Exception, *, retried: bool) -> list[_Queued]:
        """Roll back; run it all again after a collision with another writer, else fail it."""
        self._rollback()
        if self._backend.retry(exc) and not retried:
            log.info("store transaction collided with another server's; running it again")
            return batch
        failure = self._failed(exc)
        for queued in batch:
            _settle(queued.future, None, failure)
        return []

    def _failed(self, exc: Exception) -> Exception:
        """What a failed transaction's callers get; a storage failure is logged once, when the
        store goes from committing to failing, not for every batch while it lasts."""
        reason = exc.reason if isinstance(exc, StorageUnavailableError) else None
        reason = reason or self._backend.failure(exc)
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
            self._conn.execute("RELEASE job")
        except Exception as exc:
            if self._backend.whole(exc):
                raise
            try:
                self._conn.execute("ROLLBACK TO job")
                self._conn.execute("RELEASE job")
            except Exception as undo:  # the database already rolled the whole transaction back
                if self._backend.whole(undo):
                    raise
                raise exc from None
            self._state.reset()
            if isinstance(exc, LockBusy):
                return _BUSY, None
            return None, self._failed(exc) if self._backend.failure(exc) else exc
        return result, None

    def _rollback(self) -> None:
        self._state.reset()
        if self._conn is None:
            return
        try:
            self._conn.execute("ROLLBACK")
        except Exception:  # nothing to roll back, or the connection is gone
            pass


def _settle(future: Future[Any], result: Any, error: BaseException | None) -> None:
    if future.set_running_or_notify_cancel():
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
