"""Usage, thinking, model and provider picked up from returned provider objects."""

from __future__ import annotations

from typing import Any

import pytest

import whyops
from whyops._providers import extract, usage_from
from whyops.wire.records import SpanKind, ThinkingBlock, TokenUsage
from whyops.wire.shape import shape_of, tool_call
from whyops.wire.usage import usage_of

ANTHROPIC_MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-x",
    "content": [
        {"type": "thinking", "thinking": "Let me check the order.", "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "Refunded."},
        {"type": "tool_use", "id": "tu_1", "name": "refund", "input": {"order": 42}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 10,
        "output_tokens": 7,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 200,
    },
}
CHAT_COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-x",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": "ok",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "search", "arguments": '{"q":"a"}'},
                    }
                ],
            },
        }
    ],
    "usage": {
        "prompt_tokens": 12,
        "completion_tokens": 5,
        "total_tokens": 17,
        "prompt_tokens_details": {"cached_tokens": 8},
    },
}
RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1700000000,
    "model": "gpt-r",
    "status": "completed",
    "output": [
        {
            "id": "rs_1",
            "type": "reasoning",
            "summary": [
                {"type": "summary_text", "text": "First idea."},
                {"type": "summary_text", "text": "Second idea."},
            ],
        },
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Answer.", "annotations": []}],
        },
    ],
    "usage": {
        "input_tokens": 20,
        "input_tokens_details": {"cached_tokens": 16},
        "output_tokens": 30,
        "output_tokens_details": {"reasoning_tokens": 10},
        "total_tokens": 50,
    },
}


def _sdk_objects() -> list[tuple[str, Any]]:
    anthropic = pytest.importorskip("anthropic")
    openai = pytest.importorskip("openai")
    from openai.types.responses import Response

    return [
        ("anthropic", anthropic.types.Message.model_validate(ANTHROPIC_MESSAGE)),
        ("chat", openai.types.chat.ChatCompletion.model_validate(CHAT_COMPLETION)),
        (
            "responses",
            Response.model_construct(
                **{
                    **RESPONSE,
                    "output": [
                        openai.types.responses.ResponseReasoningItem.model_validate(
                            RESPONSE["output"][0]
                        ),
                        openai.types.responses.ResponseOutputMessage.model_validate(
                            RESPONSE["output"][1]
                        ),
                    ],
                    "usage": openai.types.responses.ResponseUsage.model_validate(
                        {
                            **RESPONSE["usage"],
                            "input_tokens_details": {"cached_tokens": 16, "cache_write_tokens": 0},
                        }
                    ),
                }
            ),
        ),
    ]


EXPECTED = {
    "anthropic": (
        TokenUsage(10, 7, 317, 200, 100),
        (ThinkingBlock("Let me check the order.", "sig-1"), ThinkingBlock(redacted_data="opaque")),
        "claude-x",
        "anthropic",
    ),
    "chat": (TokenUsage(12, 5, 17, 8, None), (), "gpt-x", "openai"),
    "responses": (
        TokenUsage(20, 30, 50, 16, None, reasoning_tokens=10),
        (ThinkingBlock("First idea.\n\nSecond idea."),),
        "gpt-r",
        "openai",
    ),
}


def test_sdk_objects_and_their_dict_forms_give_the_same_facts() -> None:
    dicts = {"anthropic": ANTHROPIC_MESSAGE, "chat": CHAT_COMPLETION, "responses": RESPONSE}
    for name, obj in _sdk_objects():
        for form in (obj, dicts[name]):
            facts = extract(form)
            assert facts is not None, name
            assert (facts.usage, facts.thinking, facts.model, facts.provider) == EXPECTED[name]


def test_unrelated_values_have_no_facts() -> None:
    for value in (None, 1, "message", {"type": "message"}, [], object(), {"object": "list"}):
        assert extract(value) is None
    assert usage_from(None) is None and usage_from({}) is None


def test_llm_span_picks_up_usage_thinking_and_model_from_the_return_value(memory: Any) -> None:
    (_, message), (_, completion), _ = _sdk_objects()

    @whyops.span(kind="llm")
    def ask_claude(messages: list[dict[str, str]]) -> Any:
        return message

    @whyops.span(kind="llm")
    def ask_gpt(prompt: str) -> Any:
        return completion

    ask_claude([{"role": "user", "content": "refund 42"}])
    ask_gpt("hi")
    claude, gpt = memory.spans()
    assert claude.kind is SpanKind.LLM and claude.usage == EXPECTED["anthropic"][0]
    assert claude.thinking == EXPECTED["anthropic"][1] and claude.model == "claude-x"
    events = memory.events()
    claude_events = [e for e in events if e["spanId"] == claude.span_id]
    assert [e["eventType"] for e in claude_events] == [
        "user_message",
        "llm_thinking",
        "llm_thinking",
        "llm_response",
    ]
    assert claude_events[0]["content"] == {"messages": [{"role": "user", "content": "refund 42"}]}
    assert claude_events[1]["content"] == {
        "type": "thinking",
        "thinking": "Let me check the order.",
        "signature": "sig-1",
    }
    assert claude_events[2]["content"] == {"type": "redacted_thinking", "data": "opaque"}
    response = claude_events[3]
    assert response["content"]["content"] == "Refunded."
    assert response["content"]["toolCalls"] == [
        {
            "id": "tu_1",
            "type": "function",
            "function": {"name": "refund", "arguments": '{"order": 42}'},
        }
    ]
    assert response["content"]["finishReason"] == "tool_use"
    assert response["metadata"]["usage"] == {
        "promptTokens": 10,
        "completionTokens": 7,
        "totalTokens": 317,
        "cacheReadTokens": 200,
        "cacheCreationTokens": 100,
    }
    assert (response["metadata"]["model"], response["metadata"]["provider"]) == (
        "claude-x",
        "anthropic",
    )
    gpt_events = [e for e in events if e["spanId"] == gpt.span_id]
    assert gpt_events[0]["content"] == {
        "messages": [{"role": "user", "content": '{"prompt": "hi"}'}]
    }
    assert gpt_events[-1]["content"]["toolCalls"][0]["function"]["name"] == "search"
    assert gpt_events[-1]["metadata"]["usage"]["cacheReadTokens"] == 8


def test_explicit_usage_and_model_on_a_span(memory: Any) -> None:
    with whyops.span("call", kind="llm") as span:
        span.set_model("m-1", provider="acme")
        span.record_usage(prompt_tokens=3, completion_tokens=4, total_tokens=7)
        span.record_usage({"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2})
        span.set_output("plain text answer")
    (record,) = memory.spans()
    assert record.usage == TokenUsage(4, 5, 9, None, None)
    last = memory.events()[-1]
    assert last["content"] == {"content": "plain text answer"}
    assert (last["metadata"]["model"], last["metadata"]["provider"]) == ("m-1", "acme")


def test_llm_response_without_model_says_unknown(memory: Any) -> None:
    with whyops.span("bare", kind="llm"):
        pass
    last = memory.events()[-1]
    assert (last["metadata"]["model"], last["metadata"]["provider"]) == ("unknown", "unknown")


class Lazy:
    """An object whose every attribute read is counted (a lazy property, a DataFrame)."""

    reads = 0

    def __getattr__(self, name: str) -> Any:
        Lazy.reads += 1
        return "message" if name == "type" else "chat.completion"


def test_a_tool_returning_a_message_shaped_dict_is_not_a_provider_call(memory: Any) -> None:
    @whyops.tool
    def send_sms() -> dict[str, Any]:
        return {"type": "message", "content": [{"type": "text"}], "model": "sms-v2"}

    send_sms()
    (record,) = memory.spans()
    assert (record.provider, record.model, record.usage) == (None, None, None)


def test_return_values_are_never_read_for_provider_facts_unless_they_are_sdk_classes(
    memory: Any,
) -> None:
    whyops.tool(lambda: Lazy())()
    whyops.span(kind="llm")(lambda: Lazy())()
    assert Lazy.reads == 0
    tool, llm = memory.spans()
    assert tool.provider is None and llm.provider is None


def test_finding_provider_responses_imports_no_sdk() -> None:
    from core_helpers import run_python

    code = (
        "import sys, whyops\n"
        "from whyops.export.memory import InMemoryExporter\n"
        "whyops.configure(exporter=InMemoryExporter())\n"
        "whyops.span(kind='llm')(lambda: {'object': 'chat.completion', 'model': 'm'})()\n"
        "whyops.tool(lambda: object())()\n"
        "print(sorted(m for m in ('openai', 'anthropic') if m in sys.modules))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_recorded_usage_counts_reach_the_wire(memory: Any) -> None:
    with whyops.span("call", kind="llm") as span:
        span.record_usage(
            {
                "prompt_tokens": 120,
                "completion_tokens": 45,
                "total_tokens": 165,
                "prompt_tokens_details": {"cached_tokens": 64, "cache_write_tokens": 32},
                "completion_tokens_details": {"reasoning_tokens": 30},
            }
        )
        span.record_usage(reasoning_tokens=2, cache_write_1h_tokens=3)
    usage = memory.events()[-1]["metadata"]["usage"]
    assert usage == {
        "promptTokens": 120,
        "completionTokens": 45,
        "totalTokens": 165,
        "cacheReadTokens": 64,
        "cacheCreationTokens": 32,
        "reasoningTokens": 32,
        "cacheWrite1hTokens": 3,
    }


def response_summary(answer: Any) -> Any:
    """The ``llm_response`` content the encoder writes for a returned answer."""
    shape = shape_of(answer)
    return None if shape is None else shape.content(answer)


def test_tool_calls_have_the_one_shape_and_null_content_is_left_out() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "search", "arguments": "{}"}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    completion = {
        **CHAT_COMPLETION,
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": message}],
    }
    assert response_summary(completion) == {
        "toolCalls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "search", "arguments": "{}"},
            }
        ],
        "finishReason": "tool_calls",
    }
    assert response_summary(ANTHROPIC_MESSAGE) == {
        "content": "Refunded.",
        "toolCalls": [tool_call("tu_1", "refund", '{"order": 42}')],
        "finishReason": "tool_use",
    }
    assert response_summary(RESPONSE) == {"content": "Answer.", "finishReason": "completed"}


class Failing:
    """A usage object whose fields raise when read."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(name)


def test_a_usage_object_that_fails_when_read_is_no_usage(memory: Any) -> None:
    assert usage_of(Failing()) is None
    with whyops.span("call", kind="llm") as span:
        span.record_usage(Failing())
    (record,) = memory.spans()
    assert record.usage is None
