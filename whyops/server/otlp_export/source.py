"""What the forwarder reads and writes in the store: the events past its cursor, the cursor,
and (PostgreSQL) how far the insertion order is final.

The store is the outbox: every event is read back from the ``events`` table in insertion order
(``seq``) past a cursor kept in ``export_cursors``, which moves only after the endpoint took what
lies before it. On SQLite one writer commits in ``seq`` order, so every committed row is final.
On PostgreSQL several servers insert at once: ``seq`` values are drawn when a row is inserted
and become visible when its transaction commits, so a row with a smaller ``seq`` can appear after
a larger one. :func:`pg_settled` finds the largest ``seq`` below which nothing can still appear.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from whyops.server.readapi.shapes import event_json
from whyops.server.store.dialect import Connection, dialect_of
from whyops.server.store.queries import EVENT_FIELDS, METADATA
from whyops.server.timeutil import format_us, now_us, parse_timestamp

# After the read API's columns (content and metadata last): what the forwarder adds.
_EXTRA = ("seq", "project_id", "thread_id", "created_at")
_SEQ, _PROJECT, _THREAD, _CREATED = range(METADATA + 1, METADATA + 1 + len(_EXTRA))
_COLUMNS = ", ".join(
    [*(expression for _, expression in EVENT_FIELDS), "ts_us", "content", "metadata", *_EXTRA]
)


@attrs.frozen
class StoredEvent:
    """One stored event, as the read API shows it (what ``whyops.wire.spans`` reads)."""

    seq: int
    project_id: str
    created_us: int
    event: dict[str, Any]

    @property
    def span_key(self) -> tuple[str, str, str]:
        return (self.project_id, self.event["traceId"], self.event["spanId"])


def _stored(row: tuple[Any, ...]) -> StoredEvent:
    event = event_json(row, content=True, metadata=True)
    event["threadId"] = row[_THREAD]  # the read API shows the trace id when none was given
    parsed = parse_timestamp(row[_CREATED])
    return StoredEvent(int(row[_SEQ]), row[_PROJECT], parsed[1] if parsed else 0, event)


def read_events(conn: Connection, after: int, upto: int | None, limit: int) -> list[StoredEvent]:
    """Up to ``limit`` events with ``after < seq <= upto`` (no bound: None), in ``seq`` order."""
    bound, params = (
        ("", [after, limit]) if upto is None else (" AND seq <= ?", [after, upto, limit])
    )
    query = f"SELECT {_COLUMNS} FROM events WHERE seq > ?{bound} ORDER BY seq LIMIT ?"
    cursor = conn.cursor()  # type: ignore[attr-defined]
    cursor.row_factory = None
    return [_stored(row) for row in cursor.execute(query, params).fetchall()]


def last_seq(conn: Connection) -> int:
    row = conn.execute("SELECT max(seq) FROM events").fetchone()
    return int(row[0] or 0)


def created_after(conn: Connection, after: int) -> int | None:
    """When the first event past ``after`` was stored (epoch µs), for the lag."""
    row = conn.execute(
        "SELECT created_at FROM events WHERE seq > ? ORDER BY seq LIMIT 1", (after,)
    ).fetchone()
    parsed = parse_timestamp(row[0]) if row else None
    return parsed[1] if parsed else None


def project_names(conn: Connection) -> dict[str, str]:
    return {row[0]: row[1] for row in conn.execute("SELECT id, name FROM projects")}


# Beside each cursor: how far the forwarder had read when it committed it. A span sent whole
# may have its first events at or before the position and its last ones past it, up to there.
_READ_SUFFIX = " read"


def read_cursor(conn: Connection, name: str) -> tuple[int, int]:
    """(the committed position, how far the forwarder had read then) of cursor ``name``."""
    query = "SELECT name, position FROM export_cursors WHERE name IN (?, ?)"
    found = {row[0]: int(row[1]) for row in conn.execute(query, (name, name + _READ_SUFFIX))}
    position = found.get(name, 0)
    return position, max(position, found.get(name + _READ_SUFFIX, position))


def save_cursor(conn: Connection, state: Any, name: str, position: int, read: int) -> None:
    """Writer job: the cursor moves forward only (a replica that lost the lead late cannot
    move it back)."""
    greatest = dialect_of(conn).greatest
    for row_name, value in ((name, position), (name + _READ_SUFFIX, read)):
        conn.execute(
            "INSERT INTO export_cursors (name, position, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at,"
            f" position = {greatest}(export_cursors.position, excluded.position)",
            (row_name, value, format_us(now_us())),
        )


def span_events(
    conn: Connection, keys: Sequence[tuple[str, str, str]], upto: int
) -> list[StoredEvent]:
    """The events with ``seq <= upto`` of each span (project, trace, span id), in ``seq`` order."""
    query = (
        f"SELECT {_COLUMNS} FROM events WHERE project_id = ? AND trace_id = ? AND span_id = ?"
        " AND seq <= ? ORDER BY seq"
    )
    cursor = conn.cursor()  # type: ignore[attr-defined]
    cursor.row_factory = None
    return [_stored(row) for key in keys for row in cursor.execute(query, (*key, upto)).fetchall()]


# PostgreSQL: the settled horizon.
#
# Every transaction that draws a ``seq`` holds ROW EXCLUSIVE on ``events`` from before it draws
# it (the lock is taken when the INSERT or COPY opens the table) until it commits or rolls back.
# So: read the largest visible ``seq`` M (statement snapshot first), then list the transactions
# holding that lock (``pg_locks``, read after the snapshot). Any row with ``seq`` < M not visible
# in the snapshot belongs to a transaction that either ended since (its rows are visible to any
# later read) or is in that list. Once every listed transaction has ended, nothing at or below M
# can appear any more: M is settled. Waiting never blocks a writer, and no row committed late is
# skipped, however long its transaction took (a settling delay would only make that unlikely).
_CANDIDATE = """
SELECT (SELECT coalesce(max(seq), 0) FROM events),
       (SELECT coalesce(string_agg(virtualtransaction, ' '), '') FROM pg_locks
        WHERE locktype = 'relation' AND relation = 'events'::regclass
        AND mode = 'RowExclusiveLock' AND pid <> pg_backend_pid())
"""
_STILL_OPEN = """
SELECT count(*) FROM pg_locks WHERE locktype = 'relation' AND relation = 'events'::regclass
    AND mode = 'RowExclusiveLock' AND virtualtransaction = ANY(string_to_array(?, ' '))
"""


@attrs.frozen
class Candidate:
    """A ``seq`` that is settled once the writing transactions seen with it have ended."""

    seq: int
    writers: str  # their virtual transaction ids, space-separated


def pg_candidate(conn: Connection) -> Candidate:
    seq, writers = conn.execute(_CANDIDATE).fetchone()
    return Candidate(int(seq), str(writers))


def pg_settled(conn: Connection, candidate: Candidate) -> bool:
    if not candidate.writers:
        return True
    (count,) = conn.execute(_STILL_OPEN, (candidate.writers,)).fetchone()
    return int(count) == 0
