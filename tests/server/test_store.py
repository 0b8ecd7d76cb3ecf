"""The store on its own: migrations, group commit, failure isolation, draining on close."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from whyops.server.store import Store, WriterClosedError
from whyops.server.store.rows import EventRow
from whyops.server.store.schema import SCHEMA_VERSION, SchemaTooNewError, migrate
from whyops.server.timeutil import now_us


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(str(tmp_path / "store.db"))
    yield opened
    opened.close()


def _row(trace: str, n: int) -> EventRow:
    return EventRow(item=n, event_type="tool_result", trace_id=trace, agent_name="a",
                    ts="2026-01-01T00:00:00Z", ts_us=now_us(), idempotency_key=f"k{n}")  # fmt: skip


def _count(store: Store) -> int:
    return store.read(lambda conn: conn.execute("SELECT count(*) FROM events").fetchone()[0])


def _blocker(store: Store) -> tuple[threading.Event, threading.Event]:
    """Occupy the writer until released, so jobs queue up behind it."""
    started, release = threading.Event(), threading.Event()

    def job(conn: sqlite3.Connection, state: object) -> None:
        started.set()
        release.wait(10)

    store.submit(job)
    started.wait(10)
    return started, release


def test_schema_is_migrated_once(tmp_path: Path) -> None:
    path = str(tmp_path / "m.db")
    Store(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert migrate(conn) == SCHEMA_VERSION  # nothing left to do
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNewError):
        migrate(conn)
    conn.close()


def test_queued_jobs_share_one_transaction(store: Store) -> None:
    _, release = _blocker(store)
    before = store.commits
    futures = [store.ingest("p", [_row("t", n)]) for n in range(50)]
    release.set()
    results = [f.result(10) for f in futures]
    assert [r[0].status for r in results] == ["saved"] * 50
    assert store.commits - before == 2  # the blocker alone, then all 50 jobs in one commit
    assert _count(store) == 50


def test_a_failing_job_does_not_undo_its_neighbours(store: Store) -> None:
    _, release = _blocker(store)

    def broken(conn: sqlite3.Connection, state: object) -> None:
        conn.execute("INSERT INTO projects (id, name, created_at) VALUES ('x', 'x', 'now')")
        raise RuntimeError("boom")

    first = store.ingest("p", [_row("t", 1)])
    failing = store.submit(broken)
    last = store.ingest("p", [_row("t", 2)])
    release.set()
    assert first.result(10)[0].status == "saved"
    assert last.result(10)[0].status == "saved"
    with pytest.raises(RuntimeError):
        failing.result(10)
    projects = store.read(lambda c: c.execute("SELECT count(*) FROM projects").fetchone()[0])
    assert projects == 0  # the broken job's own write was rolled back
    assert _count(store) == 2


def test_close_commits_everything_queued(tmp_path: Path) -> None:
    path = str(tmp_path / "drain.db")
    store = Store(path)
    _, release = _blocker(store)
    futures = [store.ingest("p", [_row("t", n)]) for n in range(100)]
    closer = threading.Thread(target=store.close)
    closer.start()
    release.set()
    closer.join(10)
    assert all(f.result(0).__len__() == 1 for f in futures)
    with pytest.raises(WriterClosedError):
        store.ingest("p", [_row("t", 1000)])
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 100
    conn.close()


def test_reads_run_while_the_writer_holds_a_transaction(store: Store) -> None:
    store.ingest("p", [_row("t", 1)]).result(10)
    _, release = _blocker(store)
    try:
        assert _count(store) == 1  # WAL: readers are not blocked by the open write
    finally:
        release.set()


def test_steps_continue_after_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "steps.db")
    first = Store(path)
    first.ingest("p", [_row("t", 1), _row("t", 2)]).result(10)
    first.close()
    second = Store(path)
    result = second.ingest("p", [_row("t", 3)]).result(10)
    second.close()
    assert (result[0].step_id, result[0].parent_step_id) == (3, 2)


def test_after_restart_one_query_finds_both_the_last_step_and_repeated_keys(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "keys.db")
    first = Store(path)
    stored = first.ingest("p", [_row("t", 1), _row("t", 2)]).result(10)
    first.close()
    second = Store(path)  # nothing cached: the last step comes from the table
    repeated, fresh = second.ingest("p", [_row("t", 2), _row("t", 3)]).result(10)
    second.close()
    assert (repeated.status, repeated.id, repeated.step_id) == ("skipped", stored[1].id, 2)
    assert (fresh.status, fresh.step_id, fresh.parent_step_id) == ("saved", 3, 2)


def test_event_ids_are_uuid7_in_time_order() -> None:
    import uuid

    from whyops.server.store.ids import uuid7_batch

    first = uuid7_batch(200)
    threading.Event().wait(0.002)
    later = uuid7_batch(1)[0]
    assert len(set(first)) == 200
    assert all(uuid.UUID(i).version == 7 and uuid.UUID(i).variant == uuid.RFC_4122 for i in first)
    assert all(str(uuid.UUID(i)) == i for i in first)
    assert max(first) < later  # later milliseconds sort after


def test_an_event_row_is_built_by_keyword_only() -> None:
    with pytest.raises(TypeError):
        EventRow(0, "tool_result", "t", "a", "2026-01-01T00:00:00Z", 0)  # type: ignore[call-arg]
