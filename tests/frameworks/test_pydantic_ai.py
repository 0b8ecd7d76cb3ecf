"""pydantic-ai: a structured output type plus a tool (tool_choice "required" until the
final_result tool), streamed and not, over chat completions and Responses;
prompted JSON output; and an agent configured only by OPENAI_BASE_URL/OPENAI_API_KEY."""

from __future__ import annotations

import uuid

import httpx2
import openai
import pydantic
import pytest

import whyops
from whyops.integrations.httpx import instrument

from .support import ASK, arun_as_agent, look_up_order, require, run_as_agent

pydantic_ai = require("pydantic_ai")
openai_models = require("pydantic_ai.models.openai")
openai_providers = require("pydantic_ai.providers.openai")


class OrderStatus(pydantic.BaseModel):
    order_id: str
    status: str


@whyops.tool
def get_order(order_id: str) -> dict[str, str]:
    """Look up an order by its id."""
    return look_up_order(order_id)


def model_for(api: str, sdk: whyops.WhyOps) -> object:
    provider = openai_providers.OpenAIProvider(openai_client=sdk.openai(openai.AsyncOpenAI()))
    if api == "responses":
        return openai_models.OpenAIResponsesModel("gpt-4o-mini", provider=provider)
    return openai_models.OpenAIChatModel("gpt-4o-mini", provider=provider)


def support_agent(model: object, output_type: object = OrderStatus) -> object:
    agent = pydantic_ai.Agent(model, output_type=output_type)
    agent.tool_plain(get_order)
    return agent


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_structured_output_with_a_tool(api, sdk, recorded):
    agent = support_agent(model_for(api, sdk))
    run = run_as_agent("support", lambda: agent.run_sync(ASK))
    assert run.answer.output == OrderStatus(order_id="1234", status="shipped")
    recorded.check(run, count=2, tools=["get_order", "final_result"], tool_spans=("get_order",))


@pytest.mark.parametrize("api", ["chat", "responses"])
async def test_streamed_structured_output_with_a_tool(api, sdk, recorded):
    agent = support_agent(model_for(api, sdk))

    async def work() -> object:
        async with agent.run_stream(ASK) as result:
            partial = [output async for output in result.stream_output()]
            assert partial
            return await result.get_output()

    run = await arun_as_agent("support", work)
    assert run.answer == OrderStatus(order_id="1234", status="shipped")
    recorded.check(run, count=2, tools=["get_order", "final_result"], tool_spans=("get_order",))


def test_prompted_json_output(sdk, recorded):
    agent = support_agent(model_for("chat", sdk), pydantic_ai.PromptedOutput(OrderStatus))
    run = run_as_agent("support", lambda: agent.run_sync(ASK))
    assert run.answer.output == OrderStatus(order_id="1234", status="shipped")
    recorded.check(run, count=2, tools=["get_order"], tool_spans=("get_order",))


def test_configured_only_by_the_environment(recorded):
    """`Agent("openai:...")` sends no X-Agent-Name: its calls land under the default agent;
    the whyops httpx hook on its client nests them under the caller's span."""
    http_client = instrument(httpx2.AsyncClient())
    hooked = openai_models.OpenAIChatModel(
        "gpt-4o-mini", provider=openai_providers.OpenAIProvider(http_client=http_client)
    )
    run = run_as_agent("support", lambda: support_agent(hooked).run_sync(ASK))
    assert run.answer.output.status == "shipped"
    calls = recorded.check(
        run, count=2, tools=["get_order", "final_result"], tool_spans=("get_order",)
    )
    assert {call.agent_name for call in calls} == {"default"}

    marker = f"order 1234 ({uuid.uuid4().hex})"
    bare = pydantic_ai.Agent("openai:gpt-4o-mini")
    assert marker in bare.run_sync(f"Please repeat: sim:echo {marker}").output
    [request] = recorded.find_user_message(marker)
    assert request["agentName"] == "default"
