"""The WhyOps headers the proxy reads: limits, bad values and UTF-8, on every route."""

from __future__ import annotations

import gzip
import json
import socket
import time
from typing import Any

import httpx2
import pytest

from .conftest import PROXY_KEY, headers_for, new_trace
from .shapes import anthropic_message, error_message, provider_of

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
MESSAGES = {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": CHAT["messages"]}
COUNT = {"model": "claude-haiku-4-5", "messages": CHAT["messages"]}
AUTH = {"Authorization": f"Bearer {PROXY_KEY}"}
# (method, path, body) of every proxy route
ROUTES = [
    ("POST", "/v1/chat/completions", CHAT),
    ("POST", "/v1/responses", {"model": "gpt-4o-mini", "input": "x"}),
    ("POST", "/v1/embeddings", {"model": "text-embedding-3-small", "input": "x"}),
    ("POST", "/v1/messages", MESSAGES),
    ("POST", "/v1/messages/count_tokens", COUNT),
    ("GET", "/v1/models", None),
    ("GET", "/v1/models/gpt-4o-mini", None),
]
TOO_LONG = [
    ("X-Trace-ID", 128),
    ("X-Thread-ID", 128),
    ("X-Parent-Span-ID", 128),
    ("X-External-User-Id", 255),
    ("X-Agent-Name", 255),
]


SENT = {**AUTH, "content-type": "application/json", "anthropic-version": "2023-06-01"}


def call(proxy: Any, method: str, path: str, body: Any, headers: Any) -> httpx2.Response:
    content = None if body is None else json.dumps(body).encode()
    return httpx2.request(
        method, proxy.base_url + path, content=content, headers=[*SENT.items(), *headers]
    )


@pytest.mark.parametrize(("header", "limit"), TOO_LONG)
@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_an_overlong_header_is_a_400_naming_it(proxy, upstream, method, path, body, header, limit):
    trace = new_trace()
    headers = {**headers_for(trace), header: "x" * (limit + 1)}
    seen = len(upstream.requests)
    answer = call(proxy, method, path, body, list(headers.items()))
    expected = f"Header {header} must be at most {limit} characters"
    assert (400, expected) == (answer.status_code, error_message(answer, provider_of(path, SENT)))
    assert seen == len(upstream.requests)  # refused before anything went upstream
    assert [] == proxy.events(trace, timeout=0.1)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_a_control_character_is_a_400_naming_the_header(proxy, method, path, body):
    headers = [*headers_for().items(), ("X-Thread-ID", "a\tb")]
    answer = call(proxy, method, path, body, headers)
    expected = "Header X-Thread-ID must not contain control characters"
    assert (400, expected) == (answer.status_code, error_message(answer, provider_of(path, SENT)))


def test_headers_at_the_limit_are_recorded_whole(proxy):
    trace = "t" * 128
    extra = {"X-External-User-Id": "u" * 255, "X-Parent-Span-ID": "p" * 128}
    answer = call(proxy, "POST", "/v1/chat/completions", CHAT, headers_for(trace, **extra).items())
    assert 200 == answer.status_code
    events = proxy.events(trace, 2)
    assert [("u" * 255, "p" * 128)] * 2 == [
        (e["externalUserId"], e["parentSpanId"]) for e in events
    ]


def test_utf8_header_values_are_stored_and_echoed_as_sent(proxy):
    trace = "trace-" + new_trace() + "-日本"
    headers = [
        (b"X-Agent-Name", "agent-ü".encode()),
        (b"X-Trace-ID", trace.encode()),
        (b"X-External-User-Id", "é".encode()),
    ]
    answer = call(proxy, "POST", "/v1/messages", MESSAGES, headers)
    assert 200 == answer.status_code
    assert (b"x-trace-id", trace.encode()) in [(k.lower(), v) for k, v in answer.headers.raw]
    events = proxy.events(trace, 2)
    assert [("agent-ü", "é")] * 2 == [(e["agentName"], e["externalUserId"]) for e in events]


def test_a_header_that_is_not_utf8_is_read_as_latin1(proxy):
    trace = new_trace()
    headers = [*headers_for(trace).items(), (b"X-External-User-Id", b"caf\xe9")]
    assert 200 == call(proxy, "POST", "/v1/chat/completions", CHAT, headers).status_code
    assert {"café"} == {e["externalUserId"] for e in proxy.events(trace, 2)}


def test_utf8_forwarded_headers_reach_upstream_untouched(proxy, upstream):
    headers = [*headers_for().items(), (b"User-Agent", "agent é".encode())]
    assert 200 == call(proxy, "POST", "/v1/chat/completions", CHAT, headers).status_code
    sent = upstream.last("/chat/completions")["headers"]["user-agent"]
    assert sent.startswith("agent é whyops-proxy/")


def test_count_tokens_obeys_the_body_limit(small_proxy, upstream):
    seen = len(upstream.requests)
    body = {**COUNT, "messages": [{"role": "user", "content": "x" * 2000}]}
    answer = call(small_proxy, "POST", "/v1/messages/count_tokens", body, [])
    expected = "Payload Too Large: body exceeds 1000 bytes"
    assert (413, expected) == (answer.status_code, anthropic_message(answer.json()))
    gzipped = gzip.compress(json.dumps(body).encode())  # small on the wire, too big inflated
    answer = httpx2.post(
        small_proxy.base_url + "/v1/messages/count_tokens",
        content=gzipped,
        headers={**AUTH, "content-encoding": "gzip", "anthropic-version": "2023-06-01"},
    )
    assert 413 == answer.status_code
    assert "once decompressed" in anthropic_message(answer.json())
    assert seen == len(upstream.requests)


def test_count_tokens_forwards_a_gzip_body_decoded(proxy, upstream):
    answer = httpx2.post(
        proxy.base_url + "/v1/messages/count_tokens",
        content=gzip.compress(json.dumps(COUNT).encode()),
        headers={**AUTH, "content-encoding": "gzip", "anthropic-version": "2023-06-01"},
    )
    assert answer.status_code < 500
    forwarded = upstream.last("/v1/messages/count_tokens")
    assert COUNT == json.loads(forwarded["body"])
    assert "content-encoding" not in forwarded["headers"]


def test_count_tokens_refuses_invalid_json(proxy):
    answer = httpx2.post(
        proxy.base_url + "/v1/messages/count_tokens",
        content=b"{nope",
        headers={**AUTH, "anthropic-version": "2023-06-01"},
    )
    assert (400, "Invalid JSON") == (answer.status_code, anthropic_message(answer.json()))


@pytest.mark.parametrize(
    ("method", "path", "body", "header", "length", "limit"),
    [
        ("POST", "/v1/chat/completions", CHAT, "X-Trace-ID", 200, 128),
        ("POST", "/v1/messages", MESSAGES, "X-External-User-Id", 300, 255),
        ("GET", "/v1/models", None, "X-Trace-ID", 200, 128),
    ],
)
def test_shipped_server_refuses_long_headers_with_a_400(
    server, method, path, body, header, length, limit
):
    """``whyops serve --simulate`` as shipped: these requests used to answer 500."""
    headers = {
        "Authorization": f"Bearer {server.api_key}",
        "X-Agent-Name": "a",
        "anthropic-version": "2023-06-01",
        header: "x" * length,
    }
    answer = httpx2.request(method, server.base_url + path, json=body, headers=headers)
    expected = f"Header {header} must be at most {limit} characters"
    assert (400, expected) == (
        answer.status_code,
        error_message(answer, provider_of(path, headers)),
    )


def test_shipped_server_stores_utf8_user_ids(server):
    trace = new_trace()
    headers = [
        (b"Authorization", f"Bearer {server.api_key}".encode()),
        (b"X-Agent-Name", b"a"),
        (b"X-Trace-ID", trace.encode()),
        (b"X-External-User-Id", "é".encode()),
    ]
    answer = httpx2.post(server.base_url + "/v1/chat/completions", json=CHAT, headers=headers)
    assert 200 == answer.status_code
    read = httpx2.get(
        server.base_url + "/api/events",
        params={"traceId": trace},
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    deadline = time.monotonic() + 5
    while len(read.json()["events"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
        read = httpx2.get(read.request.url, headers=read.request.headers)
    assert ["é", "é"] == [e["externalUserId"] for e in read.json()["events"]]


def test_a_control_byte_http_forbids_is_refused_by_the_server(proxy):
    """A value h11 will not parse (ESC) never reaches the proxy: a 400, not a 500."""
    host, port = proxy.base_url.removeprefix("http://").split(":")
    request = (
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + PROXY_KEY.encode()
        + b"\r\nX-Trace-ID: a\x1bb\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        status_line = sock.makefile("rb").readline()
    assert status_line.startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize(
    ("method", "path", "body", "upstream_path"),
    [
        ("POST", "/v1/chat/completions", CHAT, "/chat/completions"),
        ("GET", "/v1/models", None, "/v1/models"),
    ],
)
def test_the_query_string_is_passed_upstream(proxy, upstream, method, path, body, upstream_path):
    query = "?api-version=2024-10&x=a%20b"
    answer = call(proxy, method, path + query, body, headers_for().items())
    assert 200 == answer.status_code
    assert "api-version=2024-10&x=a%20b" == upstream.last(upstream_path)["query"]
