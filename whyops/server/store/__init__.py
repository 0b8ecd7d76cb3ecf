"""Storage: one writer thread with group commit, reads beside it.

SQLite (the default): a file in WAL mode, per-thread reader connections. PostgreSQL (a
``postgresql://`` URL): the same jobs and queries (see ``dialect``), pooled readers, and any
number of servers on one database.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from functools import partial
from typing import Any, TypeVar

from whyops.pricing import PriceTable
from whyops.server.settings import KeySpec
from whyops.server.store.agents import init_agent
from whyops.server.store.checkpoint import Checkpointer
from whyops.server.store.connection import open_reader, open_writer, unwritable
from whyops.server.store.dialect import is_postgres_url
from whyops.server.store.ingest import insert_events
from whyops.server.store.keys import resolve_keys, store_key
from whyops.server.store.rows import EventResult, EventRow, InitOutcome, Project
from whyops.server.store.schema import migrate
from whyops.server.store.writer import (
    StorageUnavailableError,
    Writer,
    WriterClosedError,
    WriterState,
    storage_failure,
)

__all__ = [
    "EventResult",
    "EventRow",
    "InitOutcome",
    "Project",
    "StorageUnavailableError",
    "Store",
    "WriterClosedError",
    "bootstrap_keys",
    "is_postgres_url",
    "remember_key",
]

T = TypeVar("T")


def open_migrated(target: str) -> Any:
    """A migrated write connection to ``target`` (a SQLite path or a PostgreSQL URL)."""
    if is_postgres_url(target):
        from whyops.server.store import pg  # psycopg only when PostgreSQL is asked for

        conn: Any = pg.connect(target)
    else:
        conn = open_writer(target)
    try:
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def bootstrap_keys(path: str, specs: Sequence[KeySpec]) -> tuple[dict[str, Project], str | None]:
    """Migrate the database at ``path`` and resolve its keys (see ``keys.resolve_keys``)."""
    conn = open_migrated(path)
    try:
        return resolve_keys(conn, specs)
    finally:
        conn.close()


def remember_key(path: str, key: str, project_name: str) -> None:
    """Store ``key`` (hashed) in the database at ``path``: a plain ``whyops serve`` of that
    file then accepts it, for ``project_name``'s traces."""
    conn = open_migrated(path)
    try:
        store_key(conn, key, project_name)
    finally:
        conn.close()


class _SqliteReaders:
    """One reader connection per thread, in WAL mode beside the writer."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    def read(self, query: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        problem = unwritable(self.path)  # readers write to the -shm file too
        if problem is not None:
            raise StorageUnavailableError(problem)
        try:
            return query(self._reader(), *args, **kwargs)
        except sqlite3.Error as exc:
            reason = storage_failure(exc)
            if reason is None:
                raise
            raise StorageUnavailableError(reason) from exc

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_reader(self.path)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def close(self) -> None:
        with self._readers_lock:
            if unwritable(self.path) is None:  # else closing could raise SIGBUS; exit does it
                for conn in self._readers:
                    conn.close()
            self._readers.clear()


class Store:
    """The database of one server: writes go through the writer thread, reads don't."""

    def __init__(self, path: str, prices: PriceTable | None = None) -> None:
        self.path = path
        open_migrated(path).close()
        self.postgres = is_postgres_url(path)
        self._checkpointer: Checkpointer | None = None
        self._readers: Any
        if self.postgres:
            from whyops.server.store import pg

            self._writer = Writer(pg.PgBackend(path), prices)
            self._readers = pg.PgReaders(path)
        else:
            self._writer = Writer(path, prices)
            self._checkpointer = Checkpointer(path)
            self._readers = _SqliteReaders(path)

    def ingest(self, project_id: str, rows: Sequence[EventRow]) -> Future[list[EventResult]]:
        return self._writer.submit(partial(insert_events, project_id=project_id, rows=rows))

    def init_agent(
        self, project_id: str, name: str, metadata: dict[str, Any]
    ) -> Future[InitOutcome]:
        return self._writer.submit(
            partial(init_agent, project_id=project_id, name=name, metadata=metadata)
        )

    def submit(self, job: Callable[[Any, WriterState], T]) -> Future[T]:
        """Run ``job(conn, state)`` on the writer thread, inside a shared transaction."""
        return self._writer.submit(job)

    @property
    def commits(self) -> int:
        return self._writer.commits

    @property
    def queued_writes(self) -> int:
        return self._writer.queued

    @property
    def failure(self) -> str | None:
        """Why writes cannot commit now (disk full, I/O error, database away...); None while
        they can."""
        return self._writer.failure

    def read(self, query: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``query(conn, ...)`` on a reader connection (this thread's, or a pooled one)."""
        result: T = self._readers.read(query, args, kwargs)
        return result

    def close(self, timeout: float | None = 30.0) -> None:
        """Commit everything queued, then close every connection."""
        self._writer.close(timeout)
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._readers.close()
