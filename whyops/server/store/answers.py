"""The proxy's remembered answer ids (tool calls, Responses answers) -> trace, in the database.

Only with PostgreSQL, where a conversation's next turn may reach another server than the one
that proxied the answer it refers to; one server on SQLite keeps them in memory.
"""

from __future__ import annotations

from collections.abc import Sequence

from whyops.server.store.dialect import Connection
from whyops.server.store.writer import WriterState
from whyops.server.timeutil import now_us

# How long an answer id can lead a later turn back to its trace. The database keeps every
# proxied answer's ids (one row per tool call or Responses answer) only this long; providers
# keep a stored Responses answer 30 days.
RETENTION_US = 30 * 86_400 * 1_000_000
# How often (at most) the writer deletes expired ids, and how many at a time: the deletion
# rides on a remembering job, so it must stay short however many expired.
PRUNE_EVERY_US = 10 * 60 * 1_000_000
PRUNE_BATCH = 5_000

_REMEMBER = (
    "INSERT INTO proxy_answers (project_id, answer_id, trace_id, created_us) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (project_id, answer_id) DO UPDATE SET trace_id = excluded.trace_id,"
    " created_us = excluded.created_us"
)


def remember_answers(
    conn: Connection, state: WriterState, project_id: str, answers: Sequence[tuple[str, str]]
) -> None:
    """Writer job: keep each ``(answer id, trace id)``; a repeated id moves to its new trace."""
    stamp = now_us()
    conn.executemany(_REMEMBER, [(project_id, answer, trace, stamp) for answer, trace in answers])
    if stamp - state.answers_pruned_us >= PRUNE_EVERY_US:
        prune_answers(conn, stamp - RETENTION_US)
        state.answers_pruned_us = stamp


# SKIP LOCKED: two servers pruning at once split the rows instead of waiting on each other.
_PRUNE = (
    "DELETE FROM proxy_answers WHERE (project_id, answer_id) IN ("
    " SELECT project_id, answer_id FROM proxy_answers WHERE created_us < ?"
    " ORDER BY created_us LIMIT ? FOR UPDATE SKIP LOCKED)"
)


def prune_answers(conn: Connection, before_us: int, batch: int = PRUNE_BATCH) -> int:
    """Forget up to ``batch`` of the oldest ids remembered before ``before_us``: an id is
    written once per proxied answer, so the table grows without end unless expired ids go.
    A backlog larger than ``batch`` shrinks by ``batch`` per run."""
    cursor = conn.execute(_PRUNE, (before_us, batch))
    return int(cursor.rowcount)


def find_answer(conn: Connection, project_id: str, refs: Sequence[str]) -> str | None:
    """The trace of the first of ``refs`` that is known."""
    if not refs:
        return None
    marks = ",".join("?" * len(refs))
    rows = conn.execute(
        "SELECT answer_id, trace_id FROM proxy_answers"
        f" WHERE project_id = ? AND answer_id IN ({marks})",
        (project_id, *refs),
    ).fetchall()
    traces = {row[0]: row[1] for row in rows}
    return next((traces[ref] for ref in refs if ref in traces), None)
