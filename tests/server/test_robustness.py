"""Bad input never gets a 500 and never leaves a partial write."""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import Iterator

import pytest

from tests.server.conftest import Api, event, event_count, new_trace
from whyops.server.run import RunningServer

INGEST_ROUTES = ["/api/events/ingest", "/api/events", "/api/events/tool-result"]


@pytest.mark.parametrize("path", INGEST_ROUTES)
@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[1,",
        b"nul",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b"\xff\xfe\x00garbage",
        b'{"traceId": "\xc3\x28"}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_malformed_json_is_400(api: Api, path: str, raw: bytes) -> None:
    response = api.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"].startswith("Invalid JSON")


def test_lone_surrogates_are_refused_not_stored(api: Api) -> None:
    trace = new_trace()
    head = '[{"eventType":"user_message","traceId":"' + trace
    raw = (head + '","agentName":"a","content":"\\ud800"}]').encode()
    response = api.post("/api/events/ingest", content=raw)
    assert response.status_code == 400
    assert "surrogate" in response.json()["error"]
    paired = raw.replace(b"\\ud800", b"\\ud83d\\ude00")  # a valid pair (an emoji) is fine
    assert api.post("/api/events/ingest", content=paired).status_code == 202
    assert api.thread(trace, eventInclude="content")["events"][0]["content"] == "\U0001f600"


@pytest.mark.parametrize(
    "body", [None, 1, "text", True, [1], [None], [[]], {"eventType": []}, [{"metadata": "x"}]]
)
def test_wrong_types_are_field_errors(api: Api, body: object) -> None:
    response = api.post("/api/events/ingest", content=json.dumps(body).encode())
    assert response.status_code == 400
    assert response.json()["error"] == "Validation failed"
    assert response.json()["details"]


def test_huge_numbers_are_refused_or_ignored(api: Api) -> None:
    trace = new_trace()
    overflow = event("llm_response", trace, stepId=2**70)
    assert api.ingest(overflow).status_code == 400
    infinite = b'{"eventType":"tool_result","traceId":"%s","agentName":"a","content":1e999}' % (
        trace.encode()
    )
    assert (
        api.post("/api/events/ingest", content=infinite).json()["details"][0]["field"] == "content"
    )
    usage = {"model": "m", "provider": "p", "latencyMs": 1e300,
             "usage": {"promptTokens": 2**80, "completionTokens": -1}}  # fmt: skip
    assert api.ingest(event("llm_response", trace, metadata=usage)).status_code == 202
    assert api.thread(trace)["promptTokens"] == 0
    assert event_count(api.running.db_path, trace) == 1


@pytest.fixture
def small(small_server: RunningServer) -> Iterator[Api]:
    client = Api(small_server)
    yield client
    client.close()


def test_oversized_body_is_413(small: Api) -> None:
    trace = new_trace()
    big = event("user_message", trace, content="x" * 5000)
    response = small.ingest(big)
    assert response.status_code == 413
    assert "4096" in response.json()["error"]
    assert event_count(small.running.db_path, trace) == 0


def test_oversized_streamed_body_without_length_is_413(small: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"eventType":"user_message","content":"'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}'

    response = small.post("/api/events/ingest", content=chunks())
    assert response.status_code == 413


def test_too_many_events_is_413(small: Api) -> None:
    trace = new_trace()
    response = small.ingest([event("tool_result", trace) for _ in range(6)])
    assert response.status_code == 413
    assert "limit is 5" in response.json()["error"]
    assert small.ingest([event("tool_result", trace) for _ in range(5)]).status_code == 202


def test_unknown_routes_and_methods_are_json(api: Api) -> None:
    assert api.get("/api/nothing-here").json() == {"error": "Not Found"}
    assert api.get("/api/nothing-here").status_code == 404
    wrong = api.http.delete("/api/events/ingest")
    assert wrong.status_code == 405
    assert wrong.json() == {"error": "Method Not Allowed"}
    assert "POST" in wrong.headers["allow"]
    assert api.http.put("/api/threads").status_code == 405


def test_raw_garbage_on_the_socket_does_not_break_the_server(api: Api) -> None:
    host, port = api.running.base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        sock.recv(1024)
    assert api.get("/api/health").status_code == 200


def test_gzip_bodies_are_accepted_and_bombs_refused(api: Api, small: Api) -> None:
    trace = new_trace()
    body = json.dumps([event("tool_result", trace, content="z" * 100)] * 2).encode()
    packed = gzip.compress(body)
    assert api.post("/api/events/ingest", content=packed,
                    headers={"Content-Encoding": "gzip"}).status_code == 202  # fmt: skip
    assert event_count(api.running.db_path, trace) == 2
    bomb = gzip.compress(b"[" + b" " * 100_000 + b"]")  # 100 kB from ~100 bytes
    refused = small.post("/api/events/ingest", content=bomb, headers={"Content-Encoding": "gzip"})
    assert refused.status_code == 413
    broken = api.post(
        "/api/events/ingest", content=b"not gzip", headers={"Content-Encoding": "gzip"}
    )
    assert broken.status_code == 400
    other = api.post("/api/events/ingest", content=body, headers={"Content-Encoding": "br"})
    assert other.status_code == 415
