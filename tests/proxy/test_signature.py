"""The signature never changes what a client parses, and streams look as the provider's.

Real openai and anthropic clients (and raw SSE bytes) through the proxy to the spied
simulator; scripted upstream answers for the text shapes the simulator has no trigger for.
"""

from __future__ import annotations

import json

import anthropic
import httpx2
import openai
import pytest

from whyops.server.proxy import signature
from whyops.server.proxy.sse import SSEFramer

from .conftest import PROXY_KEY, headers_for, new_trace

HELLO = [{"role": "user", "content": "hello"}]
STREAM = {"model": "gpt-4o", "stream": True, "messages": HELLO}


def openai_client(proxy, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=proxy.base_url + "/v1",
        api_key=PROXY_KEY,
        max_retries=0,
        default_headers=headers_for(**headers),
    )


def anthropic_client(proxy, **headers: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=proxy.base_url,
        api_key=PROXY_KEY,
        max_retries=0,
        default_headers=headers_for(**headers),
    )


def sse_chunks(raw: bytes) -> list[dict | str]:
    """The data of every frame: parsed chunks, and ``[DONE]`` as a string."""
    frames = SSEFramer().feed(raw)
    return [f.data if f.data == "[DONE]" else json.loads(f.data or "") for f in frames]


def proxied_stream(proxy, body: dict, **headers: str) -> tuple[bytes, httpx2.Response]:
    answer = httpx2.post(
        proxy.base_url + "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {PROXY_KEY}", **headers_for(**headers)},
    )
    assert 200 == answer.status_code, answer.text
    return answer.content, answer


def direct_stream(upstream, body: dict) -> bytes:
    """What the simulator itself streams for ``body`` (no proxy)."""
    answer = httpx2.post(
        upstream.base_url + "/v1/chat/completions",
        json=body,
        headers={"Authorization": "Bearer direct"},
    )
    assert 200 == answer.status_code
    return answer.content


def without_signature_chunk(chunks: list) -> list:
    return [
        c
        for c in chunks
        if not (
            isinstance(c, dict)
            and c["choices"]
            and signature.decode(c["choices"][0]["delta"].get("content") or "")
        )
    ]


# ---- nothing follows the finish chunk but usage and [DONE] ----


def test_sdk_stream_helper_keeps_usage_and_ends_content_once(proxy):
    """chat.completions.stream(): usage survives, no content.delta after content.done."""
    kinds: list[str] = []
    with openai_client(proxy).chat.completions.stream(
        model="gpt-4o", stream_options={"include_usage": True}, messages=HELLO
    ) as stream:
        for event in stream:
            kinds.append(event.type)
        final = stream.get_final_completion()
    assert final.usage is not None and final.usage.total_tokens > 0
    done = kinds.index("content.done")
    assert "content.delta" not in kinds[done:]
    assert (signature.decode(final.choices[0].message.content) or "").startswith("thread_")


def test_raw_stream_signature_sits_before_the_finish_chunk(proxy, upstream):
    body = {**STREAM, "stream_options": {"include_usage": True}}
    raw, answer = proxied_stream(proxy, body)
    chunks = sse_chunks(raw)
    assert "[DONE]" == chunks[-1]
    usage, finish, signed = chunks[-2], chunks[-3], chunks[-4]
    assert [] == usage["choices"] and usage["usage"]["total_tokens"] > 0
    assert "stop" == finish["choices"][0]["finish_reason"]
    assert answer.headers["x-trace-id"] == signature.decode(
        signed["choices"][0]["delta"]["content"]
    )
    assert (None, None) == (signed["usage"], signed["choices"][0]["finish_reason"])
    assert {k: v for k, v in finish.items() if k != "choices"} == {
        k: v for k, v in signed.items() if k != "choices"
    }
    # apart from the signature chunk, exactly what the simulator streams
    assert sse_chunks(direct_stream(upstream, body)) == without_signature_chunk(chunks)


def test_anthropic_stream_helper_signs_inside_the_text_block(proxy):
    with anthropic_client(proxy).messages.stream(
        model="claude-haiku-4-5", max_tokens=256, messages=HELLO
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
        trace = stream.response.headers["x-trace-id"]
    kinds = [e.type for e in events]
    stop = kinds.index("content_block_stop")
    assert "text" not in kinds[stop:]
    assert ["message_delta", "message_stop"] == kinds[-2:]
    streamed = "".join(e.text for e in events if e.type == "text")
    assert streamed == final.content[0].text
    assert trace == signature.decode(streamed)
    assert final.usage.output_tokens > 0


# ---- usage is always asked for, and shown only when the client asked ----


def test_usage_recorded_but_not_shown_when_the_client_did_not_ask(proxy, upstream):
    trace = new_trace()
    raw, _ = proxied_stream(proxy, STREAM, **{"X-Trace-ID": trace})
    sent = json.loads(upstream.last("/chat/completions")["body"])
    assert {"include_usage": True} == sent["stream_options"]
    assert raw == direct_stream(upstream, STREAM)  # byte for byte, no usage anywhere
    assert b"usage" not in raw
    response = proxy.events(trace, 2)[-1]
    assert response["metadata"]["usage"]["totalTokens"] > 0


def test_client_options_are_kept_when_usage_is_added(proxy, upstream):
    trace = new_trace()
    body = {**STREAM, "stream_options": {"include_usage": False, "include_obfuscation": False}}
    raw, _ = proxied_stream(proxy, body, **{"X-Trace-ID": trace})
    sent = json.loads(upstream.last("/chat/completions")["body"])
    assert {"include_usage": True, "include_obfuscation": False} == sent["stream_options"]
    assert b"usage" not in raw
    assert proxy.events(trace, 2)[-1]["metadata"]["usage"]["totalTokens"] > 0


def test_unsigned_stream_with_usage_is_the_providers_byte_for_byte(proxy, upstream):
    body = {**STREAM, "stream_options": {"include_usage": True}}
    raw, _ = proxied_stream(proxy, body, **{"X-Trace-ID": new_trace()})
    assert raw == direct_stream(upstream, body)
    assert json.loads(upstream.last("/chat/completions")["body"]) == body


def test_sdk_without_include_usage_records_usage(proxy):
    trace = new_trace()
    stream = openai_client(proxy, **{"X-Trace-ID": trace}).chat.completions.create(
        model="gpt-4o", messages=HELLO, stream=True
    )
    chunks = list(stream)
    assert all(c.usage is None and "usage" not in c.model_fields_set for c in chunks)
    assert proxy.events(trace, 2)[-1]["metadata"]["usage"]["completionTokens"] > 0


def test_whole_answers_are_forwarded_untouched(proxy, upstream):
    body = {"model": "gpt-4o", "messages": HELLO}
    httpx2.post(
        proxy.base_url + "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {PROXY_KEY}", **headers_for(new_trace())},
    )
    assert body == json.loads(upstream.last("/chat/completions")["body"])


# ---- only prose is signed ----

JSON_LIKE = [
    '{"name": "Ada", "age": 36}',
    "[1, 2, 3]\n",
    "42",
    '"quoted"',
    'Here you go:\n{"name": "Ada"}',
    'Sure:\n```json\n{"name": "Ada"}\n```',
    "```python\nprint(1)\n```\n\n",
]


def chat_answer(text: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    ).encode()


def chat_stream(text: str) -> bytes:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    pieces = [text[i : i + 5] for i in range(0, len(text), 5)]
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
        for p in pieces
    ]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


def scripted(content: bytes, kind: str = "application/json"):
    def answer(scope):
        if scope["path"].endswith("/chat/completions"):
            return 200, [("content-type", kind)], content
        return None

    return answer


@pytest.mark.parametrize("text", JSON_LIKE)
def test_json_and_fenced_answers_are_never_signed(proxy, script, text):
    script(scripted(chat_answer(text)))
    answer = openai_client(proxy).chat.completions.create(model="gpt-4o", messages=HELLO)
    assert text == answer.choices[0].message.content


@pytest.mark.parametrize("text", JSON_LIKE)
def test_json_and_fenced_streams_are_never_signed(proxy, script, text):
    script(scripted(chat_stream(text), "text/event-stream"))
    stream = openai_client(proxy).chat.completions.create(
        model="gpt-4o", messages=HELLO, stream=True
    )
    assert text == "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def test_prompted_json_parses_and_prose_is_signed(proxy, script):
    script(scripted(chat_answer('{"city": "Paris"}')))
    api = openai_client(proxy)
    parsed = api.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert {"city": "Paris"} == json.loads(parsed.choices[0].message.content)
    script(scripted(chat_answer("It is sunny in Paris.")))
    prose = api.chat.completions.with_raw_response.create(model="gpt-4o", messages=HELLO)
    text = prose.parse().choices[0].message.content
    assert prose.headers["x-trace-id"] == signature.decode(text)


def test_structured_output_is_never_signed(proxy):
    schema = {
        "type": "json_schema",
        "json_schema": {
            "name": "city",
            "schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    answer = openai_client(proxy).chat.completions.create(
        model="gpt-4o", messages=HELLO, response_format=schema
    )
    assert signature.START not in answer.choices[0].message.content
    json.loads(answer.choices[0].message.content)


def test_anthropic_json_answer_is_never_signed(proxy, script):
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": [{"type": "text", "text": '{"ok": true}'}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    script(
        lambda scope: (
            (200, [("content-type", "application/json")], json.dumps(message).encode())
            if scope["path"].endswith("/v1/messages")
            else None
        )
    )
    answer = anthropic_client(proxy).messages.create(
        model="claude-haiku-4-5", max_tokens=64, messages=HELLO
    )
    assert {"ok": True} == json.loads(answer.content[0].text)


# ---- turning the signature off ----


@pytest.mark.parametrize("value", ["off", "OFF", "False", "0"])
def test_signature_header_turns_it_off(proxy, upstream, value):
    raw, answer = proxied_stream(proxy, STREAM, **{"X-WhyOps-Signature": value})
    assert answer.headers["x-trace-id"].startswith("thread_")
    assert raw == direct_stream(upstream, STREAM)
    whole = openai_client(proxy, **{"X-WhyOps-Signature": value}).chat.completions.create(
        model="gpt-4o", messages=HELLO
    )
    assert signature.START not in whole.choices[0].message.content


def test_bad_signature_header_is_refused_naming_it(proxy, upstream):
    before = len(upstream.requests)
    answer = httpx2.post(
        proxy.base_url + "/v1/chat/completions",
        json=STREAM,
        headers={
            "Authorization": f"Bearer {PROXY_KEY}",
            **headers_for(),
            "X-WhyOps-Signature": "maybe",
        },
    )
    assert 400 == answer.status_code
    assert "X-WhyOps-Signature must be on or off" in answer.text
    assert before == len(upstream.requests)


def test_server_flag_turns_it_off(proxy_with):
    quiet = proxy_with(signature=False)
    api = openai_client(quiet)
    whole = api.chat.completions.create(model="gpt-4o", messages=HELLO)
    streamed = api.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    claude = anthropic_client(quiet).messages.create(
        model="claude-haiku-4-5", max_tokens=64, messages=HELLO
    )
    for answer in (whole.choices[0].message.content, text, claude.content[0].text):
        assert signature.START not in answer


def test_whyops_serve_simulate_end_to_end(proxy_with):
    """The server as shipped with --simulate: an unnamed client, a streamed helper, usage."""
    served = proxy_with(simulate=True)
    api = openai.OpenAI(base_url=served.base_url + "/v1", api_key=PROXY_KEY, max_retries=0)
    with api.chat.completions.stream(model="gpt-4o", messages=HELLO) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_completion()
    assert "content.delta" not in kinds[kinds.index("content.done") :]
    assert final.usage is None  # not asked for, not shown
    trace = signature.decode(final.choices[0].message.content)
    assert trace
    _, response = served.events(trace, 2)
    assert ("default", "default") == (
        response["agentName"],
        response["metadata"]["agentNameSource"],
    )
    assert response["metadata"]["usage"]["totalTokens"] > 0
