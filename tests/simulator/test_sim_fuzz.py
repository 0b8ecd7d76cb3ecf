"""Whatever JSON arrives, the handlers answer or raise a provider-shaped error: never crash."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whyops.server.simulator import (
    anthropic_messages,
    errors,
    openai_chat,
    openai_embeddings,
    openai_responses,
)

HANDLERS = {
    "chat": openai_chat.handle,
    "responses": openai_responses.handle,
    "embeddings": openai_embeddings.handle,
    "messages": anthropic_messages.handle,
    "count_tokens": anthropic_messages.count_tokens,
}
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5000)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=6,
)
keys = st.sampled_from(
    ["role", "content", "type", "text", "tool_calls", "tool_call_id", "function", "name",
     "arguments", "input", "id", "tool_use_id", "is_error", "call_id", "output", "cache_control"]
)  # fmt: skip
parts = st.dictionaries(keys, json_values | st.sampled_from(["user", "assistant", "tool", "text",
                        "tool_use", "tool_result", "function_call", "function_call_output"]),
                        max_size=5)  # fmt: skip
messages = st.lists(
    parts | st.builds(lambda p: {"role": "user", "content": [p]}, parts), max_size=4
)
tools = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["function", "custom"]), "name": st.text(max_size=10)},
        optional={
            "function": st.dictionaries(st.sampled_from(["name", "parameters"]), json_values),
            "parameters": json_values,
            "input_schema": json_values,
        },
    ),
    max_size=3,
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(["gpt-4o", "o3", "claude-haiku-4-5", "sim-claude", 7, "x"]),
        "messages": messages | json_values,
        "input": messages | json_values,
        "max_tokens": st.integers(-1, 5000) | json_values,
        "stream": st.booleans() | json_values,
        "tools": tools | json_values,
        "tool_choice": json_values | st.sampled_from(["auto", "none", "required"]),
        "thinking": json_values | st.just({"type": "enabled", "budget_tokens": 1024}),
        "system": json_values,
        "response_format": json_values,
        "text": json_values,
        "encoding_format": st.sampled_from(["float", "base64"]) | json_values,
        "dimensions": st.integers(-2, 64) | json_values,
        "stop_sequences": json_values,
        "stream_options": json_values,
        "thread": json_values
        | st.just({"type": "create"})
        | st.builds(lambda i: {"type": "continue", "previous_message_id": i}, json_values),
        "output_config": json_values
        | st.builds(lambda s: {"format": {"type": "json_schema", "schema": s}}, json_values),
        "output_format": json_values,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(endpoint=st.sampled_from(sorted(HANDLERS)), body=bodies)
def test_handlers_never_crash(endpoint, body):
    try:
        result = HANDLERS[endpoint](body)
    except errors.ApiError as error:
        assert 400 <= error.status < 600 and error.message
        return
    if not isinstance(result, dict):
        frames = list(result)
        assert frames and all(frame.startswith((b"data: ", b"event: ")) for frame in frames)


NASTY = [
    ("chat", {"model": "gpt-4o", "messages": [{"role": "assistant", "tool_calls": 5}]}),
    ("chat", {"model": "gpt-4o", "messages": [{"role": "assistant", "tool_calls": [
        {"function": {"name": "x", "arguments": 5}}]}]}),
    ("chat", {"model": "gpt-4o", "messages": [{"role": "user", "content": "order #12"}],
              "tools": [{"type": "function", "function": {"name": "get_order", "parameters": {
                  "properties": {"order_id": {"$ref": "#/$defs/A"}}, "required": ["order_id"],
                  "$defs": {"A": {"$ref": "#/$defs/A"}}}}}]}),
    ("chat", {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}],
              "tools": [{"type": "function", "function": {"name": "get_order",
                         "parameters": {"properties": 5, "required": 7}}}]}),
    ("chat", {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}],
              "response_format": {"type": "json_schema", "json_schema": 5}}),
    ("chat", {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}],
              "tool_choice": ["a"], "stream": True, "stream_options": 5}),
    ("messages", {"model": "sim-claude", "max_tokens": 10, "messages": [
        {"role": "user", "content": [5, None, {"type": "tool_result", "content": 5}]}]}),
    ("messages", {"model": "sim-claude", "max_tokens": 10,
                  "messages": [{"role": "user", "content": "x"}],
                  "system": [5, {"text": 7, "cache_control": 5}],
                  "tools": [5, {"name": "a", "cache_control": {"ttl": 5}}]}),
    ("messages", {"model": "sim-claude", "max_tokens": 10, "tool_choice": {"type": ["x"]},
                  "messages": [{"role": "user", "content": "x"}], "stop_sequences": [""]}),
    ("responses", {"model": "gpt-4o", "input": [{"type": "function_call", "arguments": 5}]}),
    ("responses", {"model": "gpt-4o", "input": "x", "reasoning": {"effort": 5}, "tools": [5],
                   "instructions": 5, "text": {"format": {"type": "json_schema", "schema": 5}}}),
    ("embeddings", {"model": "text-embedding-3-small", "input": "x", "dimensions": 100000}),
    ("chat", {"model": "gpt-4o", "response_format": {"type": "json_object"}, "messages": [
        {"role": "system", "content": "Return JSON like " + "[" * 5000},
        {"role": "user", "content": '{"a": ' * 3000}]}),
    ("chat", {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}, {"role": "tool",
              "tool_call_id": "c", "content": "{" + "[" * 5000 + "]" * 5000 + "}"}]}),
    ("messages", {"model": "sim-claude", "max_tokens": 10, "messages": [],
                  "thread": {"type": "continue", "previous_message_id": "msg_unknown"}}),
    ("messages", {"model": "sim-claude", "max_tokens": 10, "messages": [{"role": "user",
                  "content": "x"}], "output_config": {"format": {"type": "json_schema",
                  "schema": {"properties": {"a": {"$ref": "#/$defs/A"}}}}}}),
]  # fmt: skip


@pytest.mark.parametrize(("endpoint", "body"), NASTY)
def test_nasty_bodies(endpoint, body):
    test_handlers_never_crash.hypothesis.inner_test(endpoint=endpoint, body=body)
