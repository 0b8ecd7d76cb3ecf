"""langchain-openai's ChatOpenAI: a tool loop (whole and streamed), JSON mode and structured
output, through the proxy; the whyops httpx hook on its client carries the span."""

from __future__ import annotations

import httpx2
import pydantic
import pytest

import whyops
from whyops.integrations.httpx import instrument

from .support import ASK, AgentRun, look_up_order, require, run_as_agent

langchain_openai = require("langchain_openai")
messages = require("langchain_core.messages")
tools = require("langchain_core.tools")


class OrderStatus(pydantic.BaseModel):
    order_id: str
    status: str


@tools.tool
@whyops.tool
def get_order(order_id: str) -> dict[str, str]:
    """Look up an order by its id."""
    return look_up_order(order_id)


def chat_model(**kwargs: object) -> object:
    """ChatOpenAI configured by OPENAI_BASE_URL/OPENAI_API_KEY, with the trace hook and a name."""
    return langchain_openai.ChatOpenAI(
        model="gpt-4o-mini",
        http_client=instrument(httpx2.Client()),
        default_headers={"X-Agent-Name": "support-langchain"},
        **kwargs,
    )


def tool_loop(model: object, stream: bool) -> str:
    """The loop a LangChain user writes: call, run the tools asked for, call again."""
    bound = model.bind_tools([get_order])  # type: ignore[attr-defined]
    history: list[object] = [messages.HumanMessage(ASK)]
    for _ in range(4):
        if stream:
            reply = None
            for chunk in bound.stream(history):
                reply = chunk if reply is None else reply + chunk
        else:
            reply = bound.invoke(history)
        history.append(reply)
        if not reply.tool_calls:
            return str(reply.content)
        for call in reply.tool_calls:
            history.append(get_order.invoke(call))
    raise AssertionError("the loop did not finish")


@pytest.mark.parametrize("stream", [False, True])
def test_tool_loop(stream, recorded):
    model = chat_model()
    run = run_as_agent("support", lambda: tool_loop(model, stream))
    assert "From get order: order id 1234, status shipped" in run.answer
    calls = recorded.check(run, count=2, tools=["get_order"], tool_spans=("get_order",))
    assert {call.agent_name for call in calls} == {"support-langchain"}


@pytest.mark.parametrize("method", ["json_mode", "json_schema", "function_calling"])
def test_structured_output(method, recorded):
    structured = chat_model().with_structured_output(OrderStatus, method=method)
    prompt = (
        'Answer in JSON like {"order_id": "...", "status": "..."}. '
        "Order 1234 has shipped: what is its status?"
    )
    run: AgentRun = run_as_agent("support", lambda: structured.invoke(prompt))
    assert isinstance(run.answer, OrderStatus)
    assert run.answer.order_id == "1234"
    tools_called = ["OrderStatus"] if method == "function_calling" else []
    recorded.check(run, count=1, tools=tools_called)
