"""whyops.otlp.inbound: GenAI spans (current semantic-conventions-genai names) → WhyOps events.

One test per row of the mapping table in docs/otlp.md; every translation is also run through
the ingest route's validation (inbound_support.valid).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.otlp.inbound_support import (
    MS,
    START,
    TRACE,
    by_type,
    otel_span,
    translated,
)
from whyops.otlp import conventions as c

ROOT, LLM, TOOL, OTHER = (
    "1111111111111111",
    "2222222222222222",
    "3333333333333333",
    "4444444444444444",
)

CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.response.id": "chatcmpl-1",
    "gen_ai.response.finish_reasons": ["tool_calls"],
    "gen_ai.usage.input_tokens": 120,
    "gen_ai.usage.output_tokens": 30,
    "gen_ai.usage.cache_read.input_tokens": 100,
    "gen_ai.usage.cache_creation.input_tokens": 7,
    "gen_ai.usage.reasoning.output_tokens": 12,
    "gen_ai.request.temperature": 0.2,
    "gen_ai.request.max_tokens": 256,
    "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "You are terse."}]),
    "gen_ai.input.messages": json.dumps(
        [
            {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
            {
                "role": "assistant",
                "parts": [
                    {"type": "tool_call", "id": "call_0", "name": "now", "arguments": {}},
                ],
            },
            {
                "role": "tool",
                "parts": [{"type": "tool_call_response", "id": "call_0", "response": "noon"}],
            },
        ]
    ),
    "gen_ai.output.messages": json.dumps(
        [
            {
                "role": "assistant",
                "parts": [
                    {"type": "reasoning", "content": "Need the weather tool."},
                    {"type": "text", "content": "Checking."},
                    {
                        "type": "tool_call",
                        "id": "call_1",
                        "name": "get_weather",
                        "arguments": {"city": "Paris"},
                    },
                ],
            }
        ]
    ),
    "gen_ai.tool.definitions": json.dumps(
        [
            {
                "type": "function",
                "name": "get_weather",
                "description": "Weather now",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ]
    ),
    "server.address": "api.openai.com",
}


def test_chat_span_is_a_model_call_with_model_provider_usage_and_messages() -> None:
    events = by_type(translated(otel_span(LLM, "chat gpt-4o", CHAT)), LLM)
    asked, answer = events["user_message"], events["llm_response"]
    assert asked["spanKind"] == "llm" and asked["spanName"] == "chat gpt-4o"
    assert asked["content"]["messages"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_0", "type": "function", "function": {"name": "now", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": "noon"},
    ]
    assert asked["metadata"]["systemPrompt"] == "You are terse."
    assert asked["metadata"]["tools"][0]["name"] == "get_weather"
    assert asked["metadata"]["params"] == {"temperature": 0.2, "max_tokens": 256}
    assert answer["metadata"]["model"] == "gpt-4o-2024-08-06"  # the response model wins
    assert answer["metadata"]["provider"] == "openai"
    assert answer["metadata"]["usage"] == {
        "promptTokens": 120,
        "completionTokens": 30,
        "totalTokens": 150,
        "cacheReadTokens": 100,
        "cacheCreationTokens": 7,
        "reasoningTokens": 12,
    }
    assert answer["content"] == {
        "content": "Checking.",
        "toolCalls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
        "finishReason": "tool_calls",
    }
    assert events["llm_thinking"]["content"] == {
        "type": "thinking",
        "thinking": "Need the weather tool.",
    }
    # content lives in the events' fields, the rest stays as attributes
    attributes = answer["metadata"]["attributes"]
    assert attributes["server.address"] == "api.openai.com"
    assert attributes["gen_ai.response.id"] == "chatcmpl-1"
    assert c.INPUT_MESSAGES not in attributes and c.OUTPUT_MESSAGES not in attributes


def test_timing_comes_from_the_span() -> None:
    events = by_type(translated(otel_span(LLM, "chat", CHAT, duration=1500 * MS)), LLM)
    assert events["user_message"]["timestamp"] == "2025-11-24T16:00:00.000000Z"
    assert events["llm_response"]["timestamp"] == "2025-11-24T16:00:01.500000Z"
    assert events["llm_response"]["metadata"]["latencyMs"] == 1500
    assert events["llm_response"]["metadata"]["durationNs"] == 1500 * MS


def test_text_completion_and_generate_content_are_model_calls_too() -> None:
    for operation in ("text_completion", "generate_content"):
        attrs = {"gen_ai.operation.name": operation, "gen_ai.provider.name": "gcp.gemini"}
        events = by_type(translated(otel_span(LLM, operation, attrs)), LLM)
        assert set(events) == {"user_message", "llm_response"}
        assert events["llm_response"]["metadata"]["provider"] == "gcp.gemini"
        assert events["llm_response"]["metadata"]["model"] == "unknown"  # required by WhyOps


def test_model_call_without_recorded_content_has_no_invented_messages() -> None:
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}
    events = by_type(translated(otel_span(LLM, "chat m", attrs)), LLM)
    assert events["user_message"]["content"] == {"messages": []}
    assert events["llm_response"]["content"] == {"content": None}
    assert "usage" not in events["llm_response"]["metadata"]


def test_embeddings_span_is_an_embedding_call() -> None:
    attrs = {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "text-embedding-3-small",
        "gen_ai.usage.input_tokens": 8,
    }
    events = by_type(translated(otel_span(LLM, "embeddings", attrs)), LLM)
    assert set(events) == {"embedding_request", "embedding_response"}
    response = events["embedding_response"]
    assert response["spanKind"] == "embedding"
    assert response["metadata"]["model"] == "text-embedding-3-small"
    assert response["metadata"]["usage"] == {"promptTokens": 8, "totalTokens": 8}


def test_execute_tool_span_is_a_tool_call_with_id_arguments_and_result() -> None:
    attrs = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.call.id": "call_1",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.arguments": '{"city": "Paris"}',
        "gen_ai.tool.call.result": {"sky": "rain", "temp": 14},
    }
    events = by_type(translated(otel_span(TOOL, "execute_tool get_weather", attrs)), TOOL)
    request, response = events["tool_call_request"], events["tool_call_response"]
    assert request["spanKind"] == "tool" and request["spanName"] == "get_weather"
    assert request["metadata"] == {"tool": "get_weather"}
    call = {"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_1"}
    assert request["content"]["toolCalls"] == [call]
    assert response["content"]["toolCalls"] == [call]
    assert response["content"]["toolResults"] == {"sky": "rain", "temp": 14}
    assert response["metadata"]["attributes"]["gen_ai.tool.type"] == "function"


def test_tool_name_falls_back_to_the_span_name() -> None:
    attrs = {"gen_ai.operation.name": "execute_tool"}
    events = by_type(translated(otel_span(TOOL, "execute_tool lookup", attrs)), TOOL)
    assert events["tool_call_request"]["metadata"]["tool"] == "lookup"
    assert events["tool_call_request"]["content"]["toolCalls"] == [
        {"name": "lookup", "arguments": {}}
    ]


AGENT = {
    "gen_ai.operation.name": "invoke_agent",
    "gen_ai.agent.name": "Weather bot",
    "gen_ai.agent.id": "asst_1",
    "gen_ai.agent.description": "Answers weather questions",
    "gen_ai.system_instructions": "Be brief.",
    "gen_ai.tool.definitions": [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    ],
    "gen_ai.conversation.id": "conv_42",
    "user.id": "user-7",
}


def test_invoke_agent_is_an_agent_span_and_defines_the_agent() -> None:
    run = translated(
        otel_span(ROOT, "invoke_agent Weather bot", AGENT),
        otel_span(LLM, "chat", {"gen_ai.operation.name": "chat"}, parent=ROOT),
    )
    root = by_type(run, ROOT)["tool_call_request"]
    assert root["spanKind"] == "agent" and root["spanName"] == "Weather bot"
    assert root["agentName"] == "Weather bot"
    assert [(a.name, a.metadata) for a in run.agents] == [
        (
            "Weather bot",
            {
                "systemPrompt": "Be brief.",
                "tools": [{"name": "get_weather", "inputSchema": {"type": "object"}}],
                "description": "Answers weather questions",
            },
        )
    ]
    child = by_type(run, LLM)["user_message"]
    assert child["agentName"] == "Weather bot"  # the nearest agent ancestor
    assert child["threadId"] == "conv_42" and child["externalUserId"] == "user-7"
    assert child["parentSpanId"] == ROOT


def test_create_agent_defines_the_agent_once_per_definition() -> None:
    attrs = {**AGENT, "gen_ai.operation.name": "create_agent"}
    run = translated(
        otel_span(ROOT, "create_agent Weather bot", attrs),
        otel_span(LLM, "create_agent Weather bot", attrs),
        otel_span(TOOL, "create_agent Weather bot", {**attrs, "gen_ai.system_instructions": "v2"}),
    )
    assert [a.metadata["systemPrompt"] for a in run.agents] == ["Be brief.", "v2"]


def test_agent_without_definition_fields_registers_nothing() -> None:
    run = translated(
        otel_span(ROOT, "invoke_agent helper", {"gen_ai.operation.name": "invoke_agent"})
    )
    assert run.agents == []
    assert by_type(run, ROOT)["tool_call_request"]["agentName"] == "helper"


def test_agent_name_falls_back_to_the_service_then_the_default() -> None:
    plain = otel_span(OTHER, "GET /orders", {"http.request.method": "GET"})
    assert translated(plain).events[0]["agentName"] == "checkout"
    assert translated(plain, resource={}).events[0]["agentName"] == "default"


def test_a_deep_chain_of_spans_reads_each_span_once_for_what_it_inherits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Agent, thread and user come from the nearest ancestor: each span's own attributes are
    read once however deep the tree, so a hostile chain costs linear time, not quadratic."""
    import whyops.otlp.inbound as inbound

    reads: list[str] = []
    real = inbound.own_agent_name

    def counted(attributes: Any, span_name: str) -> str | None:
        reads.append(span_name)
        return real(attributes, span_name)

    monkeypatch.setattr(inbound, "own_agent_name", counted)
    depth = 300
    ids = [f"{n + 1:016x}" for n in range(depth)]
    chain = [otel_span(ids[0], "root", {"gen_ai.conversation.id": "conv-9"})]
    chain += [otel_span(ids[n], f"step {n}", {}, parent=ids[n - 1]) for n in range(1, depth)]
    run = translated(*reversed(chain))
    assert len(reads) == depth
    assert {e["agentName"] for e in run.events} == {"checkout"}
    assert {e["threadId"] for e in run.events} == {"conv-9"}


def test_thread_and_user_reach_every_span_of_the_trace() -> None:
    run = translated(
        otel_span(ROOT, "root", {"session.id": "sess-1", "enduser.id": "u1"}),
        otel_span(LLM, "sibling", {}, parent="9999999999999999"),
    )
    assert {e["threadId"] for e in run.events} == {"sess-1"}
    assert {e["externalUserId"] for e in run.events} == {"u1"}


def test_ids_and_parents_are_kept_and_keys_are_deterministic() -> None:
    spans = (
        otel_span(ROOT, "invoke_agent a", AGENT),
        otel_span(LLM, "chat", CHAT, parent=ROOT),
        otel_span(TOOL, "x", {}, parent=LLM),
    )
    first, again = translated(*spans), translated(*spans)
    assert first.events == again.events
    assert {e["traceId"] for e in first.events} == {TRACE}
    assert [
        (e["spanId"], e.get("parentSpanId"))
        for e in first.events
        if e["idempotencyKey"].endswith(":0")
    ] == [
        (ROOT, None),
        (LLM, ROOT),
        (TOOL, LLM),
    ]
    keys = [e["idempotencyKey"] for e in first.events]
    assert len(set(keys)) == len(keys)
    assert keys[2:5] == [f"{LLM}:0", f"{LLM}:1", f"{LLM}:2"]


def test_plain_span_keeps_attributes_status_and_events_and_its_exception_is_the_error() -> None:
    span = otel_span(
        OTHER,
        "POST /charge",
        {"http.response.status_code": 502, "error.type": "502", "tags": ["a", "b"]},
        events=[
            ("retry", {"attempt": 2}),
            (
                "exception",
                {
                    "exception.type": "PaymentError",
                    "exception.message": "card declined",
                    "exception.stacktrace": "Traceback ...",
                },
            ),
        ],
        status=(2, "upstream failed"),
    )
    events = by_type(translated(span), OTHER)
    assert set(events) == {"tool_call_request", "error"}
    error = events["error"]
    assert error["content"] == {
        "message": "PaymentError: card declined",
        "type": "PaymentError",
        "stack": "Traceback ...",
    }
    assert error["metadata"]["status"] == "error"
    attributes = error["metadata"]["attributes"]
    assert attributes["http.response.status_code"] == 502
    assert attributes["tags"] == ["a", "b"]
    assert attributes["otel.status_description"] == "upstream failed"
    assert attributes["otel.scope.name"] == "tests"
    assert attributes["otel.events"] == [
        {"name": "retry", "timeUnixNano": START, "attributes": {"attempt": 2}}
    ]


def test_error_status_without_an_exception_event_uses_error_type() -> None:
    span = otel_span(LLM, "chat", {**CHAT, "error.type": "timeout"}, status=(2, "timed out"))
    events = by_type(translated(span), LLM)
    assert "llm_response" not in events
    assert events["error"]["content"] == {"message": "timeout: timed out", "type": "timeout"}
    assert events["error"]["metadata"]["model"] == "gpt-4o-2024-08-06"


def test_status_ok_overrides_a_recorded_exception() -> None:
    span = otel_span(
        OTHER, "x", {}, events=[("exception", {"exception.type": "E"})], status=(1, "")
    )
    events = by_type(translated(span), OTHER)
    assert set(events) == {"tool_call_request", "tool_call_response"}
    assert events["tool_call_response"]["metadata"]["attributes"]["otel.events"][0]["name"] == (
        "exception"
    )


def test_json_in_attributes_that_cannot_be_stored_as_parsed_stays_text() -> None:
    deep = '{"a": "]]]]]]]]]]", "b": ' + "[" * 40 + "]" * 40 + "}"
    lone = '[{"role": "user", "parts": [{"type": "text", "content": "\\ud800"}]}]'
    for text in (deep, lone):
        attrs = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.call.result": text}
        events = by_type(translated(otel_span(TOOL, "execute_tool t", attrs)), TOOL)
        assert events["tool_call_response"]["content"]["toolResults"] == text
    binary = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.call.result": b"\x00\xff"}
    events = by_type(translated(otel_span(TOOL, "execute_tool t", binary)), TOOL)
    assert events["tool_call_response"]["content"]["toolResults"] == "AP8="  # base64
    nan = {"gen_ai.request.temperature": float("nan"), "gen_ai.operation.name": "chat"}
    events = by_type(translated(otel_span(LLM, "chat", nan)), LLM)
    assert events["user_message"]["metadata"]["params"] == {"temperature": "nan"}
