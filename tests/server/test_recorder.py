"""``app.state.recorder``: how the proxy stores events, without blocking and without raising."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest

from tests.server.conftest import event
from whyops.server.recorder import Recorder
from whyops.server.run import RunningServer
from whyops.server.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(str(tmp_path / "recorder.db"))
    yield opened
    opened.close()


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def _stored(store: Store) -> int:
    return store.read(lambda conn: conn.execute("SELECT count(*) FROM events").fetchone()[0])


def test_record_returns_before_the_commit(store: Store) -> None:
    recorder = Recorder(store)
    started, release = threading.Event(), threading.Event()

    def hold(conn: sqlite3.Connection, state: object) -> None:
        started.set()
        release.wait(10)

    store.submit(hold)
    started.wait(10)
    recorder.record("p", [event("user_message", "rec-1"), event("llm_response", "rec-1")])
    assert _stored(store) == 0  # the writer is still held: record() did not wait for it
    release.set()
    _wait_for(lambda: recorder.recorded == 2)
    assert _stored(store) == 2
    assert recorder.failed == 0


def test_invalid_events_are_counted_and_logged_not_raised(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(store)
    recorder.record("p", [event("user_message", "rec-2"), {"eventType": "llm_response"}])
    _wait_for(lambda: recorder.failed == 2)
    assert "1.traceId" in caplog.text
    assert _stored(store) == 0
    assert recorder.recorded == 0


def test_validation_runs_on_the_writer_thread_not_the_caller(store: Store) -> None:
    recorder = Recorder(store)
    started, release = threading.Event(), threading.Event()

    def hold(conn: sqlite3.Connection, state: object) -> None:
        started.set()
        release.wait(10)

    store.submit(hold)
    started.wait(10)
    recorder.record("p", [{"eventType": "llm_response"}])  # invalid: no traceId, no metadata
    recorder.record("p", [event("user_message", "rec-4")])
    assert (recorder.failed, recorder.recorded) == (0, 0)  # nothing judged on the caller
    release.set()
    _wait_for(lambda: (recorder.failed, recorder.recorded) == (1, 1))
    assert _stored(store) == 1


def test_a_failing_write_is_counted_per_event(store: Store) -> None:
    recorder = Recorder(store)
    store.submit(lambda conn, state: conn.execute("DROP TABLE events"))
    recorder.record("p", [event("user_message", "rec-5"), event("llm_response", "rec-5")])
    _wait_for(lambda: recorder.failed == 2)
    assert recorder.recorded == 0


def test_recording_after_close_is_counted(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "closed.db"))
    recorder = Recorder(store)
    store.close()
    recorder.record("p", [event("user_message", "rec-3")])
    assert recorder.failed == 1


def _health(running: RunningServer) -> dict[str, object]:
    """The full health report: its counters are for key holders."""
    headers = {"Authorization": f"Bearer {running.api_key}"}
    response = httpx2.get(f"{running.base_url}/api/health", headers=headers)
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def test_health_reports_what_the_recorder_stored_and_dropped(fresh_server: RunningServer) -> None:
    before = _health(fresh_server)
    assert before["recorder"] == {"recorded": 0, "failed": 0}
    assert before["writerQueue"] == 0
    headers = {
        "Authorization": f"Bearer {fresh_server.api_key}",
        "X-Agent-Name": "health-agent",
        "X-Trace-ID": "health-trace",
    }
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    url = f"{fresh_server.base_url}/v1/chat/completions"
    assert httpx2.post(url, json=body, headers=headers, timeout=30).status_code == 200
    recorder: Recorder = fresh_server._server.config.app.state.recorder
    recorder.record("p", [{"eventType": "llm_response"}])  # invalid: dropped and counted
    _wait_for(lambda: recorder.failed == 1 and recorder.recorded >= 2)
    counts = _health(fresh_server)["recorder"]
    assert isinstance(counts, dict)
    assert counts["failed"] == 1
    assert counts["recorded"] == recorder.recorded >= 2  # the proxied call's events
