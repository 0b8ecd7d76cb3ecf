"""whyops.otlp.inbound: the older GenAI forms and OpenInference map like the current names."""

from __future__ import annotations

import json

from tests.otlp.inbound_support import by_type, otel_span, translated

SPAN, ROOT = "5555555555555555", "6666666666666666"
WEATHER_CALL = {
    "id": "call_9",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
}


def _llm(attributes: dict, events: list | None = None) -> dict:
    return by_type(translated(otel_span(SPAN, "llm", attributes, events=events or [])), SPAN)


# -- older GenAI forms -------------------------------------------------------------------


def test_gen_ai_system_and_prompt_completion_token_names() -> None:
    events = _llm(
        {
            "gen_ai.system": "openai",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4",
            "gen_ai.usage.prompt_tokens": 11,
            "gen_ai.usage.completion_tokens": 4,
        }
    )
    meta = events["llm_response"]["metadata"]
    assert (meta["provider"], meta["model"]) == ("openai", "gpt-4")
    assert meta["usage"] == {"promptTokens": 11, "completionTokens": 4, "totalTokens": 15}


def test_message_events_and_choice_event() -> None:
    events = _llm(
        {"gen_ai.system": "openai", "gen_ai.operation.name": "chat"},
        [
            ("gen_ai.system.message", {"content": "Be kind."}),
            ("gen_ai.user.message", {"content": "Oslo weather?"}),
            ("gen_ai.assistant.message", {"tool_calls": json.dumps([WEATHER_CALL])}),
            ("gen_ai.tool.message", {"content": "snow", "id": "call_9"}),
            (
                "gen_ai.choice",
                {"index": 0, "finish_reason": "stop", "message": {"content": "It snows."}},
            ),
        ],
    )
    assert events["user_message"]["content"]["messages"] == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Oslo weather?"},
        {"role": "assistant", "content": None, "tool_calls": [WEATHER_CALL]},
        {"role": "tool", "content": "snow", "tool_call_id": "call_9"},
    ]
    assert events["user_message"]["metadata"]["systemPrompt"] == "Be kind."
    assert events["llm_response"]["content"] == {"content": "It snows.", "finishReason": "stop"}
    # the message events became the conversation; they are not repeated as span events
    assert "otel.events" not in events["llm_response"]["metadata"].get("attributes", {})


def test_message_event_body_as_json_text() -> None:
    body = {"role": "user", "content": [{"type": "text", "text": "hi"}]}
    events = _llm(
        {"gen_ai.operation.name": "chat"},
        [("gen_ai.user.message", {"gen_ai.event.content": json.dumps(body)})],
    )
    assert events["user_message"]["content"]["messages"] == [body]


def test_flattened_prompt_and_completion_attributes() -> None:
    events = _llm(
        {
            "gen_ai.system": "Anthropic",
            "llm.request.type": "chat",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "Oslo weather?",
            "gen_ai.prompt.1.role": "tool",
            "gen_ai.prompt.1.content": "snow",
            "gen_ai.prompt.1.tool_call_id": "call_8",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.finish_reason": "tool_use",
            "gen_ai.completion.0.tool_calls.0.id": "call_9",
            "gen_ai.completion.0.tool_calls.0.name": "get_weather",
            "gen_ai.completion.0.tool_calls.0.arguments": '{"city": "Oslo"}',
            "gen_ai.usage.cache_read_input_tokens": 5,
            "gen_ai.usage.cache_creation_input_tokens": 6,
            "llm.usage.total_tokens": 99,
        }
    )
    assert events["user_message"]["spanKind"] == "llm"
    assert events["user_message"]["content"]["messages"] == [
        {"role": "user", "content": "Oslo weather?"},
        {"role": "tool", "content": "snow", "tool_call_id": "call_8"},
    ]
    answer = events["llm_response"]
    assert answer["content"] == {"toolCalls": [WEATHER_CALL], "finishReason": "tool_use"}
    assert answer["metadata"]["usage"] == {
        "totalTokens": 99,
        "cacheReadTokens": 5,
        "cacheCreationTokens": 6,
    }
    assert not any(k.startswith("gen_ai.prompt.") for k in answer["metadata"]["attributes"])


def test_semconv_1_26_content_events() -> None:
    events = _llm(
        {"gen_ai.operation.name": "chat"},
        [
            ("gen_ai.content.prompt", {"gen_ai.prompt": '[{"role": "user", "content": "2+2?"}]'}),
            ("gen_ai.content.completion", {"gen_ai.completion": "4"}),
        ],
    )
    assert events["user_message"]["content"]["messages"] == [{"role": "user", "content": "2+2?"}]
    assert events["llm_response"]["content"] == {"content": "4"}


def test_semconv_1_26_model_call_has_no_operation_name() -> None:
    """Before 1.27 a model call span had ``gen_ai.system`` but no ``gen_ai.operation.name``."""
    events = _llm(
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4",
            "gen_ai.usage.prompt_tokens": 3,
            "gen_ai.usage.completion_tokens": 1,
        },
        [("gen_ai.content.completion", {"gen_ai.completion": "4"})],
    )
    answer = events["llm_response"]
    assert answer["spanKind"] == "llm"
    assert (answer["metadata"]["model"], answer["metadata"]["provider"]) == ("gpt-4", "openai")
    assert answer["metadata"]["usage"] == {
        "promptTokens": 3,
        "completionTokens": 1,
        "totalTokens": 4,
    }
    assert answer["content"] == {"content": "4"}


def test_whole_prompt_and_completion_as_span_attributes() -> None:
    """``gen_ai.prompt`` / ``gen_ai.completion`` (the 1.26 event attributes) set on the span."""
    events = _llm(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.prompt": '[{"role": "system", "content": "Be brief."}, '
            '{"role": "user", "content": "2+2?"}]',
            "gen_ai.completion": '[{"role": "assistant", "content": "4"}]',
        }
    )
    opening, answer = events["user_message"], events["llm_response"]
    assert opening["content"]["messages"][1] == {"role": "user", "content": "2+2?"}
    assert opening["metadata"]["systemPrompt"] == "Be brief."
    assert answer["content"] == {"content": "4"}
    kept = answer["metadata"]["attributes"]
    assert "gen_ai.prompt" not in kept and "gen_ai.completion" not in kept


def test_finish_reasons_as_json_text() -> None:
    """An exporter that cannot set an array attribute sends ``["stop"]`` as its JSON text."""
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.response.finish_reasons": '["stop"]'}
    assert _llm(attributes)["llm_response"]["content"] == {"finishReason": "stop"}


# -- OpenInference -----------------------------------------------------------------------

OI_LLM = {
    "openinference.span.kind": "LLM",
    "llm.provider": "openai",
    "llm.system": "openai",
    "llm.model_name": "gpt-4o-mini",
    "llm.invocation_parameters": '{"temperature": 0.5}',
    "llm.input_messages.0.message.role": "system",
    "llm.input_messages.0.message.content": "Be kind.",
    "llm.input_messages.1.message.role": "user",
    "llm.input_messages.1.message.contents.0.message_content.type": "text",
    "llm.input_messages.1.message.contents.0.message_content.text": "Oslo weather?",
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_9",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "get_weather",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"city": "Oslo"}',
    "llm.token_count.prompt": 40,
    "llm.token_count.completion": 9,
    "llm.token_count.total": 49,
    "llm.token_count.prompt_details.cache_read": 32,
    "llm.token_count.completion_details.reasoning": 3,
    "llm.tools.0.tool.json_schema": json.dumps(
        {"type": "function", "function": {"name": "get_weather", "description": "Now"}}
    ),
    "input.value": '{"messages": []}',
    "input.mime_type": "application/json",
    "session.id": "sess-9",
    "user.id": "u-9",
    "metadata": '{"team": "a"}',
}


def test_openinference_llm_span() -> None:
    events = _llm(OI_LLM)
    asked, answer = events["user_message"], events["llm_response"]
    assert asked["content"]["messages"] == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Oslo weather?"},
    ]
    assert asked["metadata"]["systemPrompt"] == "Be kind."
    assert asked["metadata"]["params"] == {"temperature": 0.5}
    assert asked["metadata"]["tools"] == [{"name": "get_weather", "description": "Now"}]
    assert (asked["threadId"], asked["externalUserId"]) == ("sess-9", "u-9")
    assert answer["content"] == {"toolCalls": [WEATHER_CALL]}
    assert answer["metadata"]["model"] == "gpt-4o-mini"
    assert answer["metadata"]["usage"] == {
        "promptTokens": 40,
        "completionTokens": 9,
        "totalTokens": 49,
        "cacheReadTokens": 32,
        "reasoningTokens": 3,
    }
    assert answer["metadata"]["attributes"]["metadata"] == '{"team": "a"}'


def test_openinference_output_value_holding_a_provider_answer() -> None:
    completion = {
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [
            {
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "Snow.", "reasoning_content": "hm"},
            }
        ],
    }
    events = _llm(
        {
            "openinference.span.kind": "LLM",
            "input.value": json.dumps(
                {"model": "m", "messages": [{"role": "user", "content": "?"}]}
            ),
            "output.value": json.dumps(completion),
        }
    )
    assert events["user_message"]["content"]["messages"] == [{"role": "user", "content": "?"}]
    assert events["llm_response"]["content"] == {"content": "Snow.", "finishReason": "stop"}
    assert events["llm_thinking"]["content"]["thinking"] == "hm"


def test_openinference_tool_agent_chain_embedding_retriever() -> None:
    run = translated(
        otel_span(
            ROOT,
            "Agent run",
            {"openinference.span.kind": "AGENT", "agent.name": "planner", "input.value": "plan it"},
        ),
        otel_span(
            SPAN,
            "get_weather",
            {
                "openinference.span.kind": "TOOL",
                "tool.name": "get_weather",
                "tool.id": "call_9",
                "input.value": '{"city": "Oslo"}',
                "output.value": "snow",
                "tool.description": "Now",
            },
            parent=ROOT,
        ),
        otel_span("7777777777777777", "Chain", {"openinference.span.kind": "CHAIN"}, parent=ROOT),
        otel_span(
            "8888888888888888",
            "embed",
            {
                "openinference.span.kind": "EMBEDDING",
                "embedding.model_name": "text-embedding-3-small",
                "input.value": "hello",
            },
            parent=ROOT,
        ),
        otel_span("9999999999999999", "search", {"openinference.span.kind": "RETRIEVER"}),
    )
    kinds = {e["spanId"]: e["spanKind"] for e in run.events}
    assert kinds == {
        ROOT: "agent",
        SPAN: "tool",
        "7777777777777777": "span",
        "8888888888888888": "embedding",
        "9999999999999999": "span",
    }
    agents = {e["spanId"]: e["agentName"] for e in run.events}
    assert agents.pop("9999999999999999") == "checkout"  # no agent above it: the service
    assert set(agents.values()) == {"planner"}
    root = by_type(run, ROOT)["tool_call_request"]
    assert root["content"]["toolCalls"] == [{"name": "planner", "arguments": {"input": "plan it"}}]
    tool = by_type(run, SPAN)
    assert tool["tool_call_request"]["content"]["toolCalls"] == [
        {"name": "get_weather", "arguments": {"city": "Oslo"}, "id": "call_9"}
    ]
    assert tool["tool_call_response"]["content"]["toolResults"] == "snow"
    embedding = by_type(run, "8888888888888888")
    assert embedding["embedding_request"]["content"] == {"input": "hello"}
    assert embedding["embedding_response"]["metadata"]["model"] == "text-embedding-3-small"


def test_pydantic_ai_default_instrumentation_names() -> None:
    """pydantic-ai's instrumentation version 2: "agent run" and "running tool" spans."""
    run = translated(
        otel_span(ROOT, "agent run", {"agent_name": "support", "final_result": "done"}),
        otel_span(
            SPAN,
            "running tool",
            {
                "gen_ai.tool.name": "lookup",
                "gen_ai.tool.call.id": "call_1",
                "tool_arguments": '{"order": "A1"}',
                "tool_response": "shipped",
            },
            parent=ROOT,
        ),
    )
    agent, tool = by_type(run, ROOT), by_type(run, SPAN)
    assert agent["tool_call_request"]["spanKind"] == "agent"
    assert agent["tool_call_response"]["content"]["toolResults"] == "done"
    assert {e["agentName"] for e in run.events} == {"support"}
    assert tool["tool_call_request"]["spanName"] == "lookup"
    assert tool["tool_call_request"]["content"]["toolCalls"] == [
        {"name": "lookup", "arguments": {"order": "A1"}, "id": "call_1"}
    ]
    assert tool["tool_call_response"]["content"]["toolResults"] == "shipped"


def test_openinference_text_completion_and_embedding_texts() -> None:
    completion = _llm(
        {
            "openinference.span.kind": "LLM",
            "llm.prompts.0.prompt.text": "def fib(n):",
            "llm.choices.0.completion.text": " return n",
        }
    )
    assert completion["user_message"]["content"]["messages"] == [
        {"role": "user", "content": "def fib(n):"}
    ]
    assert completion["llm_response"]["content"] == {"content": " return n"}
    embedding = _llm(
        {
            "openinference.span.kind": "EMBEDDING",
            "embedding.model_name": "m",
            "embedding.embeddings.0.embedding.text": "hello",
            "embedding.embeddings.0.embedding.vector": [0.1, 0.2],
            "embedding.embeddings.1.embedding.text": "world",
        }
    )
    assert embedding["embedding_request"]["content"] == {"input": ["hello", "world"]}
    kept = embedding["embedding_response"]["metadata"]["attributes"]
    assert not any(key.startswith("embedding.embeddings.") for key in kept)  # vectors: not kept


def test_current_attributes_that_share_an_older_content_prefix_are_kept() -> None:
    """``gen_ai.prompt.name`` is a current attribute, not a flattened ``gen_ai.prompt.N``."""
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.prompt.name": "analyze-code",
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": "hi",
    }
    closing = _llm(attributes)["llm_response"]
    assert closing["metadata"]["attributes"]["gen_ai.prompt.name"] == "analyze-code"
    assert "gen_ai.prompt.0.content" not in closing["metadata"]["attributes"]


# -- usage, as the proxy records each provider's ---------------------------------------


def test_anthropic_input_count_is_recorded_without_the_cache_as_whyops_does() -> None:
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.usage.input_tokens": 1000,  # includes the cache, per the conventions
        "gen_ai.usage.output_tokens": 50,
        "gen_ai.usage.cache_read.input_tokens": 800,
        "gen_ai.usage.cache_creation.input_tokens": 150,
    }
    usage = by_type(translated(otel_span(SPAN, "chat", attrs)), SPAN)["llm_response"]
    assert usage["metadata"]["usage"] == {
        "promptTokens": 50,
        "completionTokens": 50,
        "totalTokens": 1050,
        "cacheReadTokens": 800,
        "cacheCreationTokens": 150,
    }


def test_usage_is_what_the_wire_mapper_of_the_provider_gives() -> None:
    """OpenLLMetry names the provider "Anthropic": read as anthropic, its usage is what the
    proxy records for the same answer (whyops.wire.usage.anthropic_usage)."""
    from whyops.wire.usage import anthropic_usage, usage_wire

    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "Anthropic",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 50,
        "gen_ai.usage.cache_read_input_tokens": 800,
        "gen_ai.usage.cache_creation_input_tokens": 150,
        "gen_ai.usage.reasoning_tokens": 20,  # OpenLLMetry's older name
    }
    closing = by_type(translated(otel_span(SPAN, "chat", attrs)), SPAN)["llm_response"]
    native = {
        "input_tokens": 50,
        "output_tokens": 50,
        "cache_read_input_tokens": 800,
        "cache_creation_input_tokens": 150,
    }
    proxied = anthropic_usage(native)
    assert proxied is not None
    assert closing["metadata"]["provider"] == "anthropic"
    assert closing["metadata"]["usage"] == {**usage_wire(proxied), "reasoningTokens": 20}
