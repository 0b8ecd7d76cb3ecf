"""The real Anthropic SDK through the proxy: thinking, tool use, cache usage, signatures."""

from __future__ import annotations

import json

import anthropic

from whyops.server.proxy import signature

from .conftest import ANTHROPIC_SECRET, PROXY_KEY, headers_for, new_trace

TOOLS = [
    {
        "name": "get_order_status",
        "description": "Look up an order",
        "input_schema": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        },
    }
]
THINKING = {"type": "enabled", "budget_tokens": 1024}


def client(proxy, **headers: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=proxy.base_url,
        api_key=PROXY_KEY,
        max_retries=0,
        default_headers=headers_for(**headers),
    )


def aclient(proxy, **headers: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=proxy.base_url,
        api_key=PROXY_KEY,
        max_retries=0,
        default_headers=headers_for(**headers),
    )


def expected_usage(usage) -> dict:
    counts = {
        "promptTokens": usage.input_tokens,
        "completionTokens": usage.output_tokens,
        "totalTokens": usage.input_tokens
        + usage.output_tokens
        + (usage.cache_creation_input_tokens or 0)
        + (usage.cache_read_input_tokens or 0),
        "cacheCreationTokens": usage.cache_creation_input_tokens or None,
        "cacheReadTokens": usage.cache_read_input_tokens or None,
    }
    return {k: v for k, v in counts.items() if v is not None}


def test_whole_answer_with_thinking_and_tool_use(proxy, upstream):
    trace = new_trace()
    raw = client(proxy, **{"X-Trace-ID": trace}).messages.with_raw_response.create(
        model="claude-haiku-4-5",
        max_tokens=2048,
        thinking=THINKING,
        tools=TOOLS,
        system="You are a support agent.",
        messages=[{"role": "user", "content": "Where is my order A123?"}],
        extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"},
    )
    message = raw.parse()
    assert trace == raw.headers["x-trace-id"]
    events = proxy.events(trace, 3)
    kinds = [e["eventType"] for e in events]
    assert ["user_message", "llm_thinking", "llm_response"] == kinds
    request, thinking, response = events
    assert {"spanName": "anthropic.messages", "spanKind": "llm"} == {
        k: request[k] for k in ("spanName", "spanKind")
    }
    assert "You are a support agent." == request["metadata"]["systemPrompt"]
    assert {"maxTokens": 2048, "thinking": THINKING} == request["metadata"]["params"]
    block = next(b for b in message.content if b.type == "thinking")
    assert {"type": "thinking", "thinking": block.thinking, "signature": block.signature} == (
        thinking["content"]
    )
    tool = next(b for b in message.content if b.type == "tool_use")
    assert [
        {
            "id": tool.id,
            "type": "function",
            "function": {"name": "get_order_status", "arguments": json.dumps(tool.input)},
        }
    ] == (response["content"]["toolCalls"])
    assert "tool_use" == response["content"]["finishReason"]
    assert expected_usage(message.usage) == response["metadata"]["usage"]
    assert ("anthropic", message.model, message.id) == (
        response["metadata"]["provider"],
        response["metadata"]["model"],
        response["metadata"]["responseId"],
    )
    sent = upstream.last("/v1/messages")["headers"]
    assert ANTHROPIC_SECRET == sent["x-api-key"]
    assert "interleaved-thinking-2025-05-14" == sent["anthropic-beta"]
    assert "anthropic-version" in sent
    assert "authorization" not in sent  # the client's WhyOps key stays here


def test_stream_with_thinking_signature_and_read_back(proxy, upstream):
    api = client(proxy)
    question = {"role": "user", "content": "hello"}
    with api.messages.stream(
        model="claude-haiku-4-5", max_tokens=2048, thinking=THINKING, messages=[question]
    ) as stream:
        final = stream.get_final_message()
        trace = stream.response.headers["x-trace-id"]
    assert trace.startswith("thread_")
    text = next(b for b in final.content if b.type == "text").text
    assert trace == signature.decode(text)
    events = proxy.events(trace, 3)
    assert ["user_message", "llm_thinking", "llm_response"] == [e["eventType"] for e in events]
    assert signature.strip(text) == events[2]["content"]["content"]
    assert expected_usage(final.usage) == events[2]["metadata"]["usage"]
    assert events[2]["metadata"]["stream"] is True

    history = [
        question,
        {"role": "assistant", "content": final.content},
        {"role": "user", "content": "thanks"},
    ]
    raw = api.messages.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=2048, thinking=THINKING, messages=history
    )
    assert trace == raw.headers["x-trace-id"]
    forwarded = json.loads(upstream.last("/v1/messages")["body"])
    assert signature.START not in json.dumps(forwarded, ensure_ascii=False)
    later = proxy.events(trace, 6)
    assert [{"role": "user", "content": "thanks"}] == later[3]["content"]["messages"]


async def test_async_stream_tool_use_then_tool_result(proxy):
    trace = new_trace()
    api = aclient(proxy, **{"X-Trace-ID": trace})
    ask = {"role": "user", "content": "Where is my order A123?"}
    async with api.messages.stream(
        model="claude-haiku-4-5", max_tokens=1024, tools=TOOLS, messages=[ask]
    ) as stream:
        first = await stream.get_final_message()
    tool = next(b for b in first.content if b.type == "tool_use")
    result = {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": tool.id, "content": '{"status": "shipped"}'}
        ],
    }
    second = await api.messages.create(
        model="claude-haiku-4-5",
        max_tokens=1024,
        tools=TOOLS,
        messages=[ask, {"role": "assistant", "content": first.content}, result],
    )
    events = proxy.events(trace, 4)
    assert ["user_message", "llm_response", "tool_result", "llm_response"] == [
        e["eventType"] for e in events
    ]
    assert tool.input == json.loads(events[1]["content"]["toolCalls"][0]["function"]["arguments"])
    assert [result] == events[2]["content"]["messages"]
    assert (
        "".join(b.text for b in second.content if b.type == "text")
        == (events[3]["content"]["content"])
    )
    assert len({events[0]["spanId"], events[2]["spanId"]}) == 2


def test_redacted_thinking(proxy):
    trace = new_trace()
    message = client(proxy, **{"X-Trace-ID": trace}).messages.create(
        model="claude-haiku-4-5",
        max_tokens=2048,
        thinking=THINKING,
        messages=[{"role": "user", "content": "sim:redacted-thinking please"}],
    )
    redacted = next(b for b in message.content if b.type == "redacted_thinking")
    thinking = [e for e in proxy.events(trace, 4) if e["eventType"] == "llm_thinking"]
    assert {"type": "redacted_thinking", "data": redacted.data} in [e["content"] for e in thinking]


def test_models_route_goes_to_anthropic(proxy, upstream):
    api = anthropic.Anthropic(base_url=proxy.base_url, api_key=PROXY_KEY, max_retries=0)
    ids = [m.id for m in api.models.list()]
    assert "sim-claude" in ids
    assert ANTHROPIC_SECRET == upstream.last("/v1/models")["headers"]["x-api-key"]


def test_legacy_x_api_key_auth(proxy):
    """anthropic 0.x sends the key as x-api-key."""
    import httpx2

    trace = new_trace()
    answer = httpx2.post(
        proxy.base_url + "/v1/messages",
        headers={"x-api-key": PROXY_KEY, "anthropic-version": "2023-06-01", **headers_for(trace)},
        json={
            "model": "claude-haiku-4-5",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert 200 == answer.status_code
    assert 2 == len(proxy.events(trace, 2))


def test_proxied_call_nests_under_the_callers_span(proxy):
    """An SDK span posts its events; the proxied call made inside it becomes its child."""
    import httpx2

    trace, parent = new_trace(), "a1b2c3d4e5f60718"
    agent_events = [
        {
            "eventType": "tool_call_request",
            "traceId": trace,
            "agentName": "proxy-test-agent",
            "spanId": parent,
            "spanKind": "agent",
            "spanName": "support_turn",
            "content": {"toolCalls": [{"name": "support_turn", "arguments": {}}]},
            "metadata": {"tool": "support_turn"},
        },
    ]
    auth = {"Authorization": f"Bearer {PROXY_KEY}"}
    posted = httpx2.post(proxy.base_url + "/api/events/ingest", json=agent_events, headers=auth)
    assert posted.status_code in (201, 202)
    with client(proxy, **{"X-Trace-ID": trace, "X-Parent-Span-ID": parent}).messages.stream(
        model="claude-haiku-4-5",
        max_tokens=2048,
        thinking=THINKING,
        messages=[{"role": "user", "content": "hello"}],
    ) as stream:
        final = stream.get_final_message()
    proxy.events(trace, 4)
    tree = httpx2.get(f"{proxy.base_url}/api/traces/{trace}/spans", headers=auth).json()
    spans = {span["id"]: span for span in tree["spans"]}
    (llm,) = [span for span in spans.values() if span["kind"] == "llm"]
    assert [parent] == tree["rootIds"]
    assert (parent, [llm["id"]]) == (llm["parentSpanId"], spans[parent]["children"])
    assert ("anthropic.messages", "anthropic", final.model) == (
        llm["name"],
        llm["provider"],
        llm["model"],
    )
    assert [b.thinking for b in final.content if b.type == "thinking"] == [
        t["text"] for t in llm["thinking"]
    ]


def test_tool_only_turn_is_continued_through_its_tool_call_ids(proxy):
    """A tool-use answer has no text to sign; the tool_result that answers it finds the trace."""
    api = client(proxy)
    ask = {"role": "user", "content": "Where is my order A123?"}
    raw = api.messages.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=1024, tools=TOOLS, messages=[ask]
    )
    first = raw.parse()
    trace = raw.headers["x-trace-id"]
    tool = next(b for b in first.content if b.type == "tool_use")
    assert all(signature.decode(b.text or "") is None for b in first.content if b.type == "text")
    result = {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": tool.id, "content": '{"status": "shipped"}'}
        ],
    }
    second = api.messages.with_raw_response.create(
        model="claude-haiku-4-5",
        max_tokens=1024,
        tools=TOOLS,
        messages=[ask, {"role": "assistant", "content": [tool]}, result],
    )
    assert trace == second.headers["x-trace-id"]
