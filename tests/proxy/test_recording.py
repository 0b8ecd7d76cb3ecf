"""When the proxy records: a streamed call's request shows while the answer streams; a
whole answer's events land together after the answer went out, in order, and no event is
kept while a slow answer is awaited."""

from __future__ import annotations

import asyncio
import json
import threading

import httpx2

from .conftest import PROXY_KEY, headers_for, new_trace

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
AUTH = {"Authorization": f"Bearer {PROXY_KEY}"}


def chunk(text: str) -> bytes:
    delta = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": {"content": text}}],
    }
    return f"data: {json.dumps(delta)}\n\n".encode()


async def test_the_request_is_recorded_while_the_answer_streams(proxy, script):
    trace = new_trace()
    release = threading.Event()

    async def held_stream():
        yield chunk("first ")
        await asyncio.to_thread(release.wait, 10)
        yield chunk("last")
        yield b"data: [DONE]\n\n"

    script(lambda scope: (200, [("content-type", "text/event-stream")], held_stream()))
    headers = {**AUTH, **headers_for(trace)}
    async with httpx2.AsyncClient() as http:
        body = {**CHAT, "stream": True}
        url = proxy.base_url + "/v1/chat/completions"
        async with http.stream("POST", url, json=body, headers=headers) as answer:
            chunks = answer.aiter_bytes()
            assert b"first" in await anext(chunks)
            during = await asyncio.to_thread(proxy.events, trace, 1)
            release.set()
            rest = b"".join([piece async for piece in chunks])
    assert ["user_message"] == [e["eventType"] for e in during]
    assert b"last" in rest
    events = proxy.events(trace, 2)
    assert ["user_message", "llm_response"] == [e["eventType"] for e in events]
    assert "first last" == events[1]["content"]["content"]


def test_a_whole_answer_is_recorded_in_order_with_the_request_time(proxy):
    trace = new_trace()
    answer = httpx2.post(
        proxy.base_url + "/v1/chat/completions", json=CHAT, headers={**AUTH, **headers_for(trace)}
    )
    assert 200 == answer.status_code
    request, response = proxy.events(trace, 2)
    assert ("user_message", "llm_response") == (request["eventType"], response["eventType"])
    assert request["timestamp"] <= response["timestamp"]
    assert [answer.headers["x-span-id"]] * 2 == [request["spanId"], response["spanId"]]


async def test_a_slow_answer_shows_its_request_while_the_model_works(proxy, script):
    trace = new_trace()
    release = threading.Event()

    async def slow_answer():
        await asyncio.to_thread(release.wait, 10)
        yield json.dumps(
            {
                "id": "c1",
                "object": "chat.completion",
                "created": 1,
                "model": "gpt-4o",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
            }
        ).encode()

    script(lambda scope: (200, [("content-type", "application/json")], slow_answer()))
    url = proxy.base_url + "/v1/chat/completions"
    async with httpx2.AsyncClient() as http:
        call = asyncio.ensure_future(
            http.post(url, json=CHAT, headers={**AUTH, **headers_for(trace)})
        )
        during = await asyncio.to_thread(proxy.events, trace, 1)
        release.set()
        assert 200 == (await call).status_code
    assert ["user_message"] == [e["eventType"] for e in during]
    events = await asyncio.to_thread(proxy.events, trace, 2)
    assert ["user_message", "llm_response"] == [e["eventType"] for e in events]
