"""When the store cannot commit, writes answer 503 with Retry-After, health says ``degraded``
and why, and everything recovers on its own once the storage does. Real server processes:
a file-size limit stands in for a full disk; an immutable ``-shm`` file for a broken one."""

from __future__ import annotations

import resource
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest

from tests.server.conftest import event
from tests.server.served import KEY, Served
from whyops.server.store.writer import StorageUnavailableError, Writer

CONTENT = "x" * 4096


def _file_size_limit(limit: int) -> Callable[[], None]:
    def limit_files() -> None:  # in the child, before exec: it keeps both
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the first write past it kills
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]  # kept: the test lifts the soft one
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))

    return limit_files


def _stored(db: Path, trace: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM events WHERE trace_id = ?", (trace,))
                   .fetchone()[0])  # fmt: skip
    finally:
        conn.close()


def _post(served: Served, trace: str, index: int) -> httpx2.Response:
    batch = [event("tool_result", trace, idempotencyKey=f"{index}:{i}", content=CONTENT)
             for i in range(20)]  # fmt: skip
    return served.http.post("/api/events/ingest", json=batch)


def _health(served: Served, key: str | None = KEY) -> dict[str, object]:
    headers = {"X-API-Key": key} if key else {"X-API-Key": ""}
    response = served.http.get("/api/health", headers=headers)
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def _assert_unavailable(response: httpx2.Response, said: str) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["content-type"] == "application/json"
    assert said in response.json()["error"]
    assert "nothing was stored" in response.json()["error"]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "limited.db"


@pytest.fixture
def full(db: Path) -> Iterator[Served]:
    running = Served(db, preexec_fn=_file_size_limit(2 * 1024 * 1024))
    yield running
    running.close()


def test_a_full_disk_is_503_and_degraded_health_then_recovers(full: Served, db: Path) -> None:
    """Before: a bare 500 on every write, and health kept saying ``ok``."""
    trace = "full-disk"
    acknowledged = 0
    for index in range(200):
        response = _post(full, trace, index)
        if response.status_code != 202:
            break
        acknowledged += 20
    _assert_unavailable(response, "the store cannot commit")
    assert _stored(db, trace) == acknowledged > 0  # every 202 stored, nothing else
    report = _health(full)
    assert report["status"] == "degraded"
    assert report["reason"] in ("database or disk is full", "disk I/O error")
    assert _health(full, key=None) == {"status": "degraded", "service": "whyops"}
    assert full.http.get(f"/api/threads/{trace}").status_code == 200  # reads still work
    init = full.http.post("/api/entities/init",
                          json={"agentName": "a" * 200, "metadata": {"systemPrompt": CONTENT * 200,
                                                                     "tools": []}})  # fmt: skip
    assert init.status_code in (201, 503)  # a small write may still fit; never a 500
    full.wait_for_log("the store cannot commit")
    assert full.log.count("the store cannot commit") == 1  # logged once, not per request
    assert "Traceback" not in full.log

    hard = resource.prlimit(full.process.pid, resource.RLIMIT_FSIZE)[1]
    resource.prlimit(full.process.pid, resource.RLIMIT_FSIZE, (hard, hard))  # space returns
    assert _post(full, trace, 1000).status_code == 202
    assert _health(full)["status"] == "ok"
    assert _stored(db, trace) == acknowledged + 20
    full.wait_for_log("the store commits again")


def _chattr(flag: str, path: Path) -> bool:
    done = subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False)
    return done.returncode == 0


@pytest.fixture
def immutable_shm(db: Path) -> Iterator[Path]:
    shm = Path(f"{db}-shm")
    yield shm
    _chattr("-i", shm)


def test_an_immutable_shm_file_is_503_not_sigbus(db: Path, immutable_shm: Path) -> None:
    """Before: the next write (or read) killed the server with SIGBUS."""
    served = Served(db)
    try:
        assert _post(served, "shm", 0).status_code == 202
        if not _chattr("+i", immutable_shm):
            pytest.skip("chattr +i is not available here")
        _assert_unavailable(_post(served, "shm", 1), "-shm is not writable")
        _assert_unavailable(served.http.get("/api/threads/shm"), "-shm is not writable")
        assert _health(served)["status"] == "degraded"
        assert served.process.poll() is None  # alive
        _chattr("-i", immutable_shm)
        assert _post(served, "shm", 2).status_code == 202
        assert _health(served)["status"] == "ok"
        assert _stored(db, "shm") == 40
    finally:
        served.close()  # kill -9: the -shm file stays, for the start-up check below
    assert _chattr("+i", immutable_shm)
    command = [sys.executable, "-m", "whyops.server.run", "--port", "0", "--db", str(db),
               "--api-key", KEY]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert f"{immutable_shm} is not writable (read-only or immutable)" in done.stderr


def test_a_write_refused_for_space_keeps_health_degraded(tmp_path: Path) -> None:
    """A job that finds the disk full mid-transaction is a StorageUnavailableError for its
    caller and leaves the store degraded (SQLite has undone the transaction, so no later
    COMMIT in the batch may count as recovery); a write that fits ends it."""
    writer = Writer(str(tmp_path / "small.db"))
    try:

        def run(sql: str) -> object:
            return writer.submit(lambda conn, state: conn.execute(sql).fetchone()).result(10)

        run("CREATE TABLE t (x BLOB)")
        pages = run("PRAGMA page_count")
        run(f"PRAGMA max_page_count = {pages[0] + 2}")  # type: ignore[index]

        def too_big(conn: sqlite3.Connection, state: object) -> None:
            for _ in range(100):  # row by row: the one that does not fit is undone alone
                conn.execute("INSERT INTO t VALUES (zeroblob(1000))")

        with pytest.raises(StorageUnavailableError, match="full"):
            writer.submit(too_big).result(10)
        assert writer.failure is not None and "full" in writer.failure

        def small(conn: sqlite3.Connection, state: object) -> None:
            conn.execute("INSERT INTO t VALUES (x'00')")

        writer.submit(small).result(10)  # space for a small row: a write commits again
        assert writer.failure is None
    finally:
        writer.close(10)
