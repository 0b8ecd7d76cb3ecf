"""The anthropic SDK's own helpers on a patched client: the `messages.stream()` helper in a
tool loop, `messages.parse()` structured output, and the beta tool runner (which keeps the
conversation in a server-held thread), whole and streamed, sync and async."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pydantic
import pytest

import whyops

from .support import ASK, arun_as_agent, look_up_order, run_as_agent

MODEL = "claude-sonnet-4-5"
GET_ORDER = {
    "name": "get_order",
    "description": "Look up an order by its id.",
    "input_schema": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
    },
}
FINAL_TEXT = "From get order: order id 1234, status shipped, carrier ups."


class OrderStatus(pydantic.BaseModel):
    order_id: str
    status: str


@whyops.tool
def get_order(order_id: str) -> str:
    """Look up an order by its id."""
    return json.dumps(look_up_order(order_id))


@whyops.tool(name="get_order")
async def get_order_async(order_id: str) -> str:
    """Look up an order by its id."""
    return json.dumps(look_up_order(order_id))


runnable_get_order = anthropic.beta_tool(get_order)
async_get_order = anthropic.beta_async_tool(get_order_async, name="get_order")


def stream_loop(client: anthropic.Anthropic) -> tuple[str, str]:
    """A tool loop on `messages.stream()`: (the streamed text, the final message's text)."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": ASK}]
    for _ in range(4):
        with client.messages.stream(
            model=MODEL, max_tokens=1000, tools=[GET_ORDER], messages=messages
        ) as stream:
            streamed = "".join(stream.text_stream)
            final = stream.get_final_message()
        uses = [block for block in final.content if block.type == "tool_use"]
        if not uses:
            return streamed, final.content[-1].text
        messages.append({"role": "assistant", "content": final.content})
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": use.id,
                        "content": get_order(**use.input),
                    }
                    for use in uses
                ],
            }
        )
    raise AssertionError("the loop did not finish")


def test_stream_helper_tool_loop(sdk, recorded):
    client = sdk.anthropic(anthropic.Anthropic())
    run = run_as_agent("support", lambda: stream_loop(client))
    streamed, final = run.answer
    assert streamed == final and FINAL_TEXT in final
    recorded.check(run, count=2, tools=["get_order"], tool_spans=("get_order",))


def test_parse_structured_output(sdk, recorded):
    client = sdk.anthropic(anthropic.Anthropic())
    run = run_as_agent(
        "support",
        lambda: client.messages.parse(
            model=MODEL,
            max_tokens=1000,
            messages=[{"role": "user", "content": "Order 1234 has shipped. Its status?"}],
            output_format=OrderStatus,
        ),
    )
    assert run.answer.parsed_output.order_id == "1234"
    recorded.check(run, count=1, tools=[])


@pytest.mark.parametrize("stream", [False, True])
def test_tool_runner(stream, sdk, recorded):
    client = sdk.anthropic(anthropic.Anthropic())

    def work() -> list[Any]:
        runner = client.beta.messages.tool_runner(
            model=MODEL,
            max_tokens=1000,
            tools=[runnable_get_order],
            messages=[{"role": "user", "content": ASK}],
            stream=stream,
        )
        if stream:
            return [message_stream.get_final_message() for message_stream in runner]
        return list(runner)

    run = run_as_agent("support", work)
    final = run.answer[-1].content[-1].text
    assert FINAL_TEXT in final and "From tool" not in final
    recorded.check(run, count=2, tools=["get_order"], tool_spans=("get_order",))


async def test_async_tool_runner(sdk, recorded):
    client = sdk.anthropic(anthropic.AsyncAnthropic())

    async def work() -> str:
        runner = client.beta.messages.tool_runner(
            model=MODEL,
            max_tokens=1000,
            tools=[async_get_order],
            messages=[{"role": "user", "content": ASK}],
        )
        final = await runner.until_done()
        return final.content[-1].text

    run = await arun_as_agent("support", work)
    assert FINAL_TEXT in run.answer
    recorded.check(run, count=2, tools=["get_order"], tool_spans=("get_order",))
