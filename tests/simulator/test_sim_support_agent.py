"""A small tool-using support agent, driven through several turns by the simulator."""

from __future__ import annotations

import json

import pytest

from .tools import anthropic_tools, openai_chat_tools, openai_responses_tools, run_tool

REFUND = "Hi, order #1234 arrived broken. I want a refund please."
TRACK = "Also, can you track the package for order #1234?"
MAX_STEPS = 6


def chat_agent(client, messages, model="gpt-4o", stream=False):
    """Returns the tool names called, in order, and the final text."""
    called = []
    for _ in range(MAX_STEPS):
        if stream:
            with client.chat.completions.stream(
                model=model, messages=messages, tools=openai_chat_tools()
            ) as events:
                message = events.get_final_completion().choices[0].message
        else:
            message = (
                client.chat.completions.create(
                    model=model, messages=messages, tools=openai_chat_tools()
                )
                .choices[0]
                .message
            )
        messages.append(message.model_dump(exclude_none=True, exclude={"parsed"}))
        if not message.tool_calls:
            return called, message.content
        for call in message.tool_calls:
            called.append(call.function.name)
            result = run_tool(call.function.name, json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    raise AssertionError("the agent never answered")


def claude_agent(client, messages, thinking=None, stream=False):
    called = []
    extra = {"thinking": thinking} if thinking else {}
    for _ in range(MAX_STEPS):
        kwargs = dict(
            model="claude-sonnet-4-6",
            max_tokens=4096,
            messages=messages,
            tools=anthropic_tools(),
            **extra,
        )
        if stream:
            with client.messages.stream(**kwargs) as events:
                reply = events.get_final_message()
        else:
            reply = client.messages.create(**kwargs)
        messages.append(
            {
                "role": "assistant",
                "content": [b.model_dump(exclude_none=True) for b in reply.content],
            }
        )
        uses = [block for block in reply.content if block.type == "tool_use"]
        if not uses:
            return called, reply
        called.extend(use.name for use in uses)
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": use.id,
                        "content": run_tool(use.name, use.input),
                    }
                    for use in uses
                ],
            }
        )
    raise AssertionError("the agent never answered")


def responses_agent(client, items, model="o4-mini"):
    called = []
    for _ in range(MAX_STEPS):
        response = client.responses.create(model=model, input=items, tools=openai_responses_tools())
        items.extend(item.model_dump(exclude_none=True) for item in response.output)
        calls = [item for item in response.output if item.type == "function_call"]
        if not calls:
            return called, response
        for call in calls:
            called.append(call.name)
            output = run_tool(call.name, json.loads(call.arguments))
            items.append(
                {"type": "function_call_output", "call_id": call.call_id, "output": output}
            )
    raise AssertionError("the agent never answered")


@pytest.mark.parametrize("stream", [False, True])
def test_chat_agent_looks_up_then_refunds_then_tracks(oai, stream):
    messages = [
        {"role": "system", "content": "You are a support agent."},
        {"role": "user", "content": REFUND},
    ]
    called, text = chat_agent(oai, messages, stream=stream)
    assert called == ["get_order", "issue_refund"]
    refund_call = next(
        m
        for m in messages
        if m.get("tool_calls") and m["tool_calls"][0]["function"]["name"] == "issue_refund"
    )
    arguments = json.loads(refund_call["tool_calls"][0]["function"]["arguments"])
    assert arguments["order_id"] == "1234" and arguments["amount"] == 42.5
    assert "refund id rf_1" in text and "order 1234" in text
    messages.append({"role": "user", "content": TRACK})
    called, text = chat_agent(oai, messages, stream=stream)
    assert called == ["get_order", "check_shipping"]
    assert "tracking number 1Z999" in text


@pytest.mark.parametrize("stream", [False, True])
def test_claude_agent_with_thinking(claude, stream):
    messages = [{"role": "user", "content": REFUND}]
    thinking = {"type": "enabled", "budget_tokens": 2048}
    called, reply = claude_agent(claude, messages, thinking=thinking, stream=stream)
    assert called == ["get_order", "issue_refund"]
    assert [block.type for block in reply.content] == ["thinking", "text"]
    assert "get_order, issue_refund" in reply.content[0].thinking
    assert "refund id rf_1" in reply.content[1].text
    messages.append({"role": "user", "content": TRACK})
    called, reply = claude_agent(claude, messages, thinking=thinking, stream=stream)
    assert called == ["get_order", "check_shipping"]
    assert "carrier UPS" in reply.content[-1].text


def test_claude_agent_reports_tool_errors(claude):
    messages = [{"role": "user", "content": "Refund order #999 please"}]
    called, reply = claude_agent(claude, messages)
    assert called == ["get_order"]  # no refund for an order that was not found
    assert "get order tool reported a problem: error no order 999" in reply.content[0].text


def test_responses_agent(oai):
    called, response = responses_agent(oai, [{"role": "user", "content": REFUND}])
    assert called == ["get_order", "issue_refund"]
    assert response.output[0].type == "reasoning"
    assert "refund id rf_1" in response.output_text


def test_agent_without_matching_tools_answers_in_text(oai):
    messages = [{"role": "user", "content": "What are your opening hours?"}]
    called, text = chat_agent(oai, messages)
    assert called == []
    assert "opening hours" in text
