"""A support agent's run as an OpenTelemetry-instrumented service records it, and how it must
read back from `whyops serve`: shared by the OpenTelemetry SDK tests here and the JSON
exporter test of the frameworks venv (tests/frameworks/test_otel_sdk_json.py).

The spans carry the GenAI semantic conventions the way instrumentations write them with the
OpenTelemetry Python SDK (structured values as JSON text: attributes are primitives or lists).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import attrs
import httpx2

ASK = "Where is order 1234?"
SYSTEM = "You help customers with their orders."
ANSWER = "Order 1234 has shipped with UPS."
CALL_ID = "call_get_order_1"
MODEL = "gpt-4o-mini"


@attrs.frozen
class RunIds:
    """The ids of one emitted run, as hex (what OTLP carries and whyops keeps)."""

    trace_id: str
    conversation_id: str
    agent: str
    ask: str
    tool: str
    answer: str
    lookup: str


@contextmanager
def sdk_enabled() -> Iterator[None]:
    """The SDK on for a provider built in the block (the frameworks venv turns it off for
    everything else with OTEL_SDK_DISABLED; a TracerProvider reads it when built)."""
    saved = os.environ.pop("OTEL_SDK_DISABLED", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["OTEL_SDK_DISABLED"] = saved


def provider_for(exporter: Any, service: str = "checkout") -> Any:
    """A TracerProvider batching into `exporter`, as an application sets one up."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    with sdk_enabled():
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=50))
    return provider


def provider_to(base_url: str, api_key: str, service: str = "checkout") -> Any:
    """A TracerProvider exporting OTLP/HTTP protobuf to a `whyops serve` at `base_url`."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    headers = {"Authorization": f"Bearer {api_key}"}
    return provider_for(
        OTLPSpanExporter(endpoint=f"{base_url}/v1/traces", headers=headers), service
    )


def recording(exporter: Any) -> Any:
    """`exporter` wrapped so the test sees each export's result (force_flush does not say)."""
    from opentelemetry.sdk.trace.export import SpanExporter

    class Recording(SpanExporter):
        def __init__(self) -> None:
            self.results: list[Any] = []

        def export(self, spans: Sequence[Any]) -> Any:
            result = exporter.export(spans)
            self.results.append(result)
            return result

        def shutdown(self) -> None:
            exporter.shutdown()

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            return bool(exporter.force_flush(timeout_millis))

    return Recording()


def _hex(span: Any) -> str:
    return format(span.get_span_context().span_id, "016x")


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def emit_support_run(tracer: Any, conversation_id: str) -> RunIds:
    """invoke_agent → chat (asks for get_order) → execute_tool → chat (answers), and a plain
    span that fails, with usage, messages, finish reasons and the tool call's id."""
    from opentelemetry.trace import SpanKind, Status, StatusCode

    agent_attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "order-support",
        "gen_ai.agent.description": "Answers questions about orders.",
        "gen_ai.conversation.id": conversation_id,
        "gen_ai.provider.name": "openai",
    }
    with tracer.start_as_current_span(
        "invoke_agent order-support", attributes=agent_attributes
    ) as agent:
        with tracer.start_as_current_span(
            f"chat {MODEL}", kind=SpanKind.CLIENT, attributes=_ask_attributes(conversation_id)
        ) as ask:
            pass
        tool_attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "get_order",
            "gen_ai.tool.type": "function",
            "gen_ai.tool.call.id": CALL_ID,
            "gen_ai.tool.call.arguments": _json({"order_id": "1234"}),
            "gen_ai.tool.call.result": _json({"order_id": "1234", "status": "shipped"}),
        }
        with tracer.start_as_current_span(
            "execute_tool get_order", attributes=tool_attributes
        ) as tool:
            with tracer.start_as_current_span("SELECT orders") as lookup:
                lookup.set_attribute("db.system.name", "sqlite")
                lookup.record_exception(KeyError("carrier"))
                lookup.set_status(Status(StatusCode.ERROR, "carrier column missing"))
        with tracer.start_as_current_span(
            f"chat {MODEL}", kind=SpanKind.CLIENT, attributes=_answer_attributes(conversation_id)
        ) as answer:
            pass
    return RunIds(
        trace_id=format(agent.get_span_context().trace_id, "032x"),
        conversation_id=conversation_id,
        agent=_hex(agent),
        ask=_hex(ask),
        tool=_hex(tool),
        answer=_hex(answer),
        lookup=_hex(lookup),
    )


def _chat_attributes(conversation_id: str, output_tokens: int, finish: str) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": f"{MODEL}-2024-07-18",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.response.finish_reasons": (finish,),
        "gen_ai.conversation.id": conversation_id,
        "gen_ai.usage.input_tokens": 31,
        "gen_ai.usage.output_tokens": output_tokens,
        "gen_ai.usage.cache_read.input_tokens": 8,
        "gen_ai.system_instructions": _json([{"type": "text", "content": SYSTEM}]),
    }


def _ask_attributes(conversation_id: str) -> dict[str, Any]:
    call = {
        "type": "tool_call",
        "id": CALL_ID,
        "name": "get_order",
        "arguments": {"order_id": "1234"},
    }
    return {
        **_chat_attributes(conversation_id, 9, "tool_calls"),
        "gen_ai.response.id": "chatcmpl-ask",
        "gen_ai.input.messages": _json(
            [{"role": "user", "parts": [{"type": "text", "content": ASK}]}]
        ),
        "gen_ai.output.messages": _json(
            [{"role": "assistant", "parts": [call], "finish_reason": "tool_call"}]
        ),
    }


def _answer_attributes(conversation_id: str) -> dict[str, Any]:
    response = {
        "type": "tool_call_response",
        "id": CALL_ID,
        "response": {"order_id": "1234", "status": "shipped"},
    }
    return {
        **_chat_attributes(conversation_id, 12, "stop"),
        "gen_ai.response.id": "chatcmpl-answer",
        "gen_ai.input.messages": _json(
            [
                {"role": "user", "parts": [{"type": "text", "content": ASK}]},
                {"role": "tool", "parts": [response]},
            ]
        ),
        "gen_ai.output.messages": _json(
            [
                {
                    "role": "assistant",
                    "parts": [{"type": "text", "content": ANSWER}],
                    "finish_reason": "stop",
                }
            ]
        ),
    }


def fetch_spans(base_url: str, api_key: str, trace_id: str, expected: int) -> dict[str, Any]:
    """`GET /api/traces/{id}/spans` once `expected` spans are stored (10 s at most)."""
    headers = {"Authorization": f"Bearer {api_key}"}
    url = f"{base_url}/api/traces/{trace_id}/spans"
    deadline = time.monotonic() + 10
    while True:
        answer = httpx2.get(url, headers=headers, timeout=10)
        if answer.status_code == 200 and answer.json()["spanCount"] >= expected:
            return dict(answer.json())
        assert time.monotonic() < deadline, f"trace not stored: {answer.status_code} {answer.text}"
        time.sleep(0.05)


def by_id(trace: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {span["id"]: span for span in trace["spans"]}


def check_support_run(trace: dict[str, Any], ids: RunIds) -> None:
    """The run as the read API gives it back: same ids and tree, each span's kind, the model
    calls with model, provider and usage, the tool with its arguments and result, the
    failing plain span with its error."""
    assert trace["traceId"] == ids.trace_id
    assert trace["agentName"] == "order-support"
    spans = by_id(trace)
    assert set(spans) == {ids.agent, ids.ask, ids.tool, ids.answer, ids.lookup}
    assert trace["rootIds"] == [ids.agent]
    kinds = {sid: spans[sid]["kind"] for sid in spans}
    assert kinds == {
        ids.agent: "agent",
        ids.ask: "llm",
        ids.tool: "tool",
        ids.answer: "llm",
        ids.lookup: "span",
    }
    parents = {sid: spans[sid]["parentSpanId"] for sid in spans}
    assert parents == {
        ids.agent: None,
        ids.ask: ids.agent,
        ids.tool: ids.agent,
        ids.answer: ids.agent,
        ids.lookup: ids.tool,
    }
    for sid, completion_tokens in ((ids.ask, 9), (ids.answer, 12)):
        call = spans[sid]
        assert call["model"].startswith(MODEL), call
        assert call["provider"] == "openai", call
        assert call["usage"]["promptTokens"] == 31, call["usage"]
        assert call["usage"]["completionTokens"] == completion_tokens, call["usage"]
        assert call["usage"]["cacheReadTokens"] == 8, call["usage"]
        assert call["status"] == "ok"
    assert ASK in json.dumps(spans[ids.ask]["inputs"]), spans[ids.ask]["inputs"]
    [asked] = spans[ids.ask]["output"]["toolCalls"]
    assert (asked["id"], asked["function"]["name"]) == (CALL_ID, "get_order"), asked
    assert spans[ids.answer]["output"]["content"] == ANSWER, spans[ids.answer]["output"]
    tool = spans[ids.tool]
    assert tool["name"] == "get_order"
    assert tool["inputs"] == {"order_id": "1234"}
    assert tool["output"] == {"order_id": "1234", "status": "shipped"}
    lookup = spans[ids.lookup]
    assert lookup["name"] == "SELECT orders"
    assert lookup["status"] == "error"
    assert lookup["error"]["type"] == "KeyError", lookup["error"]
