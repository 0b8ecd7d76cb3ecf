"""PostgreSQL connections that the store's SQLite-syntax jobs and queries can use as they are.

Imported only when the server is given a ``postgresql://`` URL: ``psycopg`` is an optional
dependency (``pip install 'whyops[postgres]'``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg.adapt import Loader
from psycopg.rows import RowMaker, tuple_row
from psycopg_pool import ConnectionPool, PoolTimeout

from whyops.server.store.dialect import POSTGRESQL, LockBusy, display_target
from whyops.server.store.writer import StorageUnavailableError

# Seconds to wait for the database when connecting; past it, writes answer 503 and retry.
CONNECT_TIMEOUT_S = 5
# Reader connections; reads run on the server's thread pool.
READ_POOL_SIZE = 8
# Seconds a read waits for a pooled connection; past it (database away, pool exhausted) it
# answers 503.
READ_WAIT_S = 3


@functools.lru_cache(maxsize=1024)
def pg_sql(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (the store's SQL holds no other ``?`` or ``%``)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgRow:
    """A row readable by position and by column name, like ``sqlite3.Row``."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, key: int | str) -> Any:
        return self._values[key if isinstance(key, int) else self._index[key]]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def keys(self) -> list[str]:
        return list(self._index)


def _named_rows(cursor: Any) -> RowMaker[Any]:
    index = {column.name: i for i, column in enumerate(cursor.description or ())}
    return functools.partial(PgRow, index=index)


class _IntegralNumericLoader(Loader):
    """``sum()`` of BIGINT columns is NUMERIC in PostgreSQL: an int, as SQLite gives it."""

    def load(self, data: Any) -> int | float:
        text = bytes(data)
        return int(text) if text.lstrip(b"-").isdigit() else float(text)


def configure(raw: psycopg.Connection[Any]) -> None:
    raw.adapters.register_loader("numeric", _IntegralNumericLoader)


# The savepoint statements the writer sends around every job: held back, and sent with the
# job's next statement, so they cost no round trip of their own.
_DEFERRED = frozenset({"SAVEPOINT job", "RELEASE job"})


class HeldRowsError(RuntimeError):
    """Held event rows (``PgConnection.hold``) could not be inserted: the transaction fails,
    and runs again with each batch inserting its own rows."""


class _Cursor:
    """``conn.cursor()``: ``row_factory = None`` gives plain tuples, as with sqlite3."""

    def __init__(self, conn: PgConnection) -> None:
        self._conn = conn
        self.row_factory: Any = PgRow

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        rows = _named_rows if self.row_factory is not None else tuple_row
        self._conn.write_held()
        self._conn.flush()
        cursor = self._conn.raw.cursor(row_factory=rows)
        return cursor.execute(pg_sql(sql), self._conn.bind(params))


class PgConnection:
    """A psycopg connection in autocommit mode, driven like the store's sqlite3 connections
    (explicit BEGIN/SAVEPOINT/COMMIT statements, ``?`` placeholders)."""

    dialect = POSTGRESQL

    def __init__(self, raw: psycopg.Connection[Any], *, reader: bool = False) -> None:
        self.raw = raw
        self.reader = reader
        # Whether :meth:`lock` waits for a lock another server holds (else it raises LockBusy).
        self.wait_for_locks = True
        # Statements held back until the next one (savepoints, locks), each with the message
        # of the LockBusy its result raises when false (None: its result does not matter).
        self._deferred: list[tuple[str, str | None]] = []
        # Event rows held back until the transaction's next statement from outside the
        # ingest (or its COMMIT): one COPY and one round trip of trace upserts for all of a
        # group's batches. ``held_traces`` is what those rows make of each trace (last step,
        # idempotency keys), which the table cannot tell yet. Off: each batch inserts its own.
        self.hold_rows = False
        self.held_traces: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self._held_rows: list[Sequence[Any]] = []
        self._held_upserts: list[tuple[str, Sequence[Any]]] = []
        self._held_mark: tuple[int, int, dict[tuple[str, str], Any]] = (0, 0, {})
        self._ingesting = False
        self._held_columns: tuple[str, ...] = ()
        self._earlier_written = False
        self._upserts: list[tuple[str, Sequence[Any]]] = []

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> psycopg.Cursor[Any] | None:
        if sql == "SAVEPOINT job":
            self._held_mark = (len(self._held_rows), len(self._held_upserts), self.held_traces)
            self.held_traces = dict(self.held_traces)
            self._earlier_written = False
        elif sql == "ROLLBACK TO job":
            if self._earlier_written:
                raise HeldRowsError("a job failed after writing the rows held before it")
            rows, upserts, self.held_traces = self._held_mark
            del self._held_rows[rows:], self._held_upserts[upserts:]
        elif sql == "ROLLBACK":
            self._drop_held()
        elif not self._ingesting and sql not in _DEFERRED:
            self.write_held()
        if sql in _DEFERRED:
            if sql == "RELEASE job" and self._checks_pending():
                self.flush()  # a lock's answer belongs to the job it ends
            self._deferred.append((sql, None))
            return None
        cursor = self.raw.cursor(row_factory=_named_rows)
        if sql == "ROLLBACK":
            self._deferred.clear()  # undone anyway, and would fail in an aborted transaction
        elif sql == "ROLLBACK TO job":  # locks not taken yet: nothing to undo
            self._deferred = [entry for entry in self._deferred if entry[0] in _DEFERRED]
        if self._upserts or self._checks_pending() or (params and self._deferred):
            return self._send_deferred(cursor, sql, params)
        if params:
            return cursor.execute(pg_sql(sql), self.bind(params))
        # A statement without parameters goes in one round trip with the held-back ones
        # (PostgreSQL's simple query protocol); its own result is the last.
        cursor.execute("; ".join([*(text for text, _ in self._deferred), sql]))
        self._deferred.clear()
        while cursor.nextset():
            pass
        return cursor

    def _checks_pending(self) -> bool:
        return any(busy is not None for _, busy in self._deferred)

    def _send_deferred(
        self, cursor: psycopg.Cursor[Any] | None, sql: str | None, params: Sequence[Any]
    ) -> psycopg.Cursor[Any] | None:
        """The held-back statements and ``sql`` in one pipeline: one round trip for all."""
        pending, self._deferred = self._deferred, []
        upserts, self._upserts = self._upserts, []
        checks: list[tuple[psycopg.Cursor[Any], str]] = []
        try:
            with self.raw.pipeline():
                for text, values in upserts:
                    self.raw.cursor().execute(text, values)
                for text, busy in pending:
                    held = self.raw.cursor().execute(text)
                    if busy is not None:
                        checks.append((held, busy))
                if cursor is not None and sql is not None:
                    if params:
                        cursor.execute(pg_sql(sql), self.bind(params))
                    else:
                        cursor.execute(sql)
        except psycopg.Error as exc:
            # A COMMIT lost with the connection may have committed: not to be run again here.
            if not upserts or (sql == "COMMIT" and self.broken):
                raise
            raise HeldRowsError(_first_line(exc)) from exc
        for held, busy in checks:
            row = held.fetchone()
            if not (row and row[0]):
                raise LockBusy(busy)
        return cursor

    @contextlib.contextmanager
    def ingesting(self) -> Iterator[None]:
        """The ingest's own statements: they need not see the held rows (``held_traces``)."""
        self._ingesting = True
        try:
            yield
        finally:
            self._ingesting = False

    def hold(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        upsert: str,
        params: Sequence[Any],
        trace: Any,
    ) -> None:
        """Insert ``rows`` (into ``events``) and run the trace's ``upsert`` later, with the
        group's other held rows; ``trace``: (key, last step, idempotency keys seen)."""
        self._held_columns = tuple(columns)
        self._held_rows.extend(rows)
        self._held_upserts.append((pg_sql(upsert), params))
        key, last, seen = trace
        self.held_traces[key] = (last, seen)

    def write_held(self) -> None:
        """Insert the held rows now; a failure is the transaction's (:class:`HeldRowsError`)."""
        if not self._held_upserts:
            return
        rows, upserts = self._held_rows, self._held_upserts
        # Rows of earlier jobs written inside this job's savepoint (already sent): rolling it
        # back would undo them too, so that ends the transaction instead (see ROLLBACK TO).
        # The job's own rows go inside its savepoint, sent first if still held back (before
        # it, a failing job's rows would stay). Once set, that stays so for the job.
        if len(rows) > self._held_mark[0] and ("SAVEPOINT job", None) in self._deferred:
            self.flush()
        inside = ("SAVEPOINT job", None) not in self._deferred
        self._earlier_written |= inside and self._held_mark[0] > 0
        self._drop_held()
        statement = f"COPY events ({', '.join(self._held_columns)}) FROM STDIN"
        try:
            with self.raw.cursor().copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.Error as exc:
            raise HeldRowsError(_first_line(exc)) from exc
        self._upserts = upserts  # sent first with the next statement

    def _drop_held(self) -> None:
        self._held_rows, self._held_upserts, self.held_traces = [], [], {}
        self._upserts = []
        self._held_mark = (0, 0, {})

    def flush(self) -> None:
        """Send the held-back statements now."""
        if self._upserts or self._checks_pending():
            self._send_deferred(None, None, ())
        elif self._deferred:
            self.raw.execute("; ".join(text for text, _ in self._deferred))
            self._deferred.clear()

    def bind(self, params: Sequence[Any]) -> Sequence[Any]:
        """A read's text holding NUL, which nothing stored holds, as NULL: it equals nothing
        (PostgreSQL refuses NUL in text; writes are refused before, see ``text.py``)."""
        if not self.reader:
            return params
        return [None if isinstance(p, str) and "\x00" in p else p for p in params]

    def executemany(self, sql: str, params: Iterable[Sequence[Any]], /) -> psycopg.Cursor[Any]:
        if not self._ingesting:
            self.write_held()
        self.flush()
        cursor = self.raw.cursor()
        cursor.executemany(pg_sql(sql), params)
        return cursor

    def cursor(self) -> _Cursor:
        return _Cursor(self)

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Insert ``rows`` with ``COPY``: one stream instead of a statement per row."""
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        self.flush()
        with self.raw.cursor().copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def lock(self, names: Iterable[tuple[str, ...]]) -> None:
        """Take transaction locks on ``names`` (traces, agents), in one global order.

        Only the first job of a transaction waits (``wait_for_locks``); the others give up at
        once (:class:`LockBusy`), so two servers' transactions can never wait on each other.
        The lock statement is held back and sent with the job's next statement (one round
        trip for both); a busy lock raises LockBusy from that statement.
        """
        keys = sorted({lock_key(name) for name in names})
        if not keys:
            return
        # Integers written into the statement: no parameters.
        array = f"unnest('{{{','.join(map(str, keys))}}}'::bigint[]) AS k"
        if self.wait_for_locks:
            self._deferred.append(
                (f"SELECT pg_advisory_xact_lock(k) FROM {array} ORDER BY k", None)
            )
            return
        busy = f"{len(keys)} locks held by another server"
        self._deferred.append((f"SELECT bool_and(pg_try_advisory_xact_lock(k)) FROM {array}", busy))

    @property
    def broken(self) -> bool:
        return bool(self.raw.closed or self.raw.broken)

    def close(self) -> None:
        self.raw.close()


def lock_key(name: tuple[str, ...]) -> int:
    """A signed 64-bit advisory lock key for ``name``; a collision only serializes more."""
    digest = hashlib.blake2b("\x00".join(name).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def connect(url: str) -> PgConnection:
    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.OperationalError as exc:
        where = display_target(url)
        raise StorageUnavailableError(f"cannot connect to {where}: {_first_line(exc)}") from exc
    configure(raw)
    return PgConnection(raw)


def reader_pool(url: str) -> ConnectionPool[Any]:
    """Connections for reads, checked before each use so a restarted database is survived."""
    return ConnectionPool(
        url,
        min_size=1,
        max_size=READ_POOL_SIZE,
        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
        configure=configure,
        check=ConnectionPool.check_connection,
        timeout=READ_WAIT_S,
        # The pool's reconnect delays double from 1 s: give up early instead, so the first
        # read after the database is back starts a fresh connection attempt.
        reconnect_timeout=CONNECT_TIMEOUT_S,
        open=True,
        name="whyops-readers",
    )


# SQLSTATE classes that mean the database, not the query, is at fault: connection lost (08),
# too busy or out of space (53), shut down or restarting (57P).
_UNAVAILABLE_STATES = ("08", "53", "57P")
# Two transactions got in each other's way: running it again will succeed.
RETRY_STATES = ("40001", "40P01")


def unavailable(exc: BaseException) -> str | None:
    """Why the database cannot take writes now, or None when ``exc`` is about the query."""
    if not isinstance(exc, psycopg.Error):
        return None
    state = exc.sqlstate or ""
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError) and not state:
        return f"database unreachable: {_first_line(exc)}"
    if state.startswith(_UNAVAILABLE_STATES):
        return f"database unavailable: {_first_line(exc)}"
    return None


def should_retry(exc: BaseException) -> bool:
    return isinstance(exc, psycopg.Error) and (exc.sqlstate or "") in RETRY_STATES


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class PgBackend:
    """The writer's database on PostgreSQL (see ``writer.Backend``): shared with other servers,
    reconnected after the database went away."""

    exclusive = False

    def __init__(self, url: str) -> None:
        self.url = url

    def connect(self) -> PgConnection:
        return connect(self.url)

    def blocked(self) -> str | None:
        return None

    def failure(self, exc: BaseException) -> str | None:
        return unavailable(exc)

    def retry(self, exc: BaseException) -> bool:
        return should_retry(exc)

    def whole(self, exc: BaseException) -> bool:
        return isinstance(exc, HeldRowsError)

    def group(self, conn: PgConnection, on: bool) -> None:
        conn.hold_rows = on

    def broken(self, conn: PgConnection) -> bool:
        return conn.broken

    def close(self, conn: PgConnection) -> None:
        conn.close()


class PgReaders:
    """The store's reads on PostgreSQL: pooled connections, each read in autocommit."""

    def __init__(self, url: str) -> None:
        self._pool = reader_pool(url)

    def read(self, query: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            with self._pool.connection() as raw:
                return query(PgConnection(raw, reader=True), *args, **kwargs)
        except PoolTimeout as exc:
            raise StorageUnavailableError("database unreachable: no connection") from exc
        except psycopg.Error as exc:
            reason = unavailable(exc)
            if reason is None:
                raise
            raise StorageUnavailableError(reason) from exc

    def close(self) -> None:
        self._pool.close()
