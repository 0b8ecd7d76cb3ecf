"""Anthropic messages parsed by the real anthropic SDK, strict validation on."""

from __future__ import annotations

import httpx2
import pytest

from .tools import anthropic_tools

MODEL = "claude-sonnet-4-6"
ASK_REFUND = [{"role": "user", "content": "Please refund order #1234, it arrived broken."}]
THINKING = {"type": "enabled", "budget_tokens": 1024}


def test_text_answer(claude):
    message = claude.messages.create(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "hello"}]
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_")
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "Hello! How can I help you today?"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert message.usage.cache_read_input_tokens == 0


def test_thinking_then_tool_use(claude):
    message = claude.messages.create(
        model=MODEL,
        max_tokens=2048,
        thinking=THINKING,
        messages=ASK_REFUND,
        tools=anthropic_tools(),
    )
    thinking, tool_use = message.content
    assert thinking.type == "thinking" and "get_order" in thinking.thinking
    assert thinking.signature
    assert tool_use.type == "tool_use" and tool_use.id.startswith("toolu_")
    assert tool_use.name == "get_order"  # look the order up before refunding it
    assert tool_use.input == {"order_id": "1234"}
    assert message.stop_reason == "tool_use"


def test_no_thinking_unless_enabled(claude):
    message = claude.messages.create(
        model=MODEL, max_tokens=256, messages=ASK_REFUND, tools=anthropic_tools()
    )
    assert [block.type for block in message.content] == ["tool_use"]


def test_stream_helper_final_message_equals_whole_answer(claude):
    kwargs = dict(
        model=MODEL,
        max_tokens=2048,
        thinking=THINKING,
        messages=ASK_REFUND,
        tools=anthropic_tools(),
    )
    whole = claude.messages.create(**kwargs)
    with claude.messages.stream(**kwargs) as stream:
        final = stream.get_final_message()
    assert final.model_dump() == whole.model_dump()


def test_raw_stream_events_in_order(claude):
    events = list(
        claude.messages.create(
            model=MODEL,
            max_tokens=2048,
            thinking=THINKING,
            stream=True,
            messages=[{"role": "user", "content": "What can you do? sim:redacted-thinking"}],
        )
    )
    kinds = [event.type for event in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    starts = [e.content_block.type for e in events if e.type == "content_block_start"]
    assert starts == ["thinking", "redacted_thinking", "text"]
    deltas = {e.delta.type for e in events if e.type == "content_block_delta"}
    assert deltas == {"thinking_delta", "signature_delta", "text_delta"}
    assert events[0].message.usage.output_tokens == 1
    assert events[-2].usage.output_tokens > 1


def test_stream_has_event_lines_and_ping(simulator):
    body = {
        "model": MODEL,
        "max_tokens": 64,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    response = httpx2.post(
        f"{simulator.anthropic_base_url}/v1/messages", json=body, headers={"x-api-key": "k"}
    )
    frames = [frame for frame in response.text.split("\n\n") if frame]
    assert all(frame.startswith("event: ") for frame in frames)
    assert 'event: ping\ndata: {"type":"ping"}' in frames
    assert response.headers["content-type"].startswith("text/event-stream")


def test_cache_control_creates_then_reads(claude):
    system = [
        {
            "type": "text",
            "text": "Support policy. " * 200,
            "cache_control": {"type": "ephemeral", "ttl": "1h"},
        }
    ]
    first = claude.messages.create(model=MODEL, max_tokens=256, system=system, messages=ASK_REFUND)
    later = claude.messages.create(
        model=MODEL,
        max_tokens=256,
        system=system,
        messages=[
            *ASK_REFUND,
            {"role": "assistant", "content": "Sure."},
            {"role": "user", "content": "Thanks"},
        ],
    )
    created = first.usage.cache_creation_input_tokens
    assert created > 0 and first.usage.cache_read_input_tokens == 0
    assert first.usage.cache_creation.ephemeral_1h_input_tokens == created
    assert later.usage.cache_read_input_tokens == created
    assert later.usage.cache_creation_input_tokens == 0
    assert later.usage.input_tokens > first.usage.input_tokens


def test_stream_usage_matches_whole_answer(claude):
    system = [{"type": "text", "text": "Policy " * 100, "cache_control": {"type": "ephemeral"}}]
    kwargs = dict(model=MODEL, max_tokens=256, system=system, messages=ASK_REFUND)
    whole = claude.messages.create(**kwargs)
    with claude.messages.stream(**kwargs) as stream:
        final = stream.get_final_message()
    assert final.usage.cache_creation_input_tokens == whole.usage.cache_creation_input_tokens > 0
    assert final.usage.output_tokens == whole.usage.output_tokens
    assert final.usage.input_tokens == whole.usage.input_tokens


def test_stop_sequence_and_max_tokens(claude):
    stopped = claude.messages.create(
        model=MODEL,
        max_tokens=256,
        stop_sequences=["help"],
        messages=[{"role": "user", "content": "hello"}],
    )
    assert stopped.stop_reason == "stop_sequence" and stopped.stop_sequence == "help"
    assert stopped.content[0].text == "Hello! How can I "
    cut = claude.messages.create(
        model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "sim:words=100"}]
    )
    assert cut.stop_reason == "max_tokens"
    assert cut.usage.output_tokens <= 5


def test_bearer_and_x_api_key_both_accepted(simulator):
    body = {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    url = f"{simulator.anthropic_base_url}/v1/messages"
    for headers in ({"x-api-key": "k"}, {"authorization": "Bearer k"}):
        assert httpx2.post(url, json=body, headers=headers).status_code == 200


@pytest.mark.asyncio
async def test_async_stream_text(aclaude):
    async with aclaude.messages.stream(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "sim:echo exactly this"}]
    ) as stream:
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(pieces) == "exactly this" == final.content[0].text


def test_count_tokens_matches_create(claude):
    kwargs = dict(model=MODEL, messages=ASK_REFUND, tools=anthropic_tools())
    counted = claude.messages.count_tokens(**kwargs)
    created = claude.messages.create(max_tokens=256, **kwargs)
    assert counted.input_tokens == created.usage.input_tokens > 0
