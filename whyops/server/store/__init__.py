"""SQLite storage: WAL, one writer thread with group commit, per-thread reader connections."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from functools import partial
from typing import Any, TypeVar

from whyops.server.settings import KeySpec
from whyops.server.store.agents import init_agent
from whyops.server.store.checkpoint import Checkpointer
from whyops.server.store.connection import open_reader, open_writer, unwritable
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
    "remember_key",
]

T = TypeVar("T")


def bootstrap_keys(path: str, specs: Sequence[KeySpec]) -> tuple[dict[str, Project], str | None]:
    """Migrate the database at ``path`` and resolve its keys (see ``keys.resolve_keys``)."""
    conn = open_writer(path)
    try:
        migrate(conn)
        return resolve_keys(conn, specs)
    finally:
        conn.close()


def remember_key(path: str, key: str, project_name: str) -> None:
    """Store ``key`` (hashed) in the database at ``path``: a plain ``whyops serve`` of that
    file then accepts it, for ``project_name``'s traces."""
    conn = open_writer(path)
    try:
        migrate(conn)
        store_key(conn, key, project_name)
    finally:
        conn.close()


class Store:
    """The database of one server: writes go through the writer thread, reads don't."""

    def __init__(self, path: str) -> None:
        self.path = path
        conn = open_writer(path)
        try:
            migrate(conn)
        finally:
            conn.close()
        self._writer = Writer(path)
        self._checkpointer = Checkpointer(path)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    def ingest(self, project_id: str, rows: Sequence[EventRow]) -> Future[list[EventResult]]:
        return self._writer.submit(partial(insert_events, project_id=project_id, rows=rows))

    def init_agent(
        self, project_id: str, name: str, metadata: dict[str, Any]
    ) -> Future[InitOutcome]:
        return self._writer.submit(
            partial(init_agent, project_id=project_id, name=name, metadata=metadata)
        )

    def submit(self, job: Callable[[sqlite3.Connection, WriterState], T]) -> Future[T]:
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
        """Why writes cannot commit now (disk full, I/O error...); None while they can."""
        return self._writer.failure

    def read(self, query: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``query(conn, ...)`` on this thread's reader connection."""
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

    def close(self, timeout: float | None = 30.0) -> None:
        """Commit everything queued, then close every connection."""
        self._writer.close(timeout)
        self._checkpointer.close()
        with self._readers_lock:
            if unwritable(self.path) is None:  # else closing could raise SIGBUS; exit does it
                for conn in self._readers:
                    conn.close()
            self._readers.clear()
