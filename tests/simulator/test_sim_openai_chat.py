"""Chat completions parsed by the real openai SDK, strict validation on."""

from __future__ import annotations

import json
from typing import Literal

import httpx2
import pydantic
import pytest

from .tools import openai_chat_tools

ASK_ORDER = [{"role": "user", "content": "Where is my order #1234?"}]


def test_text_answer_parses_strictly(oai):
    completion = oai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello!"}]
    )
    choice = completion.choices[0]
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert choice.message.content == "Hello! How can I help you today?"
    assert choice.finish_reason == "stop"
    usage = completion.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details.reasoning_tokens == 0


def test_tool_call_fits_schema(oai):
    completion = oai.chat.completions.create(
        model="gpt-4o", messages=ASK_ORDER, tools=openai_chat_tools()
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls
    assert call.type == "function"
    assert call.id.startswith("call_")
    assert call.function.name == "get_order"
    assert json.loads(call.function.arguments) == {"order_id": "1234"}


def test_stream_text_joins_to_the_whole_answer(oai):
    whole = oai.chat.completions.create(model="gpt-4o", messages=ASK_ORDER)
    stream = oai.chat.completions.create(model="gpt-4o", messages=ASK_ORDER, stream=True)
    chunks = list(stream)
    assert len(chunks) > 3
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert {chunk.id for chunk in chunks} == {whole.id}
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(chunk.usage is None for chunk in chunks)


def test_stream_usage_chunk_only_when_asked(oai):
    whole = oai.chat.completions.create(model="gpt-4o", messages=ASK_ORDER)
    chunks = list(
        oai.chat.completions.create(
            model="gpt-4o",
            messages=ASK_ORDER,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].choices == []
    assert chunks[-1].usage == whole.usage
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_stream_helper_rebuilds_parallel_tool_calls(oai):
    messages = [{"role": "user", "content": "Has order #1234 shipped? Where is the package?"}]
    with oai.chat.completions.stream(
        model="gpt-4o", messages=messages, tools=openai_chat_tools()
    ) as stream:
        final = stream.get_final_completion()
    whole = oai.chat.completions.create(
        model="gpt-4o", messages=messages, tools=openai_chat_tools()
    )
    calls = final.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_order", "check_shipping"]
    assert [c.function.arguments for c in calls] == [
        c.function.arguments for c in whole.choices[0].message.tool_calls
    ]
    assert final.choices[0].finish_reason == "tool_calls"


def test_reasoning_model_reports_reasoning_tokens(oai):
    completion = oai.chat.completions.create(model="o4-mini", messages=ASK_ORDER)
    details = completion.usage.completion_tokens_details
    assert details.reasoning_tokens > 0
    assert completion.usage.completion_tokens > details.reasoning_tokens


def test_long_system_prompt_is_cached_on_later_turns(oai):
    system = {"role": "system", "content": "You are a careful support agent. " * 60}
    first = oai.chat.completions.create(model="gpt-4o", messages=[system, *ASK_ORDER])
    later = oai.chat.completions.create(
        model="gpt-4o",
        messages=[
            system,
            *ASK_ORDER,
            {"role": "assistant", "content": "Checking."},
            {"role": "user", "content": "Thanks"},
        ],
    )
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    cached = later.usage.prompt_tokens_details.cached_tokens
    assert cached > 0 and cached % 64 == 0
    assert cached < later.usage.prompt_tokens


def test_max_tokens_cuts_the_answer(oai):
    completion = oai.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "sim:words=200"}], max_tokens=10
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens <= 10


def test_tool_choice_none_and_forced(oai):
    tools = openai_chat_tools()
    none = oai.chat.completions.create(
        model="gpt-4o", messages=ASK_ORDER, tools=tools, tool_choice="none"
    )
    assert none.choices[0].message.tool_calls is None
    forced = oai.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "hi"}],
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "issue_refund"}},
    )
    [call] = forced.choices[0].message.tool_calls
    assert call.function.name == "issue_refund"
    assert set(json.loads(call.function.arguments)) >= {"order_id", "amount"}


def test_same_request_same_bytes(simulator):
    body = {"model": "gpt-4o", "messages": ASK_ORDER, "tools": openai_chat_tools()}
    headers = {"authorization": "Bearer k"}
    url = f"{simulator.openai_base_url}/chat/completions"
    first = httpx2.post(url, json=body, headers=headers)
    second = httpx2.post(url, json=body, headers=headers)
    assert first.status_code == 200
    assert first.content == second.content
    other = httpx2.post(
        url, json={**body, "messages": [{"role": "user", "content": "x"}]}, headers=headers
    )
    assert other.json()["id"] != first.json()["id"]


@pytest.mark.asyncio
async def test_async_client_stream(aoai):
    stream = await aoai.chat.completions.create(model="gpt-4o", messages=ASK_ORDER, stream=True)
    pieces = [chunk.choices[0].delta.content async for chunk in stream if chunk.choices]
    assert "".join(p or "" for p in pieces).startswith("I don't have access")


class Address(pydantic.BaseModel):
    city: str
    zip: int | None


class Ticket(pydantic.BaseModel):
    order_id: str
    priority: Literal["low", "urgent"]
    address: Address
    tags: list[str]


def test_structured_output_parses_into_the_model(oai):
    completion = oai.chat.completions.parse(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Urgent: order #77 never reached me in Berlin"}],
        response_format=Ticket,
    )
    ticket = completion.choices[0].message.parsed
    assert ticket.order_id == "77" and ticket.priority == "urgent"
    assert ticket.address.city == "Berlin"


def test_json_mode_answers_a_json_object(oai):
    completion = oai.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "hi"}],
        response_format={"type": "json_object"},
    )
    assert json.loads(completion.choices[0].message.content) == {
        "answer": "Hello! How can I help you today?"
    }
