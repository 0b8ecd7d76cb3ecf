"""Responses API parsed by the real openai SDK, strict validation on."""

from __future__ import annotations

import json

import httpx2
import pytest

from .test_sim_openai_chat import Ticket
from .tools import openai_responses_tools

ASK = "Where is my order #1234?"
EXPECTED_ORDER = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.reasoning_summary_part.added",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.done",
    "response.reasoning_summary_part.done",
    "response.output_item.done",
    "response.output_item.added",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.output_item.done",
    "response.completed",
]


def _collapse(kinds):
    """Runs of the same delta event count once."""
    out = []
    for kind in kinds:
        if not (out and out[-1] == kind and kind.endswith(".delta")):
            out.append(kind)
    return out


def test_text_answer(oai):
    response = oai.responses.create(model="gpt-4o", input="hello", instructions="Be brief.")
    assert response.object == "response" and response.status == "completed"
    assert response.id.startswith("resp_")
    assert response.output_text == "Hello! How can I help you today?"
    [message] = response.output
    assert message.type == "message" and message.content[0].type == "output_text"
    usage = response.usage
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.input_tokens_details.cache_write_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0


def test_reasoning_summary_and_function_call(oai):
    response = oai.responses.create(model="o4-mini", input=ASK, tools=openai_responses_tools())
    reasoning, call = response.output
    assert reasoning.type == "reasoning" and "get_order" in reasoning.summary[0].text
    assert call.type == "function_call" and call.name == "get_order"
    assert json.loads(call.arguments) == {"order_id": "1234"}
    assert call.call_id.startswith("call_") and call.id.startswith("fc_")
    assert response.usage.output_tokens_details.reasoning_tokens > 0
    assert response.tools[0].name == "get_order"


def test_stream_event_order_and_final_response(oai):
    kwargs = dict(model="o4-mini", input=ASK, tools=openai_responses_tools())
    whole = oai.responses.create(**kwargs)
    with oai.responses.stream(**kwargs) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert _collapse([event.type for event in events]) == EXPECTED_ORDER
    assert [event.sequence_number for event in events] == list(range(len(events)))
    dumped = [item.model_dump(exclude={"parsed_arguments"}) for item in final.output]
    assert dumped == [item.model_dump() for item in whole.output]
    assert final.usage == whole.usage


def test_stream_text_deltas(oai):
    events = list(oai.responses.create(model="gpt-4o", input="sim:words=30", stream=True))
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    done = next(e for e in events if e.type == "response.output_text.done")
    assert len(deltas) >= 10
    assert "".join(d.delta for d in deltas) == done.text
    assert events[-1].response.output_text == done.text


def test_multi_turn_function_call_output(oai):
    tools = openai_responses_tools()
    first = oai.responses.create(model="gpt-4o", input=ASK, tools=tools)
    call = first.output[0]
    follow = oai.responses.create(
        model="gpt-4o",
        tools=tools,
        input=[
            {"role": "user", "content": ASK},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": json.dumps({"status": "shipped", "carrier": "DHL"}),
            },
        ],
    )
    assert "status shipped" in follow.output_text and "carrier DHL" in follow.output_text
    assert follow.usage.input_tokens_details.cached_tokens == 0  # short prefix: nothing cached


def test_cache_write_then_read(oai):
    instructions = "You are a support agent for a shop. " * 40
    first = oai.responses.create(model="gpt-4o", input="hi", instructions=instructions)
    later = oai.responses.create(
        model="gpt-4o",
        instructions=instructions,
        input=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "thanks"},
        ],
    )
    written = first.usage.input_tokens_details.cache_write_tokens
    assert written > 0 and first.usage.input_tokens_details.cached_tokens == 0
    assert later.usage.input_tokens_details.cached_tokens == written


def test_max_output_tokens_gives_incomplete(oai):
    response = oai.responses.create(model="gpt-4o", input="sim:words=100", max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"


def test_same_request_same_bytes(simulator):
    url = f"{simulator.openai_base_url}/responses"
    body = {"model": "o3", "input": ASK, "tools": openai_responses_tools(), "stream": True}
    first = httpx2.post(url, json=body, headers={"authorization": "Bearer a"})
    second = httpx2.post(url, json=body, headers={"authorization": "Bearer b"})
    assert first.status_code == 200 and first.content == second.content
    assert all(frame.startswith("event: ") for frame in first.text.split("\n\n") if frame)


@pytest.mark.asyncio
async def test_async_stream(aoai):
    async with aoai.responses.stream(model="gpt-4o", input="sim:echo fine") as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_response()
    assert kinds[-1] == "response.completed"
    assert final.output_text == "fine"


def test_structured_output_with_text_format(oai):
    response = oai.responses.parse(
        model="gpt-4o", input="order #77 to Berlin, low priority", text_format=Ticket
    )
    assert response.output_parsed.order_id == "77"
    assert response.output_parsed.priority == "low"
    assert response.text.format.type == "json_schema" and response.text.format.name == "Ticket"


def test_truncated_stream_ends_with_response_incomplete(oai):
    with oai.responses.stream(
        model="gpt-4o", input="sim:words=100", max_output_tokens=16
    ) as stream:
        events = list(stream)
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"
