"""Errors: upstream answers passed through untouched, proxy-made answers, disconnects."""

from __future__ import annotations

import asyncio
import json
import threading

import anthropic
import httpx2
import openai
import pytest

from .conftest import (
    ANTHROPIC_SECRET,
    OPENAI_SECRET,
    PROXY_KEY,
    headers_for,
    new_trace,
)
from .shapes import error_message, openai_message

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def post(proxy, path: str, body, headers: dict[str, str]) -> httpx2.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx2.post(
        proxy.base_url + path,
        content=content,
        headers={"content-type": "application/json", **headers},
    )


def auth(trace: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {PROXY_KEY}", **headers_for(trace)}


def test_simulated_rate_limit_passes_through_byte_for_byte(proxy, upstream):
    trace = new_trace()
    body = json.dumps({**CHAT, "model": "sim-error-429"}).encode()
    proxied = post(proxy, "/v1/chat/completions", body, auth(trace))
    direct = httpx2.post(
        upstream.base_url + "/v1/chat/completions",
        content=body,
        headers={"authorization": "Bearer x", "content-type": "application/json"},
    )
    assert (429, direct.content) == (proxied.status_code, proxied.content)
    for name in ("retry-after", "retry-after-ms", "x-request-id"):
        assert direct.headers[name] == proxied.headers[name]
    assert trace == proxied.headers["x-trace-id"]
    request, error = proxy.events(trace, 2)
    assert "error" == error["eventType"]
    assert request["spanId"] == error["spanId"]
    assert {
        "message": direct.json()["error"]["message"],
        "type": direct.json()["error"]["type"],
        "status": 429,
        "body": direct.json(),
    } == error["content"]
    assert {
        "httpStatus": 429,
        "status": "error",
        "provider": "openai",
        "model": "sim-error-429",
    } == {k: error["metadata"][k] for k in ("httpStatus", "status", "provider", "model")}


def test_sdk_sees_the_upstream_error(proxy):
    api = openai.OpenAI(
        base_url=proxy.base_url + "/v1",
        api_key=PROXY_KEY,
        max_retries=0,
        default_headers=headers_for(),
    )
    with pytest.raises(openai.RateLimitError) as caught:
        api.chat.completions.create(model="sim-error-429", messages=CHAT["messages"])
    assert "retry-after" in caught.value.response.headers


def test_anthropic_overloaded(proxy):
    trace = new_trace()
    api = anthropic.Anthropic(
        base_url=proxy.base_url,
        api_key=PROXY_KEY,
        max_retries=0,
        default_headers=headers_for(trace),
    )
    with pytest.raises(anthropic.APIStatusError) as caught:
        api.messages.create(
            model="sim-overloaded", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert 529 == caught.value.status_code
    _, error = proxy.events(trace, 2)
    assert ("error", 529, "overloaded_error") == (
        error["eventType"],
        error["metadata"]["httpStatus"],
        error["content"]["type"],
    )


def test_scripted_error_untouched_and_secret_kept_out_of_storage(proxy, script):
    trace = new_trace()
    text = f"upstream says no to {OPENAI_SECRET}\n".encode()
    script(
        lambda scope: (
            401,
            [("content-type", "text/plain"), ("x-should-retry", "false"), ("retry-after", "7")],
            text,
        )
    )
    answer = post(proxy, "/v1/chat/completions", CHAT, auth(trace))
    assert (401, text, "false", "7") == (
        answer.status_code,
        answer.content,
        answer.headers["x-should-retry"],
        answer.headers["retry-after"],
    )
    _, error = proxy.events(trace, 2)
    assert "upstream says no to [redacted]\n" == error["content"]["body"]
    assert OPENAI_SECRET.encode() not in proxy.stored_bytes()
    assert ANTHROPIC_SECRET.encode() not in proxy.stored_bytes()


def test_stream_failing_midway_records_an_error(proxy):
    trace = new_trace()
    api = openai.OpenAI(
        base_url=proxy.base_url + "/v1",
        api_key=PROXY_KEY,
        max_retries=0,
        default_headers=headers_for(trace),
    )
    with pytest.raises(openai.APIError):
        for _ in api.chat.completions.create(
            model="sim-stream-error", stream=True, messages=CHAT["messages"]
        ):
            pass
    _, error = proxy.events(trace, 2)
    assert "error" == error["eventType"]
    assert error["metadata"]["status"] == "error"


@pytest.mark.parametrize(
    ("path", "body", "shape"),
    [
        ("/v1/chat/completions", CHAT, lambda b: b["error"]["code"]),
        (
            "/v1/messages",
            {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": []},
            lambda b: b["type"] == "error" and b["error"]["type"],
        ),
    ],
)
def test_unreachable_upstream_is_a_502_in_the_provider_shape(dead_proxy, path, body, shape):
    trace = new_trace()
    answer = post(dead_proxy, path, body, auth(trace))
    assert 502 == answer.status_code
    assert shape(answer.json())
    assert trace == answer.headers["x-trace-id"]
    _, error = dead_proxy.events(trace, 2)
    assert ("error", 502) == (error["eventType"], error["metadata"]["httpStatus"])


def test_missing_agent_name(proxy_with):
    strict = proxy_with(require_agent_name=True)
    answer = post(strict, "/v1/chat/completions", CHAT, {"Authorization": f"Bearer {PROXY_KEY}"})
    assert 400 == answer.status_code
    assert "Missing required header: X-Agent-Name" == openai_message(answer.json())


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "Authentication required"),
        ({"Authorization": "Bearer whyops_wrong"}, "Invalid API key"),
        ({"x-api-key": "whyops_wrong"}, "Invalid API key"),
    ],
)
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages", "/v1/embeddings"])
def test_auth_failures(proxy, headers, reason, path):
    trace = new_trace()
    answer = post(proxy, path, CHAT, {**headers_for(trace), **headers})
    assert 401 == answer.status_code
    provider = "anthropic" if path == "/v1/messages" else "openai"
    assert f"Unauthorized: {reason}" == error_message(answer, provider)
    assert [] == proxy.events(trace, timeout=0.2)


def test_models_need_auth(proxy):
    assert 401 == httpx2.get(proxy.base_url + "/v1/models").status_code


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"{nope", "Invalid JSON"), (b"[1, 2]", "Invalid request body: expected a JSON object")],
)
def test_bad_json(proxy, body, message):
    answer = post(proxy, "/v1/chat/completions", body, auth())
    assert (400, message) == (answer.status_code, openai_message(answer.json()))


async def test_client_disconnect_mid_stream_closes_upstream_and_records(proxy, script):
    trace = new_trace()
    sent: list[int] = []
    finished = threading.Event()

    async def slow_stream():
        try:
            for n in range(200):
                chunk = {
                    "id": "c1",
                    "object": "chat.completion.chunk",
                    "created": 1,
                    "model": "gpt-4o",
                    "choices": [{"index": 0, "delta": {"content": f"w{n} "}}],
                }
                sent.append(n)
                yield f"data: {json.dumps(chunk)}\n\n".encode()
                await asyncio.sleep(0.02)
            yield b"data: [DONE]\n\n"
        finally:
            finished.set()

    script(lambda scope: (200, [("content-type", "text/event-stream")], slow_stream()))
    async with httpx2.AsyncClient() as http:
        async with http.stream(
            "POST",
            proxy.base_url + "/v1/chat/completions",
            json={**CHAT, "stream": True},
            headers=auth(trace),
        ) as answer:
            received = b""
            async for chunk in answer.aiter_bytes():
                received += chunk
                if received.count(b"\n\n") >= 3:
                    break
    _, response = proxy.events(trace, 2)
    assert "client_disconnected" == response["metadata"]["aborted"]
    assert response["content"]["content"].startswith("w0 w1 w2 ")
    assert finished.wait(2)  # the proxy hung up on the upstream too
    assert len(sent) < 100


async def test_upstream_breaking_off_mid_stream_is_an_error_with_the_partial_answer(proxy, script):
    trace = new_trace()

    async def broken_stream():
        for n in range(2):
            chunk = {
                "id": "c2",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "gpt-4o",
                "choices": [{"index": 0, "delta": {"content": f"p{n} "}}],
            }
            yield f"data: {json.dumps(chunk)}\n\n".encode()
            await asyncio.sleep(0.01)
        raise ConnectionResetError("simulated upstream crash")

    script(lambda scope: (200, [("content-type", "text/event-stream")], broken_stream()))
    received = b""
    async with httpx2.AsyncClient() as http:
        async with http.stream(
            "POST",
            proxy.base_url + "/v1/chat/completions",
            json={**CHAT, "stream": True},
            headers=auth(trace),
        ) as answer:
            async for chunk in answer.aiter_bytes():  # a cleanly ended body: no read error
                received += chunk
    assert b"p0 " in received and b"p1 " in received
    last = received.rstrip(b"\n").rsplit(b"\n\n", 1)[-1]
    assert last.startswith(b"data: ")
    assert "broke off" in openai_message(json.loads(last[len(b"data: ") :]))
    _, error = proxy.events(trace, 2)
    assert ("error", "UpstreamDisconnected", "upstream_disconnected") == (
        error["eventType"],
        error["content"]["type"],
        error["metadata"]["aborted"],
    )
    assert "p0 p1 " == error["content"]["partial"]["content"]


def test_oversized_body_is_a_413_and_nothing_is_recorded(small_proxy):
    trace = new_trace()
    body = {**CHAT, "messages": [{"role": "user", "content": "x" * 2000}]}
    answer = post(small_proxy, "/v1/chat/completions", body, auth(trace))
    assert 413 == answer.status_code
    assert "Payload Too Large: body exceeds 1000 bytes" == openai_message(answer.json())
    assert [] == small_proxy.events(trace, timeout=0.2)


def test_lone_surrogate_is_refused(proxy):
    body = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "\\ud800"}]}'
    answer = post(proxy, "/v1/chat/completions", body, auth())
    assert 400 == answer.status_code
    assert "surrogate" in openai_message(answer.json())


def test_gzip_request_body_is_forwarded_decoded(proxy, upstream):
    import gzip

    trace = new_trace()
    raw = gzip.compress(json.dumps(CHAT).encode())
    answer = post(proxy, "/v1/chat/completions", raw, {**auth(trace), "content-encoding": "gzip"})
    assert 200 == answer.status_code
    assert CHAT == json.loads(upstream.last("/chat/completions")["body"])
