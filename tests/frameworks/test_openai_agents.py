"""openai-agents over Responses and chat completions, whole and streamed, with a tool and a
structured output type, through the proxy with a patched client."""

from __future__ import annotations

import openai
import pydantic
import pytest

import whyops

from .support import ASK, arun_as_agent, look_up_order, require, run_as_agent

agents = require("agents")


class OrderStatus(pydantic.BaseModel):
    order_id: str
    status: str


@agents.function_tool
@whyops.tool
def get_order(order_id: str) -> dict[str, str]:
    """Look up an order by its id."""
    return look_up_order(order_id)


def model_for(api: str, sdk: whyops.WhyOps) -> object:
    client = sdk.openai(openai.AsyncOpenAI())
    if api == "responses":
        return agents.OpenAIResponsesModel(model="gpt-4o-mini", openai_client=client)
    return agents.OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client)


def support_agent(api: str, sdk: whyops.WhyOps, **kwargs: object) -> object:
    return agents.Agent(
        name="support",
        instructions="You help customers with their orders.",
        tools=[get_order],
        model=model_for(api, sdk),
        **kwargs,
    )


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_tool_loop(api, sdk, recorded):
    agent = support_agent(api, sdk)
    run = run_as_agent("support", lambda: agents.Runner.run_sync(agent, ASK))
    assert "From get order: order id 1234, status shipped" in run.answer.final_output
    recorded.check(run, count=2, tools=["get_order"], tool_spans=("get_order",))


@pytest.mark.parametrize("api", ["responses", "chat"])
async def test_streamed_structured_output(api, sdk, recorded):
    agent = support_agent(api, sdk, output_type=OrderStatus)

    async def work() -> object:
        result = agents.Runner.run_streamed(agent, ASK)
        kinds = {event.type async for event in result.stream_events()}
        assert "raw_response_event" in kinds
        return result.final_output

    run = await arun_as_agent("support", work)
    assert run.answer == OrderStatus(order_id="1234", status="shipped")
    recorded.check(run, count=2, tools=["get_order"], tool_spans=("get_order",))
