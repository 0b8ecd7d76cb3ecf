"""Spans of proxied model calls: the real proxy, the server's own simulator, the spans API."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.server.conftest import Api

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")

ORDER_TOOL = {
    "name": "get_order_status",
    "description": "Look up an order's shipping status",
    "schema": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
    },
}
QUESTION = "Where is my order A123?"
TOOL_ANSWER = '{"status": "shipped"}'


def _llm_spans(api: Api, trace: str, count: int) -> list[dict[str, Any]]:
    """The trace's llm spans, oldest first, once ``count`` of them are finished.

    The proxy records without waiting for the write, so the spans appear a moment later.
    """
    deadline = time.monotonic() + 10
    while True:
        response = api.get(f"/api/traces/{trace}/spans")
        spans = response.json().get("spans", []) if response.status_code == 200 else []
        done = [s for s in spans if s["kind"] == "llm" and s["status"] == "ok"]
        if len(done) >= count or time.monotonic() > deadline:
            return sorted(done, key=lambda span: span["start"])
        time.sleep(0.05)


def test_openai_call_after_a_tool_answer_has_its_messages_as_inputs(api: Api) -> None:
    trace = f"trace-{uuid.uuid4().hex[:12]}"
    client = openai.OpenAI(
        base_url=f"{api.running.base_url}/v1",
        api_key=api.key,
        default_headers={"X-Trace-ID": trace, "X-Agent-Name": "proxied-agent"},
        max_retries=0,
    )
    tools = [
        {
            "type": "function",
            "function": {
                "name": ORDER_TOOL["name"],
                "description": ORDER_TOOL["description"],
                "parameters": ORDER_TOOL["schema"],
            },
        }
    ]
    messages: list[dict[str, Any]] = [{"role": "user", "content": QUESTION}]
    first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=tools)
    call = first.choices[0].message.tool_calls[0]
    assert call.function.name == "get_order_status"
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": TOOL_ANSWER})
    client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=tools)

    asking, answering = _llm_spans(api, trace, 2)
    assert asking["inputs"] == [{"role": "user", "content": QUESTION}]
    # the second call records only the turn that is new to it: the tool's answer
    assert answering["inputs"] == [
        {"role": "tool", "tool_call_id": call.id, "content": TOOL_ANSWER}
    ]
    assert answering["output"]["content"]
    assert answering["model"] == "gpt-4o-mini"


def test_anthropic_call_after_a_tool_result_has_its_messages_as_inputs(api: Api) -> None:
    trace = f"trace-{uuid.uuid4().hex[:12]}"
    client = anthropic.Anthropic(
        base_url=api.running.base_url,
        api_key=api.key,
        default_headers={"X-Trace-ID": trace, "X-Agent-Name": "proxied-agent"},
        max_retries=0,
    )
    tools = [
        {
            "name": ORDER_TOOL["name"],
            "description": ORDER_TOOL["description"],
            "input_schema": ORDER_TOOL["schema"],
        }
    ]
    messages: list[dict[str, Any]] = [{"role": "user", "content": QUESTION}]
    first = client.messages.create(
        model="claude-sonnet-4-6", max_tokens=512, messages=messages, tools=tools
    )
    use = next(block for block in first.content if block.type == "tool_use")
    messages.append({"role": "assistant", "content": [b.model_dump() for b in first.content]})
    result = {"type": "tool_result", "tool_use_id": use.id, "content": TOOL_ANSWER}
    messages.append({"role": "user", "content": [result]})
    client.messages.create(
        model="claude-sonnet-4-6", max_tokens=512, messages=messages, tools=tools
    )

    asking, answering = _llm_spans(api, trace, 2)
    assert asking["inputs"] == [{"role": "user", "content": QUESTION}]
    assert answering["inputs"] == [{"role": "user", "content": [result]}]
    assert answering["provider"] == "anthropic"
