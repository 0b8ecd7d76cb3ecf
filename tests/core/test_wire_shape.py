"""Provider answers read into WhyOps parts: usage counters, ``llm_response`` content, thinking.

Answers are parsed JSON (the proxy) or the SDKs' response objects (the SDK); see
tests/core/test_wire_drift.py for both paths end to end.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from provider_answers import ANTHROPIC_ANSWER, CHAT_ANSWER, EXPECTED

from whyops._providers import usage_from
from whyops.wire._read import field
from whyops.wire.records import ThinkingBlock, TokenUsage
from whyops.wire.shape import ANTHROPIC, CHAT, RESPONSES, thinking_content, tool_call
from whyops.wire.usage import (
    add_usage,
    anthropic_usage,
    merge_anthropic_usage,
    openai_usage,
    usage_of,
    usage_wire,
)

# -- usage ------------------------------------------------------------------

CHAT_USAGE = CHAT_ANSWER["usage"]
ANTHROPIC_USAGE = ANTHROPIC_ANSWER["usage"]


@pytest.mark.parametrize(
    ("mapper", "usage", "wire"),
    [
        (
            openai_usage,
            CHAT_USAGE,
            EXPECTED["chat"]["usage"],
        ),
        (
            openai_usage,
            {
                "input_tokens": 20,
                "input_tokens_details": {"cached_tokens": 16},
                "output_tokens": 30,
                "output_tokens_details": {"reasoning_tokens": 10},
                "total_tokens": 50,
            },
            {
                "promptTokens": 20,
                "completionTokens": 30,
                "totalTokens": 50,
                "cacheReadTokens": 16,
                "reasoningTokens": 10,
            },
        ),
        (
            openai_usage,
            {"prompt_tokens": 8, "total_tokens": 8},
            {"promptTokens": 8, "totalTokens": 8},
        ),
        (
            openai_usage,
            {"prompt_tokens": 0, "completion_tokens": 4},
            {"promptTokens": 0, "completionTokens": 4, "totalTokens": 4},
        ),
        (
            openai_usage,
            {
                "prompt_tokens": 5,
                "completion_tokens": 1,
                "total_tokens": 6,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
            {"promptTokens": 5, "completionTokens": 1, "totalTokens": 6},
        ),
        (
            anthropic_usage,
            ANTHROPIC_USAGE,
            EXPECTED["anthropic"]["usage"],
        ),
        (
            anthropic_usage,
            {"input_tokens": 3, "output_tokens": 2, "cache_read_input_tokens": 0},
            {"promptTokens": 3, "completionTokens": 2, "totalTokens": 5},
        ),
        (openai_usage, {"prompt_tokens": "12", "completion_tokens": True}, None),
        (anthropic_usage, {"input_tokens": "x"}, None),
        (openai_usage, {}, None),
        (openai_usage, "nope", None),
        (anthropic_usage, [1, 2], None),
    ],
)
def test_provider_usage_maps_to_the_wire_usage(mapper: Any, usage: Any, wire: Any) -> None:
    found = mapper(usage)
    assert (usage_wire(found) if found is not None else None) == wire
    if found is not None:
        assert usage_of(usage) == found  # told apart by its field names alone


def test_usage_of_sdk_usage_objects_reads_every_counter() -> None:
    openai = pytest.importorskip("openai")
    anthropic = pytest.importorskip("anthropic")
    chat = openai.types.CompletionUsage.model_validate(CHAT_USAGE)
    claude = anthropic.types.Usage.model_validate(ANTHROPIC_USAGE)
    assert (
        usage_from(chat)
        == openai_usage(CHAT_USAGE)
        == TokenUsage(120, 45, 165, 64, 32, reasoning_tokens=30)
    )
    assert (
        usage_from(claude)
        == anthropic_usage(ANTHROPIC_USAGE)
        == TokenUsage(50, 70, 1420, 1000, 300, cache_write_5m_tokens=100, cache_write_1h_tokens=200)
    )


def test_summed_usage_keeps_every_counter() -> None:
    a = TokenUsage(1, 2, 3, None, 4, reasoning_tokens=5, cache_write_5m_tokens=6)
    b = TokenUsage(10, None, 30, None, 40, reasoning_tokens=50, cache_write_1h_tokens=70)
    assert add_usage(a, b) == TokenUsage(
        11,
        2,
        33,
        None,
        44,
        reasoning_tokens=55,
        cache_write_5m_tokens=6,
        cache_write_1h_tokens=70,
    )


def test_token_usage_keeps_its_five_positional_fields() -> None:
    usage = TokenUsage(1, 2, 3, 4, 5)
    assert (usage.cache_read_tokens, usage.cache_creation_tokens, usage.reasoning_tokens) == (
        4,
        5,
        None,
    )
    with pytest.raises(TypeError):
        TokenUsage(1, 2, 3, 4, 5, 6)  # type: ignore[misc]


# -- llm_response content and thinking --------------------------------------------------------


def test_tool_call_arguments_are_a_json_string() -> None:
    assert tool_call("c", "f", {"city": "Zürich", "n": [1, 2]})["function"]["arguments"] == (
        '{"city": "Zürich", "n": [1, 2]}'
    )
    assert tool_call("c", "f", '{"raw": true}')["function"]["arguments"] == '{"raw": true}'


def test_chat_refusal_annotations_and_custom_tool_calls() -> None:
    annotation = {"type": "url_citation", "url_citation": {"url": "https://example.com"}}
    message = {
        "role": "assistant",
        "content": "See the page.",
        "refusal": None,
        "annotations": [annotation],
        "tool_calls": [{"id": "c2", "type": "custom", "custom": {"name": "grep", "input": "todo"}}],
    }
    completion = {"object": "chat.completion", "choices": [{"message": message}]}
    assert CHAT.content(completion) == {
        "content": "See the page.",
        "toolCalls": [tool_call("c2", "grep", "todo")],
        "annotations": [annotation],
    }
    refused = {"object": "chat.completion", "choices": [{"message": {"refusal": "No."}}]}
    assert CHAT.content(refused) == {"refusal": "No."}


def test_thinking_of_each_provider_and_its_wire_content() -> None:
    chat = {
        "object": "chat.completion",
        "choices": [{"message": {"content": "4", "reasoning_content": "2 + 2"}}],
    }
    response = {
        "object": "response",
        "output": [
            {"type": "reasoning", "summary": [{"text": "Sum."}], "encrypted_content": "enc-1"},
            {"type": "reasoning", "summary": [], "encrypted_content": "enc-2"},
            {"type": "reasoning", "summary": []},
        ],
    }
    assert CHAT.thinking(chat) == (ThinkingBlock("2 + 2"),)
    blocks = RESPONSES.thinking(response)
    assert blocks == (ThinkingBlock("Sum.", "enc-1"), ThinkingBlock(redacted_data="enc-2"))
    assert [thinking_content(b) for b in (*blocks, ThinkingBlock(None, ""))] == [
        {"type": "thinking", "thinking": "Sum.", "signature": "enc-1"},
        {"type": "redacted_thinking", "data": "enc-2"},
        {"type": "thinking", "thinking": ""},
    ]


def test_garbage_answers_are_read_without_errors() -> None:
    for garbage in (None, 1, "x", [], {"choices": "x"}, {"choices": [None, 1]}, {"output": [1]}):
        for shape in (CHAT, RESPONSES, ANTHROPIC):
            answer = shape.answer(garbage)
            assert answer.usage is None and answer.thinking == () and answer.model is None
            assert set(answer.content) <= {"finishReason"}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
# Answers that look like a provider's in places: the real keys, any JSON under them.
ANSWER_KEYS = st.sampled_from(
    [
        "choices", "message", "content", "tool_calls", "function", "arguments", "usage", "type",
        "output", "summary", "text", "input", "stop_reason", "prompt_tokens_details",
        "cache_creation", "reasoning_content", "encrypted_content", "model", "data",
    ]
)  # fmt: skip
PROVIDER_LIKE = st.recursive(
    JSON_VALUES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANSWER_KEYS, inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(answer=PROVIDER_LIKE)
def test_any_json_answer_is_shaped_without_errors(answer: Any) -> None:
    for shape in (CHAT, RESPONSES, ANTHROPIC):
        shaped = shape.answer(answer)
        json.dumps(shaped.content)
        assert all(value is not None for value in shaped.content.values())
        for call in shaped.content.get("toolCalls", ()):
            assert call["type"] == "function" and isinstance(call["function"]["arguments"], str)
        for block in shaped.thinking:
            json.dumps(thinking_content(block))
        if shaped.usage is not None:
            assert all(type(v) is int for v in usage_wire(shaped.usage).values())


def test_every_counter_has_its_wire_key() -> None:
    names = [field.name for field in attrs.fields(TokenUsage)]
    assert len(usage_wire(TokenUsage(**{name: 9 for name in names}))) == len(names)
    assert add_usage(TokenUsage(**{name: 1 for name in names}), TokenUsage()) == TokenUsage(
        **{name: 1 for name in names}
    )
    every = TokenUsage(
        1, 2, 3, 4, 5, reasoning_tokens=6, cache_write_5m_tokens=7, cache_write_1h_tokens=8
    )
    assert usage_wire(every) == {
        "promptTokens": 1,
        "completionTokens": 2,
        "totalTokens": 3,
        "cacheReadTokens": 4,
        "cacheCreationTokens": 5,
        "reasoningTokens": 6,
        "cacheWrite5mTokens": 7,
        "cacheWrite1hTokens": 8,
    }
    assert usage_wire(TokenUsage(0, 0, 0, 0, 0, reasoning_tokens=0)) == {
        "promptTokens": 0,
        "completionTokens": 0,
        "totalTokens": 0,
    }


def test_streamed_anthropic_usage_is_the_start_updated_by_the_delta() -> None:
    start = {**ANTHROPIC_USAGE, "output_tokens": 1}
    merged = merge_anthropic_usage(start, {"output_tokens": 70, "input_tokens": None})
    assert merged == ANTHROPIC_USAGE and start["output_tokens"] == 1
    assert merge_anthropic_usage(start, None) is start


class _Counts(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")

    prompt_tokens: int | None = None

    @property
    def total_tokens(self) -> int:
        return 7

    @property
    def completion_tokens(self) -> int:
        raise RuntimeError("a property that fails")


def test_a_pydantic_answer_is_read_as_getattr_reads_it() -> None:
    counts = _Counts(prompt_tokens=3, cached="extra")
    # declared field, undeclared one the provider sent, property, failing property, absent
    assert field(counts, "prompt_tokens") == 3
    assert field(counts, "cached") == "extra"
    assert field(counts, "total_tokens") == 7
    assert field(counts, "completion_tokens") is None
    assert field(counts, "reasoning_tokens") is None
    assert field(_Counts.model_construct(), "prompt_tokens") is None
    assert openai_usage(counts) == TokenUsage(3, None, 7, None, None)
