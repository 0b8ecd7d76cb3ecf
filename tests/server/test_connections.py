"""Idle and half-sent connections are closed, the number of connections is capped, and running
out of file descriptors is logged once, not per accept. Real server processes, real sockets."""

from __future__ import annotations

import contextlib
import http.client
import resource
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest

from tests.server.served import KEY, Served

HALF_HEAD = b"POST /api/events/ingest HTTP/1.1\r\nHost: x\r\nContent-"


def _raise_open_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"needs {needed} open files, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def _connect(served: Served, first_bytes: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    if first_bytes:
        sock.sendall(first_bytes)
    return sock


@contextlib.contextmanager
def _held(served: Served, count: int, first_bytes: bytes) -> Iterator[list[socket.socket]]:
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sockets.append(_connect(served, first_bytes))
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def _answer(sock: socket.socket, timeout: float = 10) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout)
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    return received


def _health_now(served: Served) -> httpx2.Response:
    return httpx2.get(served.base_url + "/api/health", timeout=10)


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Served]:
    args = getattr(request, "param", ())
    running = Served(tmp_path / "conn.db", *args)
    yield running
    running.close()


@pytest.mark.parametrize("served", [("--header-timeout", "60")], indirect=True)
def test_health_answers_while_2000_half_sent_requests_are_held(served: Served) -> None:
    _raise_open_file_limit(4096)
    with _held(served, 2000, HALF_HEAD) as sockets:
        started = time.monotonic()
        health = _health_now(served)
        assert health.status_code == 200, health.text
        assert time.monotonic() - started < 5
        assert served.post_batch("held-trace", 0) == 202
        for sock in sockets[:: len(sockets) // 20]:  # and all of them are still held
            sock.settimeout(0)
            with pytest.raises(BlockingIOError):
                sock.recv(1)


@pytest.mark.parametrize("served", [("--header-timeout", "1")], indirect=True)
def test_idle_half_sent_and_stalled_connections_are_closed_after_the_timeout(
    served: Served,
) -> None:
    started = time.monotonic()
    idle = _connect(served)
    half = _connect(served, HALF_HEAD)
    stalled = _connect(served, b"POST /api/events/ingest HTTP/1.1\r\nHost: x\r\nX-API-Key: "
                       + KEY.encode() + b"\r\nContent-Length: 100\r\n\r\n[{")  # fmt: skip
    slowloris = _connect(served, b"G")
    for byte in b"ET /api/health HTTP/1.1\r\nX-A: b":  # a byte at a time: the deadline holds
        if time.monotonic() - started > 3:
            break
        with contextlib.suppress(OSError):
            slowloris.send(bytes([byte]))
        time.sleep(0.1)
    for sock in (idle, half, slowloris):
        answer = _answer(sock)
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout"), answer
        assert b"request head did not arrive in time" in answer
    assert _answer(stalled) == b""  # closed; nothing was stored
    assert time.monotonic() - started < 8
    for sock in (idle, half, stalled, slowloris):
        sock.close()
    assert _health_now(served).status_code == 200


@pytest.mark.parametrize(
    "served", [("--max-connections", "20", "--header-timeout", "30")], indirect=True
)
def test_connections_past_the_cap_are_refused_at_once_then_served_again(served: Served) -> None:
    served.http.close()  # its pooled keep-alive connections would count against the cap
    with _held(served, 20, b""):
        for _ in range(5):
            refused = _answer(_connect(served, b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"))
            assert refused.startswith(b"HTTP/1.1 503") or refused == b"", refused
            if refused:
                assert b"too many open connections (the limit is 20)" in refused
                assert b"retry-after: 1" in refused.lower()
    deadline = time.monotonic() + 10
    while _health_now(served).status_code != 200:  # closed sockets leave the count
        assert time.monotonic() < deadline
        time.sleep(0.05)
    served.wait_for_log("connection cap reached")
    assert served.log.count("connection cap reached") == 1  # once per interval


def test_out_of_file_descriptors_is_logged_once_and_survived(served: Served) -> None:
    pid = served.process.pid
    open_now = len(list(Path(f"/proc/{pid}/fd").iterdir()))
    before = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (open_now + 10, before[1]))
    try:
        with _held(served, 60, b""):
            time.sleep(3.5)  # asyncio retries accept() once a second
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, before)
    deadline = time.monotonic() + 10
    while True:
        with contextlib.suppress(httpx2.TransportError):
            if _health_now(served).status_code == 200:
                break
        assert time.monotonic() < deadline, served.log
        time.sleep(0.1)
    served.wait_for_log("cannot accept connections")
    assert served.log.count("cannot accept connections") == 1, served.log
    assert "Too many open files" in served.log
    assert "Traceback" not in served.log


def _open_file_limit(limit: int) -> Callable[[], None]:
    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return limit_files


def test_the_cap_is_lowered_to_what_the_open_file_limit_allows(tmp_path: Path) -> None:
    served = Served(tmp_path / "few.db", preexec_fn=_open_file_limit(1000))
    try:
        served.wait_for_log("--max-connections 4096 lowered to 500: the open file limit is 1000")
        served.http.close()
        with _held(served, 500, b""):
            refused = _answer(_connect(served, b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"))
            assert refused.startswith(b"HTTP/1.1 503") or refused == b"", refused
        assert "Too many open files" not in served.log  # refused before running out
    finally:
        served.close()


@pytest.mark.parametrize("served", [("--header-timeout", "1")], indirect=True)
def test_kept_alive_requests_and_slow_bodies_within_the_timeout_are_served(
    served: Served,
) -> None:
    """The deadlines bound pauses, not requests: a kept-alive connection serves a second
    request whose head starts later than the timeout after the connection opened, and a body
    sent in pieces over three times the timeout (each pause shorter) is stored."""
    sock = _connect(served, b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.settimeout(10)
    assert _response(sock).status == 200
    time.sleep(0.7)
    body = b'[{"eventType": "user_message", "traceId": "slow-body", "agentName": "a",'
    body += b' "spanId": "s1", "content": "' + b"x" * 64 + b'"}]'
    head = (
        b"POST /api/events/ingest HTTP/1.1\r\nHost: x\r\nX-API-Key: " + KEY.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode() + b"\r\n\r\n"
    )  # fmt: skip
    sock.sendall(head[:20])  # 1.4 s after the connection opened, within the head's own second
    time.sleep(0.5)
    sock.sendall(head[20:])
    pieces = [body[i : i + len(body) // 5 + 1] for i in range(0, len(body), len(body) // 5 + 1)]
    for piece in pieces:
        time.sleep(0.6)
        sock.sendall(piece)
    answer = _response(sock)
    assert answer.status == 202, answer.read()
    sock.close()
    assert served.http.get("/api/threads/slow-body").json()["events"][0]["spanId"] == "s1"


def _response(sock: socket.socket) -> http.client.HTTPResponse:
    answer = http.client.HTTPResponse(sock)
    answer.begin()
    answer.read()  # the whole body: the connection is ready for the next request
    return answer
