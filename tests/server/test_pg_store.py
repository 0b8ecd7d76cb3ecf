"""The PostgreSQL store: several stores (servers) writing one database at once stay exact."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from functools import partial
from typing import Any

import pytest

from tests import pg

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(pg.missing_reason() is not None, reason=f"{pg.missing_reason()}"),
]

from whyops.server.store import (  # noqa: E402
    EventRow,
    StorageUnavailableError,
    Store,
    bootstrap_keys,
)
from whyops.server.store.schema import SCHEMA_VERSION, SchemaTooNewError  # noqa: E402


@pytest.fixture
def url() -> Iterator[str]:
    cluster = pg.cluster()
    dsn = cluster.database()
    yield dsn
    cluster.drop(dsn)


def _rows(
    trace_id: str, count: int, *, key: str | None = None, tokens: int = 0, agent: str = "agent"
) -> list[EventRow]:
    return [
        EventRow(
            item=i,
            event_type="llm_response",
            trace_id=trace_id,
            agent_name=agent,
            ts="2026-01-01T00:00:00.000000Z",
            ts_us=1_767_225_600_000_000 + i,
            prompt_tokens=tokens,
            idempotency_key=None if key is None else f"{key}-{i}",
        )
        for i in range(count)
    ]


def _scalar(store: Store, sql: str, *params: Any) -> Any:
    return store.read(lambda conn: conn.execute(sql, params).fetchone()[0])


def test_two_stores_writing_the_same_traces_keep_steps_and_totals_exact(url: str) -> None:
    stores = [Store(url), Store(url)]
    traces = ["t-a", "t-b", "t-c"]
    try:
        pending = []
        for round_ in range(40):
            for number, store in enumerate(stores):
                # Both orders of the same traces: the writers must not deadlock either.
                order = traces if number == 0 else traces[::-1]
                for trace in order:
                    rows = _rows(trace, 5, key=f"{number}-{round_}", tokens=3)
                    pending.append(store.ingest("p", rows))
        for future in pending:
            future.result(60)
        for trace in traces:
            steps = stores[0].read(
                lambda conn, t=trace: [
                    r[0]
                    for r in conn.execute(
                        "SELECT step_id FROM events WHERE trace_id = ? ORDER BY step_id", (t,)
                    ).fetchall()
                ]
            )
            assert steps == list(range(1, 401))  # 2 stores x 40 rounds x 5 events, no gap
            count, tokens, calls = stores[1].read(
                lambda conn, t=trace: tuple(
                    conn.execute(
                        "SELECT event_count, prompt_tokens, llm_calls FROM traces"
                        " WHERE trace_id = ?",
                        (t,),
                    ).fetchone()
                )
            )
            assert (count, tokens, calls) == (400, 1200, 400)
    finally:
        for store in stores:
            store.close()


def test_a_batch_and_its_retry_on_two_stores_are_stored_once(url: str) -> None:
    stores = [Store(url), Store(url)]
    try:
        for round_ in range(20):
            rows = _rows(f"retry-{round_}", 10, key=f"batch-{round_}", tokens=1)
            first, second = (store.ingest("p", rows) for store in stores)
            results = first.result(30) + second.result(30)
            saved = [r for r in results if r.status == "saved"]
            assert len(saved) == 10
            by_item = {r.item: r.id for r in saved}
            assert all(by_item[r.item] == r.id for r in results)  # the retry names the same rows
        assert _scalar(stores[0], "SELECT count(*) FROM events") == 200
        assert _scalar(stores[0], "SELECT sum(event_count) FROM traces") == 200
    finally:
        for store in stores:
            store.close()


def test_agent_versions_are_shared_between_stores(url: str) -> None:
    first, second = Store(url), Store(url)
    try:
        created = first.init_agent("p", "bot", {"systemPrompt": "a", "tools": []}).result(30)
        again = second.init_agent("p", "bot", {"systemPrompt": "a", "tools": []}).result(30)
        assert created.created and not again.created
        assert again.version_id == created.version_id
        newer = second.init_agent("p", "bot", {"systemPrompt": "b", "tools": []}).result(30)
        (result,) = first.ingest("p", _rows("bound", 1, agent="bot")).result(30)
        assert result.status == "saved"
        bound = _scalar(first, "SELECT agent_version_id FROM traces WHERE trace_id = 'bound'")
        assert bound == newer.version_id  # not the version the first store saw before
    finally:
        first.close()
        second.close()


def test_servers_starting_together_generate_one_key(url: str) -> None:
    outcomes: list[Any] = []
    threads = [
        threading.Thread(target=lambda: outcomes.append(bootstrap_keys(url, ()))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    generated = [key for _, key in outcomes if key is not None]
    assert len(generated) == 1
    assert len({tuple(sorted(keys)) for keys, _ in outcomes}) == 1


_MIGRATE = """
import sys
from whyops.server.store import Store
Store(sys.argv[1]).close()
"""


def test_processes_migrating_one_database_at_once_all_start(url: str) -> None:
    processes = [
        subprocess.Popen([sys.executable, "-c", _MIGRATE, url], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
    store = Store(url)
    try:
        assert _scalar(store, "SELECT version FROM whyops_schema") == SCHEMA_VERSION
        assert _scalar(store, "SELECT count(*) FROM whyops_schema") == 1
    finally:
        store.close()


def test_a_database_newer_than_the_server_is_refused(url: str) -> None:
    Store(url).close()
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE whyops_schema SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(SchemaTooNewError, match="newer than this server"):
        Store(url)


def test_the_proxy_answer_ids_one_store_remembers_the_other_finds(url: str) -> None:
    import asyncio

    from whyops.server.proxy.context import AnswerIndex

    first, second = Store(url), Store(url)
    try:
        AnswerIndex(store=first).remember("p", "call_1", "trace-x")
        first.submit(lambda conn, state: None).result(30)  # queued after the remembered id
        other = AnswerIndex(store=second)
        assert other.lookup("p", ["call_1"]) is None  # not in this server's memory
        assert asyncio.run(other.find("p", ["unknown", "call_1"])) == "trace-x"
        assert asyncio.run(other.find("q", ["call_1"])) is None  # per project
    finally:
        first.close()
        second.close()


def test_writes_answer_unavailable_while_the_database_is_away_then_resume() -> None:
    cluster = pg.Cluster()  # its own server: this test stops it
    try:
        cluster.start()
        url = cluster.database()
        store = Store(url)
        try:
            assert store.ingest("p", _rows("before", 3)).result(30)
            cluster.stop()
            with pytest.raises(StorageUnavailableError):
                store.ingest("p", _rows("while", 3)).result(30)
            assert store.failure is not None
            with pytest.raises(StorageUnavailableError):
                store.read(partial(_count_events))
            cluster.start()
            assert store.ingest("p", _rows("after", 3)).result(30)
            assert store.failure is None
            assert store.read(_count_events) == 6  # everything acknowledged, nothing else
        finally:
            store.close()
    finally:
        cluster.remove()


def _count_events(conn: Any) -> int:
    return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def test_a_write_to_a_trace_another_server_holds_waits_for_it_then_commits(url: str) -> None:
    import psycopg

    from whyops.server.store.pg import lock_key

    store = Store(url)
    try:
        store.ingest("p", _rows("held", 1)).result(30)
        with psycopg.connect(url, autocommit=True) as holder:
            holder.execute("BEGIN")
            holder.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(("trace", "p", "held")),))
            waiting = store.ingest("p", _rows("held", 2))
            with pytest.raises(futures.TimeoutError):
                waiting.result(0.5)
            holder.execute("COMMIT")
            assert [r.step_id for r in waiting.result(30)] == [2, 3]
    finally:
        store.close()


def test_a_database_restarted_while_the_writer_was_idle_costs_no_write() -> None:
    cluster = pg.Cluster()  # its own server: this test restarts it
    try:
        cluster.start()
        store = Store(cluster.database())
        try:
            assert store.ingest("p", _rows("idle", 2)).result(30)
            cluster.restart()  # the writer's connection is dead, and nothing has noticed yet
            assert [r.step_id for r in store.ingest("p", _rows("idle", 1)).result(30)] == [3]
            assert store.failure is None
        finally:
            store.close()
    finally:
        cluster.remove()


def test_stores_creating_the_same_new_agents_in_opposite_orders_never_deadlock(url: str) -> None:
    stores = [Store(url), Store(url)]
    try:
        pending = []
        for round_ in range(30):
            agents = [f"agent-{round_}-{n}" for n in range(4)]
            for number, store in enumerate(stores):
                order = agents if number == 0 else agents[::-1]
                # One batch naming every new agent, each on a trace of its own.
                rows = [
                    row
                    for index, agent in enumerate(order)
                    for row in _rows(f"t-{number}-{round_}-{index}", 1, agent=agent)
                ]
                for item, row in enumerate(rows):
                    row.item = item
                pending.append(store.ingest("p", rows))
        for future in pending:
            future.result(60)
        deadlocks = _scalar(
            stores[0],
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
        )
        assert deadlocks == 0
        assert _scalar(stores[0], "SELECT count(*) FROM agents") == 30 * 4
    finally:
        for store in stores:
            store.close()


# One transaction for several jobs: a job holding the writer makes the next ones queue up,
# then they run together (their event rows held for one COPY before COMMIT).
def _grouped(store: Store, jobs: list[Any]) -> list[futures.Future[Any]]:
    gate = threading.Event()
    started = threading.Event()

    def hold_writer(conn: Any, state: Any) -> None:
        started.set()
        gate.wait(30)

    blocker = store.submit(hold_writer)
    assert started.wait(30)
    pending = [job() for job in jobs]
    commits = store.commits
    gate.set()
    blocker.result(30)
    for future in pending:
        future.exception(30)
    assert store.commits - commits <= 2  # the jobs did share a transaction
    return pending


def _trace_state(store: Store, trace: str) -> tuple[list[int], int, int]:
    steps = store.read(
        lambda conn: [
            r[0]
            for r in conn.execute(
                "SELECT step_id FROM events WHERE trace_id = ? ORDER BY step_id", (trace,)
            )
        ]
    )
    count, tokens = store.read(
        lambda conn: tuple(
            conn.execute(
                "SELECT event_count, prompt_tokens FROM traces WHERE trace_id = ?", (trace,)
            ).fetchone()
            or (0, 0)
        )
    )
    return steps, count, tokens


def test_a_batch_and_its_retry_in_one_transaction_are_stored_once(url: str) -> None:
    store = Store(url)
    try:
        rows = _rows("same", 4, key="k", tokens=2)
        first, again, more = _grouped(
            store,
            [
                lambda: store.ingest("p", rows),
                lambda: store.ingest("p", rows),
                lambda: store.ingest("p", _rows("same", 3, tokens=2)),
            ],
        )
        saved = first.result()
        assert [r.status for r in saved] == ["saved"] * 4
        retry = again.result()
        assert [r.status for r in retry] == ["skipped"] * 4
        assert [r.id for r in retry] == [r.id for r in saved]
        assert [r.step_id for r in more.result()] == [5, 6, 7]
        assert _trace_state(store, "same") == ([1, 2, 3, 4, 5, 6, 7], 7, 14)
    finally:
        store.close()


def test_a_retry_of_a_committed_batch_in_a_later_group_is_stored_once(url: str) -> None:
    store = Store(url)
    try:
        rows = _rows("later", 3, key="k", tokens=1)
        saved = store.ingest("p", rows).result(30)
        # The retry's key is refused by the unique index at the group's COPY: the
        # transaction runs again, each job on its own; the other jobs are not doubled.
        other, retry, after = _grouped(
            store,
            [
                lambda: store.ingest("p", _rows("other", 2, tokens=1)),
                lambda: store.ingest("p", rows),
                lambda: store.ingest("p", _rows("later", 2, tokens=1)),
            ],
        )
        assert [r.status for r in other.result()] == ["saved"] * 2
        assert [r.id for r in retry.result()] == [r.id for r in saved]
        assert [r.status for r in retry.result()] == ["skipped"] * 3
        assert [r.step_id for r in after.result()] == [4, 5]
        assert _trace_state(store, "later") == ([1, 2, 3, 4, 5], 5, 5)
        assert _trace_state(store, "other") == ([1, 2], 2, 2)
        # The same key twice within one batch: one row, the second names it.
        twice = [*_rows("twice", 1, key="k"), *_rows("twice", 1, key="k")]
        (future,) = _grouped(store, [lambda: store.ingest("p", twice)])
        assert [r.status for r in future.result()] == ["saved", "skipped"]
        assert _trace_state(store, "twice")[0] == [1]
    finally:
        store.close()


def _fails_after(inner: Any) -> Any:
    def job(conn: Any, state: Any) -> None:
        inner(conn, state)
        raise ValueError("the job fails after its writes")

    return job


def test_a_job_failing_after_holding_rows_fails_alone(url: str) -> None:
    from whyops.server.store.ingest import insert_events

    store = Store(url)
    try:
        failing = partial(insert_events, project_id="p", rows=_rows("f", 3, tokens=5))
        first, bad, last = _grouped(
            store,
            [
                lambda: store.ingest("p", _rows("f", 2, tokens=1)),
                lambda: store.submit(_fails_after(failing)),
                lambda: store.ingest("p", _rows("f", 2, tokens=1)),
            ],
        )
        assert [r.step_id for r in first.result()] == [1, 2]
        assert isinstance(bad.exception(), ValueError)
        assert [r.step_id for r in last.result()] == [3, 4]  # the failed job's steps reused
        assert _trace_state(store, "f") == ([1, 2, 3, 4], 4, 4)
    finally:
        store.close()


def test_a_job_failing_after_the_held_rows_were_written_fails_alone(url: str) -> None:
    from whyops.server.store.ingest import insert_events

    store = Store(url)
    try:

        def writes_then_fails(conn: Any, state: Any) -> None:
            insert_events(conn, state, "p", _rows("w", 1, tokens=5))
            # A statement from outside the ingest: the rows held so far (the earlier jobs'
            # too) are written inside this job's savepoint.
            conn.execute("SELECT count(*) FROM events WHERE trace_id = ?", ("w",)).fetchone()

        first, bad, last = _grouped(
            store,
            [
                lambda: store.ingest("p", _rows("w", 2, tokens=1)),
                lambda: store.submit(_fails_after(writes_then_fails)),
                lambda: store.ingest("p", _rows("w", 2, tokens=1)),
            ],
        )
        assert [r.step_id for r in first.result()] == [1, 2]
        assert isinstance(bad.exception(), ValueError)
        assert [r.step_id for r in last.result()] == [3, 4]
        assert _trace_state(store, "w") == ([1, 2, 3, 4], 4, 4)
    finally:
        store.close()


def test_a_job_writing_the_held_rows_twice_then_failing_loses_no_earlier_job(url: str) -> None:
    from whyops.server.store.ingest import insert_events

    store = Store(url)
    try:

        def writes_twice(conn: Any, state: Any) -> None:
            for trace in ("x", "y"):
                insert_events(conn, state, "p", _rows(trace, 1, tokens=5))
                conn.execute("SELECT count(*) FROM events WHERE trace_id = ?", (trace,))

        first, bad, last = _grouped(
            store,
            [
                lambda: store.ingest("p", _rows("x", 2, tokens=1)),
                lambda: store.submit(_fails_after(writes_twice)),
                lambda: store.ingest("p", _rows("x", 1, tokens=1)),
            ],
        )
        assert [r.step_id for r in first.result()] == [1, 2]  # acknowledged: must be stored
        assert isinstance(bad.exception(), ValueError)
        assert [r.step_id for r in last.result()] == [3]
        assert _trace_state(store, "x") == ([1, 2, 3], 3, 3)
        assert _trace_state(store, "y") == ([], 0, 0)
    finally:
        store.close()


def test_a_connection_lost_in_a_grouped_transaction_loses_no_acknowledged_write(url: str) -> None:
    store = Store(url)
    try:
        killed: list[bool] = []

        def kill_once(conn: Any, state: Any) -> str:
            if not killed:
                killed.append(True)
                # The held rows are written first (a statement from outside the ingest), then
                # the connection goes away before COMMIT.
                conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
            return "ran"

        first, middle, last = _grouped(
            store,
            [
                lambda: store.ingest("p", _rows("lost", 2, key="a", tokens=1)),
                lambda: store.submit(kill_once),
                lambda: store.ingest("p", _rows("lost", 2, key="b", tokens=1)),
            ],
        )
        outcomes = [f.exception() for f in (first, middle, last)]
        if outcomes[0] is None:  # run again on a new connection: all stored, once
            assert middle.result() == "ran"
            assert [r.step_id for r in last.result()] == [3, 4]
        else:  # or all refused as unavailable (503), nothing stored
            assert all(isinstance(e, StorageUnavailableError) for e in outcomes), outcomes
        store.ingest("p", _rows("lost", 2, key="a", tokens=1)).result(30)  # a client's retry
        store.ingest("p", _rows("lost", 2, key="b", tokens=1)).result(30)
        assert _trace_state(store, "lost") == ([1, 2, 3, 4], 4, 4)
    finally:
        store.close()


def test_a_commit_lost_with_the_connection_is_not_run_again(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import contextlib

    import psycopg

    from whyops.server.store import pg as store_pg

    store = Store(url)
    try:
        execute = store_pg.PgConnection.execute
        lose = [True]

        def losing_commit(self: Any, sql: str, params: Any = (), /) -> Any:
            if sql != "COMMIT" or not lose or not self._held_upserts:
                return execute(self, sql, params)
            lose.clear()
            pipeline = self.raw.pipeline

            @contextlib.contextmanager
            def committed_then_lost() -> Iterator[Any]:
                with pipeline() as inner:
                    yield inner
                self.raw.close()  # committed, but its answer never came back
                raise psycopg.OperationalError("server closed the connection unexpectedly")

            monkeypatch.setattr(self.raw, "pipeline", committed_then_lost)
            return execute(self, sql, params)

        monkeypatch.setattr(store_pg.PgConnection, "execute", losing_commit)
        first, last = _grouped(
            store,
            [
                lambda: store.ingest("p", _rows("ack", 2, tokens=1)),
                lambda: store.ingest("p", _rows("ack", 2, tokens=1)),
            ],
        )
        # Whether it committed is unknown: the callers are told so (503), nothing runs twice.
        assert isinstance(first.exception(), StorageUnavailableError)
        assert isinstance(last.exception(), StorageUnavailableError)
        assert _trace_state(store, "ack") == ([1, 2, 3, 4], 4, 4)
        assert store.ingest("p", _rows("ack", 1)).result(30)[0].step_id == 5  # reconnected
    finally:
        store.close()
