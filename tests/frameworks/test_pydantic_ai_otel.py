"""pydantic-ai with its OpenTelemetry instrumentation on (the `Instrumentation` capability
with a TracerProvider of the test's own), exporting OTLP to `whyops serve`, while its model
calls go through the proxy to the simulator: the run reads back as an agent span over two
model calls (model, usage, the tool call asked for) and the tool execution, and the usage
pydantic-ai reported is the usage the proxy recorded for the same answer."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx2
import openai
import pytest

from tests.otlp.otel_sdk_support import by_id, fetch_spans, provider_to

from .support import ASK, look_up_order, require

pydantic_ai = require("pydantic_ai")
openai_models = require("pydantic_ai.models.openai")
openai_providers = require("pydantic_ai.providers.openai")
instrumented = require("pydantic_ai.models.instrumented")
instrumentation = require("pydantic_ai.capabilities.instrumentation")
require("opentelemetry.sdk.trace")
require("opentelemetry.exporter.otlp.proto.http.trace_exporter")


def get_order(order_id: str) -> dict[str, str]:
    """Look up an order by its id."""
    return look_up_order(order_id)


def instrumented_agent(api: str, tracer_provider: Any) -> Any:
    """The support agent on the simulator (OPENAI_BASE_URL: the proxy), traced by pydantic-ai."""
    provider = openai_providers.OpenAIProvider(openai_client=openai.AsyncOpenAI())
    model_class = (
        openai_models.OpenAIResponsesModel if api == "responses" else openai_models.OpenAIChatModel
    )
    settings = instrumented.InstrumentationSettings(tracer_provider=tracer_provider)
    agent = pydantic_ai.Agent(
        model_class("gpt-4o-mini", provider=provider),
        name="order-support",
        instructions="You help customers with their orders.",
        capabilities=[instrumentation.Instrumentation(settings=settings)],
    )
    agent.tool_plain(get_order)
    return agent


def proxied_answer(served: Any, call_id: str, otel_trace: str) -> dict[str, Any]:
    """The proxy's own record of the model answer that asked for tool call `call_id`."""
    deadline = time.monotonic() + 10
    while True:
        answer = httpx2.get(
            f"{served.base_url}/api/events",
            params={"include": "content,metadata", "limit": 200},
            headers={"Authorization": f"Bearer {served.api_key}"},
            timeout=10,
        )
        answer.raise_for_status()
        found = [
            event
            for event in answer.json()["events"]
            if event["eventType"] == "llm_response"
            and event["traceId"] != otel_trace
            and call_id in json.dumps(event.get("content"))
        ]
        if found or time.monotonic() > deadline:
            assert len(found) == 1, found
            return dict(found[0])
        time.sleep(0.05)


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_instrumented_run_reads_back_with_model_usage_and_tools(api, served):
    tracer_provider = provider_to(served.base_url, served.api_key, service="support")
    tracer = tracer_provider.get_tracer("support")
    with tracer.start_as_current_span(f"support request {uuid.uuid4().hex[:8]}") as request:
        result = instrumented_agent(api, tracer_provider).run_sync(ASK)
    assert "shipped" in result.output
    assert tracer_provider.force_flush(10_000)
    tracer_provider.shutdown()

    trace_id = format(request.get_span_context().trace_id, "032x")
    request_id = format(request.get_span_context().span_id, "016x")
    spans = by_id(fetch_spans(served.base_url, served.api_key, trace_id, 5))
    [agent] = [span for span in spans.values() if span["kind"] == "agent"]
    assert agent["name"] == "order-support"
    assert agent["parentSpanId"] == request_id
    calls = sorted(
        (span for span in spans.values() if span["kind"] == "llm"), key=lambda s: s["offsetMs"]
    )
    assert len(calls) == 2, [span["name"] for span in spans.values()]
    for call in calls:
        assert call["parentSpanId"] == agent["id"]
        assert call["model"].startswith("gpt-4o-mini")
        assert call["provider"] == "openai"
        assert call["usage"]["promptTokens"] > 0 and call["usage"]["completionTokens"] > 0
    assert ASK in json.dumps(calls[0]["inputs"])
    [asked] = calls[0]["output"]["toolCalls"]
    assert asked["function"]["name"] == "get_order"
    assert json.loads(asked["function"]["arguments"]) == {"order_id": "1234"}
    assert "shipped" in calls[1]["output"]["content"]

    [tool] = [span for span in spans.values() if span["kind"] == "tool"]
    assert tool["name"] == "get_order"
    assert tool["parentSpanId"] == agent["id"]
    assert tool["inputs"] == {"order_id": "1234"}
    assert tool["output"] == {"order_id": "1234", "status": "shipped", "carrier": "ups"}

    proxied = proxied_answer(served, asked["id"], trace_id)
    usage = proxied["metadata"]["usage"]
    assert usage["promptTokens"] == calls[0]["usage"]["promptTokens"]
    assert usage["completionTokens"] == calls[0]["usage"]["completionTokens"]
