"""The forwarder on PostgreSQL: the settled horizon never lets the cursor pass a row whose
transaction commits late, and of several servers on one database exactly one forwards."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests import pg

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(pg.missing_reason() is not None, reason=f"{pg.missing_reason()}"),
]

import psycopg  # noqa: E402

from tests.server.conftest import Api, event  # noqa: E402
from tests.server.otlp_forward_receiver import Receiver  # noqa: E402
from whyops.server.otlp_export import source  # noqa: E402
from whyops.server.run import RunningServer, start_in_thread  # noqa: E402
from whyops.server.settings import ServerSettings  # noqa: E402
from whyops.server.store import Store  # noqa: E402
from whyops.server.store import pg as store_pg  # noqa: E402

INSERT = (
    "INSERT INTO events (id, project_id, trace_id, span_id, event_type, ts, ts_us, agent_name,"
    " metadata, created_at) VALUES (%s, %s, %s, %s, %s, '2026-01-01T00:00:00.000000Z', 1,"
    " 'agent', %s, '2026-01-01T00:00:00.000000Z') RETURNING seq"
)
LATE_SPAN = "1a7e1a7e1a7e1a7e"
ANSWER_META = '{"model":"gpt-test","provider":"openai"}'


@pytest.fixture
def url() -> Iterator[str]:
    cluster = pg.cluster()
    dsn = cluster.database()
    Store(dsn).close()  # the schema
    yield dsn
    cluster.drop(dsn)


def _insert(conn: psycopg.Connection[Any], project: str, trace: str, span: str) -> int:
    row = conn.execute(
        INSERT, (uuid.uuid4().hex, project, trace, span, "llm_response", ANSWER_META)
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("ending", ["commit", "rollback"])
def test_a_seq_is_settled_only_once_every_earlier_writer_has_ended(url: str, ending: str) -> None:
    late = psycopg.connect(url)  # a transaction: draws its seq first, commits last
    early = psycopg.connect(url, autocommit=True)
    reader = store_pg.connect(url)
    try:
        first = _insert(late, "p", "t", "aaaa")
        second = _insert(early, "p", "t", "bbbb")
        assert first < second
        candidate = source.pg_candidate(reader)
        assert candidate.seq == second and candidate.writers
        assert not source.pg_settled(reader, candidate)
        getattr(late, ending)()
        assert source.pg_settled(reader, candidate)
        found = [e.seq for e in source.read_events(reader, 0, candidate.seq, 10)]
        assert found == ([first, second] if ending == "commit" else [second])
    finally:
        late.close()
        early.close()
        reader.close()


def _serve(url: str, receiver: Receiver) -> RunningServer:
    settings = ServerSettings(
        port=0, db_path=url, api_keys=("whyops_fwd",), otlp_export_url=receiver.url
    )
    return start_in_thread(settings)


def _project_id(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT id FROM projects").fetchone()
        assert row is not None
        return str(row[0])


def test_a_row_committed_late_is_forwarded_and_nothing_after_it_goes_first(url: str) -> None:
    receiver = Receiver()
    running = _serve(url, receiver)
    api = Api(running)
    late = psycopg.connect(url)
    try:
        _insert(late, _project_id(url), "a" * 32, LATE_SPAN)
        spans = [f"{i:016x}" for i in range(1, 4)]
        batch = [event("llm_response", "b" * 32, spanId=span) for span in spans]
        assert api.ingest(batch).is_success
        time.sleep(2)  # several forwarder passes: the committed rows wait behind the held one
        assert receiver.accepted() == []
        late.commit()
        receiver.wait_for(lambda: len(receiver.accepted()) == 4)
        assert sorted(receiver.accepted_ids()) == sorted([LATE_SPAN, *spans])
    finally:
        late.close()
        api.close()
        running.stop()
        receiver.stop()


def _forwarding(running: RunningServer) -> dict[str, Any]:
    api = Api(running)
    try:
        export: dict[str, Any] = api.get("/api/health").json()["otlpExport"]
        return export
    finally:
        api.close()


def test_of_two_servers_one_forwards_and_the_other_takes_over_when_it_stops(url: str) -> None:
    receiver = Receiver()
    first, second = _serve(url, receiver), _serve(url, receiver)
    servers = [first, second]
    try:
        for index, running in enumerate(servers):
            api = Api(running)
            batch = [
                event("llm_response", "c" * 32, spanId=f"{index + 1:08x}{i:08x}") for i in range(5)
            ]
            assert api.ingest(batch).is_success
            api.close()
        receiver.wait_for(lambda: len(receiver.accepted()) == 10)
        time.sleep(1)
        assert len(receiver.accepted_ids()) == len(set(receiver.accepted_ids())) == 10
        states = sorted(_forwarding(running)["state"] for running in servers)
        assert states == ["ok", "standby"]
        leader = next(r for r in servers if _forwarding(r)["state"] == "ok")
        follower = second if leader is first else first
        leader.stop()
        api = Api(follower)
        after = event("llm_response", "c" * 32, spanId="af7e" * 4)
        assert api.ingest([after]).is_success
        api.close()
        receiver.wait_for(lambda: "af7e" * 4 in receiver.accepted_ids(), timeout=30)
        assert len(receiver.accepted_ids()) == len(set(receiver.accepted_ids())) == 11
    finally:
        for running in servers:
            running.stop()
        receiver.stop()
