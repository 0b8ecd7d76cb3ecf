"""``whyops serve --db postgresql://...``: start-up, refusals, and what it prints."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests import pg

_NEEDS_PG = pytest.mark.skipif(pg.missing_reason() is not None, reason=f"{pg.missing_reason()}")


def _serve(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "whyops.server.run", "--port", "0", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def test_the_server_modules_do_not_import_the_postgresql_driver() -> None:
    code = (
        "import sys, whyops.server.app, whyops.server.run, whyops.server.store;"
        " sys.exit(int(any(m.startswith('psycopg') for m in sys.modules)))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_an_unreachable_database_is_named_without_its_password() -> None:
    port = pg.free_port()  # nothing listens there
    done = _serve("--db", f"postgresql://someone:s3cret-pw@127.0.0.1:{port}/nowhere")
    assert done.returncode == 2
    assert f"cannot connect to postgresql://someone:***@127.0.0.1:{port}/nowhere" in done.stderr
    assert "s3cret-pw" not in done.stderr + done.stdout


@pytest.fixture
def url() -> Iterator[str]:
    cluster = pg.cluster()
    dsn = cluster.database()
    yield dsn
    cluster.drop(dsn)


@pytest.mark.postgres
@_NEEDS_PG
def test_a_newer_database_is_refused_at_start_with_the_sqlite_message(url: str) -> None:
    import psycopg

    from whyops.server.store import Store
    from whyops.server.store.schema import SCHEMA_VERSION

    Store(url).close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE whyops_schema SET version = %s", (SCHEMA_VERSION + 3,))
    done = _serve("--db", url, "--api-key", "k")
    assert done.returncode == 2
    expected = f"database schema version {SCHEMA_VERSION + 3} is newer than this server"
    assert expected in done.stderr


@pytest.mark.postgres
@_NEEDS_PG
def test_two_servers_share_one_database_without_a_lock_file(url: str) -> None:
    import httpx2

    from whyops.server.run import start_in_thread
    from whyops.server.settings import ServerSettings

    settings = ServerSettings(port=0, db_path=url, api_keys=("k",))
    with start_in_thread(settings) as first, start_in_thread(settings) as second:
        headers = {"Authorization": "Bearer k"}
        for turn, running in enumerate((first, second, first, second)):
            event = {"eventType": "user_message", "traceId": "shared", "agentName": "a"}
            event["content"] = f"turn {turn}"
            answer = httpx2.post(f"{running.base_url}/api/events", json=event, headers=headers)
            assert answer.status_code == 201, answer.text
            assert answer.json()["stepId"] == turn + 1
        thread = httpx2.get(f"{second.base_url}/api/threads/shared", headers=headers).json()
        assert thread["eventCount"] == 4
        assert [e["stepId"] for e in thread["events"]] == [1, 2, 3, 4]


@pytest.mark.postgres
@_NEEDS_PG
def test_while_the_database_is_away_writes_answer_503_and_the_server_recovers() -> None:
    import httpx2

    from whyops.server.run import start_in_thread
    from whyops.server.settings import ServerSettings

    cluster = pg.Cluster()  # its own PostgreSQL: this test stops it
    try:
        cluster.start()
        settings = ServerSettings(port=0, db_path=cluster.database(), api_keys=("k",))
        with start_in_thread(settings) as running:
            headers = {"Authorization": "Bearer k"}
            api = httpx2.Client(base_url=running.base_url, headers=headers, timeout=60)
            event = {"eventType": "user_message", "traceId": "outage", "agentName": "a"}
            assert api.post("/api/events/ingest", json=[event]).status_code == 202
            cluster.stop()
            refused = api.post("/api/events/ingest", json=[event])
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"].isdigit()
            assert api.get("/api/threads/outage").status_code == 503
            assert api.get("/api/health").json()["status"] == "degraded"
            cluster.start()
            assert api.post("/api/events/ingest", json=[event]).status_code == 202
            assert api.get("/api/health").json()["status"] == "ok"
            assert _read_when_back(api, "/api/threads/outage")["eventCount"] == 2
            api.close()
    finally:
        cluster.remove()


def _read_when_back(api: Any, path: str, within_s: float = 30) -> Any:
    """The first 200 answer to ``path``; reads reconnect on their own after an outage."""
    deadline = time.monotonic() + within_s
    while True:
        answer = api.get(path)
        if answer.status_code == 200 or time.monotonic() > deadline:
            assert answer.status_code == 200, answer.text
            return answer.json()
        assert answer.status_code == 503, answer.text
        time.sleep(0.2)
