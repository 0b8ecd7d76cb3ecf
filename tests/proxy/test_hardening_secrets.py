"""Keys never reach storage: an upstream that echoes the key it was called with (in a whole
answer, in streamed text, in a stream's error frame) is recorded with ``[redacted]`` instead,
and so is anything shaped like a key. Checked through the read API and in the database bytes."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whyops.server.proxy.redact import Redactor

from .conftest import ANTHROPIC_SECRET, OPENAI_SECRET, PROXY_KEY, headers_for, new_trace

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": CHAT["messages"]}
SSE = [("content-type", "text/event-stream")]
JSON_TYPE = [("content-type", "application/json")]
# Key-shaped text that is not the server's key (a client's prompt, another account's key).
OTHER_KEYS = ["sk-proj-AbCdEfGhIjKlMnOpQrStUv012345", "sk-ant-api03-ZyXwVuTsRqPoNmLk-98765"]
KEY_SHAPED = re.compile(r"sk-[A-Za-z0-9_-]{16,}|Bearer [A-Za-z0-9._~+/=-]{16,}")


def echoed(scope: dict) -> str:
    """The credential header the proxy sent upstream, as the upstream would echo it."""
    headers = dict(scope["headers"])
    return (headers.get(b"authorization") or headers[b"x-api-key"]).decode()


def frame(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


def chat_chunk(text: str) -> bytes:
    delta = {"index": 0, "delta": {"content": text}}
    return frame(
        {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4o", "choices": [delta]}
    )


def chat_answer(scope: dict) -> tuple[int, list, bytes]:
    message = {"role": "assistant", "content": f"you sent {echoed(scope)}"}
    body = {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o",
        "system_fingerprint": echoed(scope),
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }
    return 200, JSON_TYPE, json.dumps(body).encode()


def chat_stream(scope: dict) -> tuple[int, list, AsyncIterator[bytes]]:
    key = echoed(scope)

    async def stream() -> AsyncIterator[bytes]:
        yield chat_chunk("key: " + key[:12])  # the key split over two chunks
        yield chat_chunk(key[12:] + " and " + OTHER_KEYS[0])
        yield b"data: [DONE]\n\n"

    return 200, SSE, stream()


def chat_stream_error(scope: dict) -> tuple[int, list, AsyncIterator[bytes]]:
    key = echoed(scope)

    async def stream() -> AsyncIterator[bytes]:
        yield chat_chunk("partial ")
        yield frame({"error": {"message": f"invalid key {key}", "type": "server_error"}})

    return 200, SSE, stream()


def anthropic_answer(scope: dict) -> tuple[int, list, bytes]:
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": [{"type": "text", "text": f"you sent {echoed(scope)}"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    return 200, JSON_TYPE, json.dumps(body).encode()


def anthropic_stream(scope: dict, fail: bool) -> tuple[int, list, AsyncIterator[bytes]]:
    key = echoed(scope)
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5"}
    message |= {"content": [], "usage": {"input_tokens": 1, "output_tokens": 0}}

    async def stream() -> AsyncIterator[bytes]:
        yield frame({"type": "message_start", "message": message}, "message_start")
        block = {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        }
        yield frame(block, "content_block_start")
        for text in (key[:10], key[10:] + " " + OTHER_KEYS[1]):
            delta = {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": text},
            }
            yield frame(delta, "content_block_delta")
        if fail:
            error = {"type": "error", "error": {"type": "api_error", "message": f"bad {key}"}}
            yield frame(error, "error")
            return
        yield frame({"type": "content_block_stop", "index": 0}, "content_block_stop")
        stop = {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 3},
        }
        yield frame(stop, "message_delta")
        yield frame({"type": "message_stop"}, "message_stop")

    return 200, SSE, stream()


CASES = {
    "openai whole answer": ("/v1/chat/completions", CHAT, chat_answer),
    "openai stream": ("/v1/chat/completions", {**CHAT, "stream": True}, chat_stream),
    "openai stream error frame": (
        "/v1/chat/completions",
        {**CHAT, "stream": True},
        chat_stream_error,
    ),
    "anthropic whole answer": ("/v1/messages", MESSAGES, anthropic_answer),
    "anthropic stream": (
        "/v1/messages",
        {**MESSAGES, "stream": True},
        lambda scope: anthropic_stream(scope, fail=False),
    ),
    "anthropic stream error frame": (
        "/v1/messages",
        {**MESSAGES, "stream": True},
        lambda scope: anthropic_stream(scope, fail=True),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_echoed_key_is_recorded_redacted(proxy, script, case):
    path, body, answer = CASES[case]
    trace = new_trace()
    script(answer)
    prompt = [{"role": "user", "content": f"my other key is {OTHER_KEYS[0]}"}]
    headers = {"Authorization": f"Bearer {PROXY_KEY}", **headers_for(trace)}
    reply = httpx2.post(proxy.base_url + path, json={**body, "messages": prompt}, headers=headers)
    assert 200 == reply.status_code
    secret = ANTHROPIC_SECRET if path == "/v1/messages" else OPENAI_SECRET
    assert secret[-12:] in reply.text  # the client gets what the upstream said; storage does not
    recorded = json.dumps(proxy.events(trace, 2), ensure_ascii=False)
    assert "[redacted]" in recorded
    assert [] == KEY_SHAPED.findall(recorded)
    stored = proxy.stored_bytes()
    for key in (OPENAI_SECRET, ANTHROPIC_SECRET, *OTHER_KEYS):
        assert key.encode() not in stored


def test_text_near_a_key_shape_is_kept(proxy):
    """Ordinary words are not mistaken for keys: ``task-…``, a short ``sk-x``, prose."""
    trace = new_trace()
    text = "task-abcdefghijklmnopqrstuvwxyz, sk-short, Bearer tokens, the simulator"
    headers = {"Authorization": f"Bearer {PROXY_KEY}", **headers_for(trace)}
    messages = [{"role": "user", "content": text}]
    answer = httpx2.post(
        proxy.base_url + "/v1/chat/completions",
        json={**CHAT, "messages": messages},
        headers=headers,
    )
    assert 200 == answer.status_code
    [request] = [e for e in proxy.events(trace, 2) if e["eventType"] == "user_message"]
    assert text in json.dumps(request["content"])


KEYS = [OPENAI_SECRET, ANTHROPIC_SECRET, *OTHER_KEYS, "Bearer abcdefghijklmnop0123"]
TEXT = st.text(max_size=30)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(events=st.lists(st.dictionaries(TEXT, VALUES, max_size=4), max_size=3))
def test_the_redactor_leaves_keyless_events_alone(events):
    redactor = Redactor([OPENAI_SECRET, ANTHROPIC_SECRET])
    if not KEY_SHAPED.search(json.dumps(events, ensure_ascii=False)):
        assert events == redactor.events(events)


@settings(max_examples=300, deadline=None)
@given(before=TEXT, after=TEXT, key=st.sampled_from(KEYS), nested=st.booleans())
def test_the_redactor_finds_a_key_in_any_surroundings(before, after, key, nested):
    # a separator keeps the key a key: "xsk-…" is a word, not a key
    text = before + " " + key + " " + after
    events = [{"content": {"messages": [{"content": text}]} if nested else text, "n": 1}]
    redacted = Redactor([OPENAI_SECRET, ANTHROPIC_SECRET]).events(events)
    assert key.split()[-1] not in json.dumps(redacted, ensure_ascii=False)
    assert 1 == redacted[0]["n"]
