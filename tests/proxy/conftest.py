"""A real ``whyops serve`` on 127.0.0.1 whose proxy talks to a spied simulator.

``upstream``: the model simulator served by uvicorn on its own port, wrapped so
tests see every request the proxy sends upstream (headers and body) and can
script answers the simulator has no trigger for (odd error bodies, slow streams).

``proxy``: ``whyops.server.run.start_in_thread`` on a new store (a temporary SQLite file or
a PostgreSQL database: the ``db_store`` fixture) with its upstreams pointed at ``upstream``
(provider keys that must never be stored).
Tests read the events that landed through the read API (``proxy.events``).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2
import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from whyops.server.simulator import create_app as simulator_app

if TYPE_CHECKING:
    from tests.conftest import StoreUnderTest

PROXY_KEY = "whyops_proxy_test_key_0001"
OPENAI_SECRET = "sk-upstream-openai-SECRET-0000"
ANTHROPIC_SECRET = "sk-ant-upstream-SECRET-0000"
Body = bytes | AsyncIterator[bytes]
Scripted = Callable[[Scope], tuple[int, list[tuple[str, str]], Body] | None]


class Spy:
    """Records upstream requests; a scripted answer, when set, replaces the simulator's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests: list[dict[str, Any]] = []
        self.script: Scripted | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = scope.get("query_string", b"").decode()
        self.requests.append(
            {"path": scope["path"], "query": query, "headers": headers, "body": body}
        )
        answer = self.script(scope) if self.script else None
        if answer is None:
            return await self.app(scope, _replay(body, receive), send)
        status, extra, content = answer
        raw = [(k.encode(), v.encode()) for k, v in extra]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        if isinstance(content, bytes):
            await send({"type": "http.response.body", "body": content})
            return
        await _stream_until_disconnect(content, receive, send)

    def last(self, path_end: str) -> dict[str, Any]:
        return next(r for r in reversed(self.requests) if r["path"].endswith(path_end))


async def _stream_until_disconnect(content: AsyncIterator[bytes], receive: Receive, send: Send):
    """Stream a scripted body; stop (and close it) as soon as the proxy hangs up."""
    gone = asyncio.Event()

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()

    watcher = asyncio.ensure_future(watch())
    try:
        async for chunk in content:
            if gone.is_set():
                break
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        else:
            await send({"type": "http.response.body", "body": b""})
    finally:
        watcher.cancel()
        await content.aclose()  # type: ignore[attr-defined]


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class Served:
    """uvicorn in a background thread on a free loopback port."""

    def __init__(self, app: ASGIApp) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


_HELD_PORTS: list[socket.socket] = []


def closed_port_url() -> str:
    """A loopback URL that refuses connections for the rest of the session: the port stays
    bound (not listening), so no other server of the parallel suites can take it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    _HELD_PORTS.append(sock)
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


SERVER_FIELDS = frozenset(
    {
        "id",
        "stepId",
        "parentStepId",
        "createdAt",
        "model",
        "provider",
        "promptTokens",
        "completionTokens",
        "totalTokens",
        "cacheReadTokens",
        "cacheCreationTokens",
        "cacheWriteTokens",
        "latencyMs",
        "finishReason",
        "hasError",
    }
)


def as_recorded(event: dict[str, Any]) -> dict[str, Any]:
    """A read-API event in the shape the proxy recorded it (server columns and nulls dropped)."""
    shaped = {k: v for k, v in event.items() if v is not None and k not in SERVER_FIELDS}
    if shaped.get("threadId") == shaped["traceId"]:
        del shaped["threadId"]
    return shaped


class ProxyUnderTest:
    """A running whyops server whose proxy upstreams point at the spied simulator."""

    def __init__(self, running: Any) -> None:
        self.running = running
        self.base_url: str = running.base_url
        self.api_key = PROXY_KEY
        self.db_path: str = running.db_path

    def read(self, trace_id: str) -> list[dict[str, Any]]:
        answer = httpx2.get(
            self.base_url + "/api/events",
            params={"traceId": trace_id, "include": "content,metadata", "limit": 200},
            headers={"Authorization": f"Bearer {PROXY_KEY}"},
        )
        answer.raise_for_status()
        events = answer.json()["events"]
        events.sort(key=lambda e: (e["stepId"] or 0, e["timestamp"]))
        return [as_recorded(e) for e in events]

    def events(self, trace_id: str, count: int | None = None, timeout: float = 5.0) -> list[dict]:
        """The trace's events in recording order, once ``count`` have landed."""
        deadline = time.monotonic() + timeout
        seen: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            seen = self.read(trace_id)
            if count is not None and len(seen) >= count:
                return seen
            time.sleep(0.02)
        return seen

    def stored_bytes(self) -> bytes:
        """Everything stored: the database files (main file and write-ahead log), or every
        row of every table of a PostgreSQL database, as text."""
        if self.db_path.startswith("postgresql://"):
            return _postgres_rows(self.db_path)
        parts = [Path(self.db_path), Path(self.db_path + "-wal")]
        return b"".join(p.read_bytes() for p in parts if p.exists())


def _postgres_rows(dsn: str) -> bytes:
    import psycopg

    tables = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    with psycopg.connect(dsn, autocommit=True) as conn:
        names = [row[0] for row in conn.execute(tables)]
        dumped = [
            str(row[0]).encode()
            for name in names
            for row in conn.execute(f'SELECT t::text FROM "{name}" AS t')  # type: ignore[call-overload]
        ]
    return b"\n".join(dumped)


def _start_proxy(
    upstream_url: str, db_store: StoreUnderTest, directory: Path, **overrides: Any
) -> ProxyUnderTest:
    from whyops.server.run import start_in_thread
    from whyops.server.settings import ServerSettings

    settings = ServerSettings(
        host="127.0.0.1",
        port=0,
        db_path=db_store.new_db(directory),
        api_keys=(PROXY_KEY,),
        openai_base_url=upstream_url + "/v1",
        openai_api_key=OPENAI_SECRET,
        anthropic_base_url=upstream_url,
        anthropic_api_key=ANTHROPIC_SECRET,
        **overrides,
    )
    return ProxyUnderTest(start_in_thread(settings))


@pytest.fixture(scope="session")
def upstream() -> Iterator[Spy]:
    spy = Spy(simulator_app())
    served = Served(spy)
    spy.base_url = served.base_url  # type: ignore[attr-defined]
    try:
        yield spy
    finally:
        served.stop()


@pytest.fixture(scope="session")
def proxy(
    upstream: Spy, db_store: StoreUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyUnderTest]:
    directory = tmp_path_factory.mktemp("proxy")
    under_test = _start_proxy(upstream.base_url, db_store, directory)  # type: ignore[attr-defined]
    try:
        yield under_test
    finally:
        under_test.running.stop()


@pytest.fixture(scope="session")
def dead_proxy(
    db_store: StoreUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyUnderTest]:
    """A proxy whose upstreams do not answer."""
    directory = tmp_path_factory.mktemp("dead-proxy")
    under_test = _start_proxy(closed_port_url(), db_store, directory)
    try:
        yield under_test
    finally:
        under_test.running.stop()


@pytest.fixture(scope="module")
def small_proxy(
    upstream: Spy, db_store: StoreUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyUnderTest]:
    """A proxy that accepts request bodies of at most 1000 bytes."""
    directory = tmp_path_factory.mktemp("small-proxy")
    under_test = _start_proxy(upstream.base_url, db_store, directory, max_body_bytes=1000)  # type: ignore[attr-defined]
    try:
        yield under_test
    finally:
        under_test.running.stop()


@pytest.fixture
def proxy_with(
    upstream: Spy, db_store: StoreUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., ProxyUnderTest]]:
    """Starts a proxy with other server settings (``require_agent_name=True``, ...)."""
    started: list[ProxyUnderTest] = []

    def start(**overrides: Any) -> ProxyUnderTest:
        directory = tmp_path_factory.mktemp("configured-proxy")
        started.append(_start_proxy(upstream.base_url, db_store, directory, **overrides))  # type: ignore[attr-defined]
        return started[-1]

    try:
        yield start
    finally:
        for under_test in started:
            under_test.running.stop()


@pytest.fixture
def script(upstream: Spy) -> Iterator[Callable[[Scripted], None]]:
    def use(answer: Scripted) -> None:
        upstream.script = answer

    try:
        yield use
    finally:
        upstream.script = None


def headers_for(trace_id: str | None = None, **extra: str) -> dict[str, str]:
    headers = {"X-Agent-Name": "proxy-test-agent"}
    if trace_id:
        headers["X-Trace-ID"] = trace_id
    headers.update(extra)
    return headers


def new_trace() -> str:
    return "t-" + uuid.uuid4().hex
