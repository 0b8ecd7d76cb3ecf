"""Fixtures for the server tests: real servers on 127.0.0.1, on a real SQLite file or a real
PostgreSQL database (the ``db_store`` fixture of tests/conftest.py)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

pytest.importorskip("starlette", reason="the server extra is not installed")

import httpx2

from whyops.server.run import RunningServer, start_in_thread
from whyops.server.settings import ServerSettings

if TYPE_CHECKING:
    from tests.conftest import StoreUnderTest


class Api:
    """An authenticated client of one running server."""

    def __init__(self, running: RunningServer, key: str | None = None) -> None:
        self.running = running
        self.key = key if key is not None else running.api_key
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        self.http = httpx2.Client(base_url=running.base_url, headers=headers, timeout=30)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx2.Response:
        if body is not None:
            kwargs["json"] = body
        return self.http.post(path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx2.Response:
        return self.http.get(path, **kwargs)

    def ingest(self, events: Any, **kwargs: Any) -> httpx2.Response:
        return self.post("/api/events/ingest", events, **kwargs)

    def thread(self, trace_id: str, **params: Any) -> dict[str, Any]:
        response = self.get(f"/api/threads/{trace_id}", params=params)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def close(self) -> None:
        self.http.close()


class _PostgresReader:
    """A psycopg connection answering the SQLite-style queries of the tests (``?`` marks)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)

    def execute(self, query: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(query.replace("?", "%s"), params)  # type: ignore[arg-type]

    def close(self) -> None:
        self.conn.close()


def read_only(db: str) -> Any:
    """A connection reading the server's database straight (independent of the read API):
    the SQLite file opened read-only, or the PostgreSQL database."""
    if db.startswith(("postgresql://", "postgres://")):
        return _PostgresReader(db)
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True)


def event_count(db_path: str, trace_id: str | None = None) -> int:
    """Events stored, read straight from the database (independent of the read API)."""
    query = "SELECT count(*) FROM events"
    params: tuple[str, ...] = ()
    if trace_id is not None:
        query, params = query + " WHERE trace_id = ?", (trace_id,)
    conn = read_only(db_path)
    try:
        return int(conn.execute(query, params).fetchone()[0])
    finally:
        conn.close()


def new_trace() -> str:
    return f"trace-{uuid.uuid4().hex[:12]}"


def event(event_type: str, trace_id: str, **fields: Any) -> dict[str, Any]:
    """A valid event of ``event_type`` (required metadata filled in), plus ``fields``."""
    base: dict[str, Any] = {"eventType": event_type, "traceId": trace_id, "agentName": "agent"}
    metadata: dict[str, Any] = {}
    if event_type in ("llm_response", "embedding_response"):
        metadata = {"model": "gpt-test", "provider": "openai"}
    if event_type in ("tool_call_request", "tool_call_response"):
        metadata = {"tool": "lookup"}
    if metadata:
        base["metadata"] = metadata
    base.update(fields)
    return base


@pytest.fixture
def api(server: RunningServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.close()


@pytest.fixture
def fresh_api(fresh_server: RunningServer) -> Iterator[Api]:
    client = Api(fresh_server)
    yield client
    client.close()


@pytest.fixture(scope="module")
def keyed_server(
    db_store: StoreUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """Configured keys: two in project ``team`` and one on its own."""
    settings = ServerSettings(
        port=0,
        db_path=db_store.new_db(tmp_path_factory.mktemp("keyed")),
        api_keys=("whyops_alpha=team", "YOPS-beta=team", "whyops_gamma"),
    )
    running = start_in_thread(settings)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def small_server(
    db_store: StoreUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """Tight limits, to hit 413 cheaply."""
    db = db_store.new_db(tmp_path_factory.mktemp("small"))
    settings = ServerSettings(
        port=0, db_path=db, max_body_bytes=4096, max_batch_events=5, max_trace_events=4
    )
    running = start_in_thread(settings)
    yield running
    running.stop()


def db_path(running: RunningServer) -> str:
    return str(Path(running.db_path))
