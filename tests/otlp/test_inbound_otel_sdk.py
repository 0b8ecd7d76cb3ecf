"""Spans recorded by the real OpenTelemetry SDK, encoded by its own OTLP encoder, decoded by
whyops.otlp.proto and translated: the attribute types, ids and events an SDK really sends."""

from __future__ import annotations

import json

import pytest

from tests.otlp.inbound_support import by_type, valid
from tests.otlp.otel_sdk_support import sdk_enabled

pytest.importorskip("opentelemetry.sdk", reason="the OpenTelemetry SDK is a dev dependency")

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import Status, StatusCode

from whyops.otlp.inbound import translate
from whyops.otlp.proto import MEDIA_PROTOBUF, decode_request


def _recorded_run() -> tuple[list, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    with sdk_enabled():  # the frameworks' conftest turns the SDK off for the whole process
        provider = TracerProvider(resource=Resource.create({"service.name": "weather-svc"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("weather.instrumentation", "1.0")
    with tracer.start_as_current_span("invoke_agent Weather") as agent:
        agent.set_attributes(
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "Weather",
                "gen_ai.agent.description": "Says the weather",
                "gen_ai.conversation.id": "conv-1",
            }
        )
        with tracer.start_as_current_span("chat gpt-4o") as chat:
            chat.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.response.finish_reasons": ("tool_calls",),
                    "gen_ai.usage.input_tokens": 21,
                    "gen_ai.usage.output_tokens": 5,
                    "gen_ai.output.messages": json.dumps(
                        [
                            {
                                "role": "assistant",
                                "parts": [
                                    {
                                        "type": "tool_call",
                                        "id": "call_1",
                                        "name": "forecast",
                                        "arguments": {"city": "Rome"},
                                    }
                                ],
                            }
                        ]
                    ),
                }
            )
        with tracer.start_as_current_span("execute_tool forecast") as tool:
            tool.set_attributes(
                {
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": "forecast",
                    "gen_ai.tool.call.id": "call_1",
                    "gen_ai.tool.call.arguments": '{"city": "Rome"}',
                }
            )
            tool.record_exception(TimeoutError("radar down"))
            tool.set_status(Status(StatusCode.ERROR, "radar down"))
    provider.shutdown()
    return list(exporter.get_finished_spans()), exporter


def test_sdk_spans_through_the_protobuf_encoding() -> None:
    spans, _ = _recorded_run()
    body = encode_spans(spans).SerializeToString()
    result = valid(translate(decode_request(body, MEDIA_PROTOBUF)))
    assert (result.spans, result.rejected, result.errors) == (3, 0, [])
    ids = {span.name: (span.context, span.parent) for span in spans}
    agent_ctx, _ = ids["invoke_agent Weather"]
    chat_ctx, chat_parent = ids["chat gpt-4o"]
    tool_ctx, _ = ids["execute_tool forecast"]
    trace_id = f"{agent_ctx.trace_id:032x}"
    assert {e["traceId"] for e in result.events} == {trace_id}
    chat = by_type(result, f"{chat_ctx.span_id:016x}")
    assert chat["user_message"]["parentSpanId"] == f"{chat_parent.span_id:016x}"
    assert chat["llm_response"]["metadata"]["usage"] == {
        "promptTokens": 21,
        "completionTokens": 5,
        "totalTokens": 26,
    }
    assert chat["llm_response"]["content"]["finishReason"] == "tool_calls"
    assert chat["llm_response"]["content"]["toolCalls"][0]["id"] == "call_1"
    tool = by_type(result, f"{tool_ctx.span_id:016x}")
    assert tool["tool_call_request"]["content"]["toolCalls"][0]["id"] == "call_1"
    assert tool["error"]["content"]["type"] == "TimeoutError"
    assert tool["error"]["content"]["message"] == "TimeoutError: radar down"
    assert "TimeoutError: radar down" in tool["error"]["content"]["stack"]
    assert {e["agentName"] for e in result.events} == {"Weather"}
    assert {e["threadId"] for e in result.events} == {"conv-1"}
    assert [a.metadata["description"] for a in result.agents] == ["Says the weather"]
