"""The real OpenAI SDK through the proxy to the simulator; the events that land."""

from __future__ import annotations

import json

import httpx2
import openai
import pytest

from whyops.server.proxy import signature

from .conftest import OPENAI_SECRET, PROXY_KEY, headers_for, new_trace

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_order_status",
            "description": "Look up an order",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    }
]


def client(proxy, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=proxy.base_url + "/v1",
        api_key=PROXY_KEY,
        max_retries=0,
        default_headers=headers_for(**headers),
    )


def aclient(proxy, **headers: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=proxy.base_url + "/v1",
        api_key=PROXY_KEY,
        max_retries=0,
        default_headers=headers_for(**headers),
    )


def test_chat_whole_answer_events_field_by_field(proxy, upstream):
    trace = new_trace()
    raw = client(proxy).chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        temperature=0.2,
        extra_headers={"X-Trace-ID": trace, "X-External-User-Id": "user-7"},
    )
    answer = raw.parse()
    assert trace == raw.headers["x-trace-id"] == raw.headers["x-thread-id"]
    assert signature.decode(answer.choices[0].message.content) is None  # header given: no signature
    request, response = proxy.events(trace, 2)
    span = raw.headers["x-span-id"]
    assert {
        "eventType": "user_message",
        "traceId": trace,
        "agentName": "proxy-test-agent",
        "spanId": span,
        "spanKind": "llm",
        "spanName": "openai.chat.completions",
        "externalUserId": "user-7",
        "content": {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "hi"},
            ]
        },
        "metadata": {
            "model": "gpt-4o",
            "provider": "openai",
            "systemPrompt": "Be brief.",
            "params": {"temperature": 0.2},
            "stream": False,
            "messageCount": 2,
        },
    } == {k: v for k, v in request.items() if k != "timestamp"}
    usage = answer.usage
    assert "llm_response" == response["eventType"]
    assert span == response["spanId"]
    assert {"content": answer.choices[0].message.content, "finishReason": "stop"} == response[
        "content"
    ]
    meta = response["metadata"]
    assert {
        "promptTokens": usage.prompt_tokens,
        "completionTokens": usage.completion_tokens,
        "totalTokens": usage.total_tokens,
    } == meta["usage"]
    assert ("gpt-4o", "openai", "ok", answer.id) == (
        meta["model"],
        meta["provider"],
        meta["status"],
        meta["responseId"],
    )
    assert isinstance(meta["latencyMs"], int)
    assert response["timestamp"] >= request["timestamp"]
    sent = upstream.last("/chat/completions")["headers"]
    assert f"Bearer {OPENAI_SECRET}" == sent["authorization"]
    assert not {"x-agent-name", "x-trace-id", "x-external-user-id"} & set(sent)


def test_chat_stream_tool_calls_and_usage(proxy):
    trace = new_trace()
    stream = client(proxy, **{"X-Trace-ID": trace}).chat.completions.create(
        model="gpt-4o",
        stream=True,
        stream_options={"include_usage": True},
        tools=TOOLS,
        messages=[{"role": "user", "content": "Where is my order A123?"}],
    )
    calls: dict[int, dict] = {}
    usage = None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or ():
                slot = calls.setdefault(call.index, {"id": None, "name": "", "args": ""})
                slot["id"] = call.id or slot["id"]
                slot["name"] += call.function.name or ""
                slot["args"] += call.function.arguments or ""
    assert calls, "the simulator should call the order tool"
    request, response = proxy.events(trace, 2)
    assert [{"name": "get_order_status", "description": "Look up an order"}] == [
        {"name": t["function"]["name"], "description": t["function"]["description"]}
        for t in request["metadata"]["tools"]
    ]
    assert [
        {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["args"]}}
        for _, c in sorted(calls.items())
    ] == response["content"]["toolCalls"]
    assert "tool_calls" == response["content"]["finishReason"]
    assert usage.total_tokens == response["metadata"]["usage"]["totalTokens"]
    assert response["metadata"]["stream"] is True
    assert isinstance(response["metadata"]["timeToFirstChunkMs"], int)


def test_tool_result_turn_records_only_the_new_messages(proxy):
    trace = new_trace()
    messages = [
        {"role": "user", "content": "Where is my order A123?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_order_status", "arguments": '{"order_id":"A123"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"status":"shipped"}'},
    ]
    client(proxy, **{"X-Trace-ID": trace}).chat.completions.create(
        model="gpt-4o", messages=messages, tools=TOOLS
    )
    request, _ = proxy.events(trace, 2)
    assert "tool_result" == request["eventType"]
    assert {"messages": messages[2:]} == request["content"]
    assert 3 == request["metadata"]["messageCount"]


async def test_async_chat_stream_signature_carries_the_trace(proxy, upstream):
    """No header: a new thread id, signed into the answer and read back next turn."""
    api = aclient(proxy)
    first = await api.chat.completions.with_raw_response.create(
        model="gpt-4o", stream=True, messages=[{"role": "user", "content": "hello"}]
    )
    trace = first.headers["x-trace-id"]
    assert trace.startswith("thread_") and 23 == len(trace)
    text = "".join([c.choices[0].delta.content or "" async for c in first.parse() if c.choices])
    assert trace == signature.decode(text)
    second = await api.chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=[
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": text},
            {"role": "user", "content": "and again"},
        ],
    )
    assert trace == second.headers["x-trace-id"]
    forwarded = upstream.requests[-1]
    assert forwarded["path"].endswith("/chat/completions")
    events = proxy.events(trace, 4)
    assert ["user_message", "llm_response", "user_message", "llm_response"] == [
        e["eventType"] for e in events
    ]
    assert signature.strip(text) == events[1]["content"]["content"]
    assert [{"role": "user", "content": "and again"}] == events[2]["content"]["messages"]
    assert signature.decode(json.dumps(events)) is None


def test_signature_stripped_before_upstream(proxy, upstream):
    answer = client(proxy).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    signed = answer.choices[0].message.content
    trace = signature.decode(signed)
    assert trace
    raw = client(proxy).chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": signed},
            {"role": "user", "content": "more"},
        ],
    )
    assert trace == raw.headers["x-trace-id"]
    forwarded = json.loads(upstream.last("/chat/completions")["body"])
    assert signature.strip(signed) == forwarded["messages"][1]["content"]
    assert signature.START not in forwarded["messages"][1]["content"]


def test_parent_span_and_thread_headers(proxy):
    trace, thread = new_trace(), new_trace()
    raw = client(proxy).chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={
            "X-Trace-ID": trace,
            "X-Thread-ID": thread,
            "X-Parent-Span-ID": "abcdef0123456789",
        },
    )
    assert (trace, thread) == (raw.headers["x-trace-id"], raw.headers["x-thread-id"])
    for event in proxy.events(trace, 2):
        assert ("abcdef0123456789", thread) == (event["parentSpanId"], event["threadId"])


def test_thread_header_alone_is_the_trace(proxy):
    thread = new_trace()
    raw = client(proxy, **{"X-Thread-ID": thread}).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    assert thread == raw.headers["x-trace-id"]
    assert all("threadId" not in e for e in proxy.events(thread, 2))


def test_responses_whole_answer_with_reasoning_as_thinking(proxy):
    api = client(proxy)
    raw = api.responses.with_raw_response.create(
        model="o3",
        input="What is 2+2?",
        instructions="Answer tersely.",
        reasoning={"effort": "low", "summary": "auto"},
    )
    answer = raw.parse()
    trace = raw.headers["x-trace-id"]
    assert trace == signature.decode(answer.output_text)
    events = proxy.events(trace, 3)
    assert ["user_message", "llm_thinking", "llm_response"] == [e["eventType"] for e in events]
    request, thinking, response = events
    assert {"messages": [{"role": "user", "content": "What is 2+2?"}]} == request["content"]
    assert "Answer tersely." == request["metadata"]["systemPrompt"]
    summary = next(item for item in answer.output if item.type == "reasoning").summary
    assert "\n\n".join(s.text for s in summary) == thinking["content"]["thinking"]
    assert signature.strip(answer.output_text) == response["content"]["content"]
    assert "completed" == response["content"]["finishReason"]
    assert answer.usage.input_tokens == response["metadata"]["usage"]["promptTokens"]
    assert len({e["spanId"] for e in events}) == 1

    again = api.responses.with_raw_response.create(
        model="o3",
        input=[
            {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": answer.output_text},
            {"role": "user", "content": "And 3+3?"},
        ],
    )
    assert trace == again.headers["x-trace-id"]


async def test_responses_stream(proxy):
    trace = new_trace()
    api = aclient(proxy, **{"X-Trace-ID": trace})
    async with api.responses.stream(
        model="o3", input="Where is my order A123?", reasoning={"summary": "auto"}
    ) as stream:
        final = await stream.get_final_response()
    events = proxy.events(trace, 3)
    assert "llm_response" == events[-1]["eventType"]
    assert final.output_text == events[-1]["content"].get("content")
    assert final.usage.total_tokens == events[-1]["metadata"]["usage"]["totalTokens"]
    assert any(e["eventType"] == "llm_thinking" for e in events)


@pytest.mark.parametrize("encoding", ["float", None])
def test_embeddings(proxy, encoding):
    trace = new_trace()
    options = {"encoding_format": encoding} if encoding else {}
    answer = client(proxy, **{"X-Trace-ID": trace}).embeddings.create(
        model="text-embedding-3-small", input=["alpha", "beta"], **options
    )
    request, response = proxy.events(trace, 2)
    assert ("embedding_request", "embedding", "openai.embeddings") == (
        request["eventType"],
        request["spanKind"],
        request["spanName"],
    )
    assert {"input": ["alpha", "beta"]} == request["content"]
    assert {
        "object": "list",
        "embeddingCount": 2,
        "firstEmbeddingDimensions": len(answer.data[0].embedding),
        "encodingFormat": encoding or "base64",
    } == response["content"]
    assert answer.usage.total_tokens == response["metadata"]["usage"]["totalTokens"]


def test_models_need_no_agent_header(proxy):
    api = openai.OpenAI(base_url=proxy.base_url + "/v1", api_key=PROXY_KEY, max_retries=0)
    models = [m.id for m in api.models.list()]
    assert "gpt-4o" in models
    assert "gpt-4o" == api.models.retrieve("gpt-4o").id


async def test_previous_response_id_continues_the_trace(proxy):
    """Stateful Responses conversations send no history to sign; the answer id leads back."""
    api = aclient(proxy)
    streamed = await api.responses.with_raw_response.create(
        model="gpt-4o", input="Hello there", stream=True
    )
    trace = streamed.headers["x-trace-id"]
    kinds = [event async for event in streamed.parse()]
    first = next(e.response for e in kinds if e.type == "response.completed")
    raw = await api.responses.with_raw_response.create(
        model="gpt-4o", input="And now?", previous_response_id=first.id
    )
    assert trace == raw.headers["x-trace-id"]
    events = proxy.events(trace, 4)
    assert first.id == events[2]["metadata"]["previousResponseId"]
    other = await api.responses.with_raw_response.create(
        model="gpt-4o", input="Unrelated", previous_response_id="resp_unknown"
    )
    assert trace != other.headers["x-trace-id"]


def test_header_wins_over_the_signature(proxy):
    signed = "hello" + signature.encode("thread_from_signature00")
    trace = new_trace()
    raw = client(proxy).chat.completions.with_raw_response.create(
        model="gpt-4o",
        extra_headers={"X-Trace-ID": trace},
        messages=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": signed},
            {"role": "user", "content": "again"},
        ],
    )
    assert trace == raw.headers["x-trace-id"]
    assert 2 == len(proxy.events(trace, 2))
    assert [] == proxy.events("thread_from_signature00", timeout=0.2)


def test_tool_only_chat_turn_is_continued_through_its_tool_call_ids(proxy):
    api = client(proxy)
    ask = {"role": "user", "content": "Where is my order A123?"}
    raw = api.chat.completions.with_raw_response.create(model="gpt-4o", tools=TOOLS, messages=[ask])
    message = raw.parse().choices[0].message
    assert message.content is None and message.tool_calls
    call = message.tool_calls[0]
    second = api.chat.completions.with_raw_response.create(
        model="gpt-4o",
        tools=TOOLS,
        messages=[
            ask,
            message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": '{"status":"shipped"}'},
        ],
    )
    assert raw.headers["x-trace-id"] == second.headers["x-trace-id"]
    assert "tool_result" == proxy.events(raw.headers["x-trace-id"], 4)[2]["eventType"]


async def test_replayed_responses_stream_items_continue_the_trace(proxy):
    """A streamed Responses answer is not signed; replaying its output items finds the trace."""
    api = aclient(proxy)
    ask = {"role": "user", "content": "Hello there"}
    streamed = await api.responses.with_raw_response.create(
        model="gpt-4o", input=[ask], stream=True
    )
    trace = streamed.headers["x-trace-id"]
    events = [event async for event in streamed.parse()]
    final = next(e.response for e in events if e.type == "response.completed")
    replay = [ask, *(item.model_dump(exclude_none=True) for item in final.output)]
    again = await api.responses.with_raw_response.create(
        model="gpt-4o", input=[*replay, {"role": "user", "content": "more"}], store=False
    )
    assert trace == again.headers["x-trace-id"]


def test_client_configured_only_by_environment_gets_the_default_agent(proxy, monkeypatch):
    """OPENAI_BASE_URL and OPENAI_API_KEY, no X-Agent-Name: the call goes through, marked."""
    monkeypatch.setenv("OPENAI_BASE_URL", proxy.base_url + "/v1")
    monkeypatch.setenv("OPENAI_API_KEY", PROXY_KEY)
    raw = openai.OpenAI(max_retries=0).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    trace = raw.headers["x-trace-id"]
    events = proxy.events(trace, 2)
    assert [("default", "default")] * 2 == [
        (e["agentName"], e["metadata"]["agentNameSource"]) for e in events
    ]
    auth = {"Authorization": f"Bearer {PROXY_KEY}"}
    tree = httpx2.get(f"{proxy.base_url}/api/traces/{trace}/spans", headers=auth).json()
    (span,) = tree["spans"]
    assert ("default", "default") == (span["agentName"], span["agentNameSource"])


def test_named_calls_carry_no_agent_name_source(proxy):
    trace = new_trace()
    client(proxy, **{"X-Trace-ID": trace}).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    events = proxy.events(trace, 2)
    assert all(
        e["agentName"] == "proxy-test-agent" and "agentNameSource" not in e["metadata"]
        for e in events
    )


def test_the_default_agent_is_the_servers_setting(proxy_with):
    unnamed = proxy_with(default_agent="unnamed-bot")
    api = openai.OpenAI(base_url=unnamed.base_url + "/v1", api_key=PROXY_KEY, max_retries=0)
    stream = api.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    list(stream.parse())
    events = unnamed.events(stream.headers["x-trace-id"], 2)
    assert ["unnamed-bot"] * 2 == [e["agentName"] for e in events]


def test_agent_and_signature_settings_from_flags_and_environment(monkeypatch):
    import argparse

    from whyops.server.run import add_arguments, settings_from_args
    from whyops.server.settings import ServerSettings

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    defaults = settings_from_args(parser.parse_args([]))
    assert ("default", False, True) == (
        defaults.default_agent,
        defaults.require_agent_name,
        defaults.signature,
    )
    monkeypatch.setenv("WHYOPS_SERVER_DEFAULT_AGENT", "from-env")
    monkeypatch.setenv("WHYOPS_SERVER_NO_SIGNATURE", "1")
    monkeypatch.setenv("WHYOPS_SERVER_REQUIRE_AGENT_NAME", "true")
    from_env = settings_from_args(parser.parse_args([]))
    assert ("from-env", True, False) == (
        from_env.default_agent,
        from_env.require_agent_name,
        from_env.signature,
    )
    flags = parser.parse_args(["--default-agent", "bot", "--no-signature", "--require-agent-name"])
    monkeypatch.delenv("WHYOPS_SERVER_NO_SIGNATURE")
    assert ("bot", True, False) == (
        settings_from_args(flags).default_agent,
        settings_from_args(flags).require_agent_name,
        settings_from_args(flags).signature,
    )
    for bad in ("", "x" * 256):
        with pytest.raises(ValueError):
            ServerSettings(default_agent=bad)
