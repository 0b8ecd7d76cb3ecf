"""Acknowledged events survive ``kill -9``; SIGTERM drains everything accepted, then exits 0.

These start ``whyops serve`` as a real subprocess on a real SQLite file.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest

from tests.server.conftest import event_count
from tests.server.served import Served

pytestmark = pytest.mark.slow


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "durable.db"


@pytest.fixture
def served(db: Path) -> Iterator[Served]:
    running = Served(db)
    yield running
    running.close()


def _flood(served: Served, trace: str, batches: int, acked: list[int]) -> None:
    """Post batches from 8 threads; record the ones answered 202."""

    def post(index: int) -> None:
        try:
            if served.post_batch(trace, index) == 202:
                acked.append(index)
        except httpx2.TransportError:
            pass  # the server was killed mid-request: not acknowledged

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(post, range(batches)))


def test_acknowledged_events_survive_kill_9(served: Served, db: Path) -> None:
    trace = "durable-trace"
    acked: list[int] = []
    killer = threading.Timer(0.6, lambda: os.kill(served.process.pid, signal.SIGKILL))
    killer.start()
    _flood(served, trace, 2000, acked)
    killer.join()
    served.close()
    assert served.process.returncode == -signal.SIGKILL
    assert acked, "nothing was acknowledged before the kill"

    again = Served(db)  # restart on the same file: WAL recovery
    try:
        body = again.http.get(f"/api/threads/{trace}", params={"eventLimit": 1}).json()
        assert event_count(str(db), trace) == body["eventCount"] >= 20 * len(acked)
        # every acknowledged batch is there in full
        keys = _idempotency_keys(db, trace)
        missing = [i for i in acked if any(f"{i}:{n}" not in keys for n in range(20))]
        assert missing == []
    finally:
        again.close()


def _idempotency_keys(db: Path, trace: str) -> set[str]:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        query = "SELECT idempotency_key FROM events WHERE trace_id = ?"
        return {row[0] for row in conn.execute(query, (trace,))}
    finally:
        conn.close()


def test_sigterm_drains_and_exits_cleanly(served: Served, db: Path) -> None:
    trace = "graceful-trace"
    acked: list[int] = []
    stopper = threading.Timer(0.5, lambda: served.process.send_signal(signal.SIGTERM))
    stopper.start()
    _flood(served, trace, 400, acked)
    stopper.join()
    assert served.process.wait(30) == 0, "".join(served.output)
    assert acked
    keys = _idempotency_keys(db, trace)
    assert all(f"{i}:{n}" in keys for i in acked for n in range(20))
    assert event_count(str(db), trace) == len(keys)


def test_first_start_prints_a_generated_key_once(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    outputs = []
    for _ in range(2):
        process = subprocess.Popen(
            [sys.executable, "-m", "whyops.server.run", "--port", "0", "--db", str(db)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert process.stdout is not None
        first = process.stdout.readline()
        base_url = re.search(r"(http://127\.0\.0\.1:\d+)", first)
        assert base_url, first
        _wait_for(base_url.group(1))
        process.send_signal(signal.SIGINT)
        process.wait(30)
        rest = process.stdout.read()  # not communicate(): it would skip readline's buffer
        outputs.append(first + rest)
        assert process.returncode == 0, outputs[-1]
    keys = re.findall(r"whyops_[A-Za-z0-9_-]{20,}", outputs[0])
    assert keys, outputs[0]
    assert re.search(rf"^web page: http://127\.0\.0\.1:\d+/#key={keys[0]}$", outputs[0], re.M)
    assert f"WHYOPS_API_KEY={keys[0]}" in outputs[0]
    assert keys[0] not in outputs[1]
    assert "API key" not in outputs[1]
    assert re.search(r"^web page: http://127\.0\.0\.1:\d+/#key=KEY \(KEY: ", outputs[1], re.M)


def _wait_for(base_url: str) -> None:
    for _ in range(500):
        try:
            if httpx2.get(base_url + "/api/health").status_code == 200:
                return
        except httpx2.TransportError:
            threading.Event().wait(0.02)
    raise AssertionError(f"{base_url} never became healthy")
