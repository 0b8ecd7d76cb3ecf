"""Several ``whyops serve`` processes on one PostgreSQL database, behind a round-robin client.

Each replica is a real subprocess (tests/server/served.py) with the model simulator; they
share nothing but the database, as replicas on different machines behind a load balancer do.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from tests import pg
from tests.server.served import KEY, Served

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="session", autouse=True)
def needs_postgres() -> None:
    reason = pg.missing_reason()
    if reason:
        pytest.skip(f"PostgreSQL: {reason}")


def start_replicas(url: str, count: int = 2) -> list[Served]:
    """``count`` replicas on ``url``, started at the same moment (they migrate together)."""
    started: list[Served | BaseException] = [RuntimeError("not started")] * count

    def start(index: int) -> None:
        try:
            started[index] = Served(url, "--simulate")  # type: ignore[arg-type]
        except BaseException as exc:  # reported below, once the others have started
            started[index] = exc

    threads = [threading.Thread(target=start, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [s for s in started if isinstance(s, BaseException)]
    if failed:
        for replica in started:
            if isinstance(replica, Served):
                replica.close()
        raise failed[0]
    return [s for s in started if isinstance(s, Served)]


@pytest.fixture(scope="module")
def database() -> str:
    return pg.cluster().database()


@pytest.fixture(scope="module")
def replicas(database: str) -> Iterator[list[Served]]:
    running = start_replicas(database)
    try:
        yield running
    finally:
        for replica in running:
            replica.close()


class RoundRobin:
    """Sends each request to the next replica, as a load balancer does."""

    def __init__(self, replicas: list[Served]) -> None:
        self.replicas = replicas
        self._turn = itertools.cycle(range(len(replicas)))
        self._lock = threading.Lock()

    def next(self) -> Served:
        with self._lock:
            return self.replicas[next(self._turn)]

    def get(self, path: str, **kwargs: Any) -> httpx2.Response:
        return self.next().http.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx2.Response:
        return self.next().http.post(path, **kwargs)


def new_trace() -> str:
    return f"replicas-{uuid.uuid4().hex[:12]}"


class Streamer:
    """A client ingesting batches without pause, each retried (same idempotency keys) on the
    next replica until one acknowledges it; remembers what was acknowledged."""

    def __init__(self, balancer: RoundRobin, trace: str, batch_size: int = 20) -> None:
        self.balancer = balancer
        self.trace = trace
        self.batch_size = batch_size
        self.acknowledged: list[str] = []
        self.refusals: list[httpx2.Response] = []
        self.failures = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Streamer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)
        assert not self._thread.is_alive(), "the client never got its last batch acknowledged"
        self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            raise AssertionError(f"the client stopped: {self.error!r}") from self.error

    def wait_for(self, acknowledged: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < acknowledged:
            self._raise()
            assert time.monotonic() < deadline, (len(self.acknowledged), self.failures)
            time.sleep(0.01)

    def _run(self) -> None:
        try:
            self._stream()
        except BaseException as exc:  # shown by the test's thread (wait_for, or the exit)
            self.error = exc

    def _stream(self) -> None:
        for index in itertools.count():
            if self._stop.is_set():
                return
            keys = [f"{index}:{i}" for i in range(self.batch_size)]
            batch = [_event(self.trace, key) for key in keys]
            self._deliver(batch)
            self.acknowledged += keys

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                answer = self.balancer.post("/api/events/ingest", json=batch, timeout=10)
            except httpx2.TransportError:
                self.failures += 1
                time.sleep(0.01)
                continue
            if answer.status_code == 202:
                return
            assert answer.status_code == 503, answer.text
            self.refusals.append(answer)
            time.sleep(min(float(answer.headers.get("retry-after", "1")), 0.2))
        raise AssertionError("no replica acknowledged a batch within a minute")


def _event(trace: str, key: str) -> dict[str, Any]:
    return {"eventType": "user_message", "traceId": trace, "agentName": "agent",
            "content": f"event {key}", "idempotencyKey": key}  # fmt: skip


def stored_keys(url: str, trace: str) -> list[str]:
    """The idempotency keys of every event stored for ``trace``, duplicates included."""
    import psycopg

    query = "SELECT idempotency_key FROM events WHERE trace_id = %s"
    with psycopg.connect(url, autocommit=True) as conn:
        return [row[0] for row in conn.execute(query, (trace,))]


__all__ = ["KEY", "RoundRobin", "Streamer", "new_trace", "start_replicas", "stored_keys"]
