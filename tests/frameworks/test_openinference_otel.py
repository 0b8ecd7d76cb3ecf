"""OpenInference: openinference-instrumentation-openai on the openai client, with the
agent and tool spans of OpenInference's own tracer (`OITracer`), exporting OTLP to `whyops serve`
while the model calls go through the proxy to the simulator. The run reads back with the model,
provider and usage of each call, the tool call asked for, the tool execution, and the session
as the thread."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest

from tests.otlp.otel_sdk_support import by_id, fetch_spans, provider_to

from .support import ASK, TOOLS, look_up_order, require

instrumentation = require("openinference.instrumentation")
openinference_openai = require("openinference.instrumentation.openai")
require("opentelemetry.exporter.otlp.proto.http.trace_exporter")


@pytest.fixture
def traced(served: Any) -> Iterator[Any]:
    """The openai client instrumented for the test (and uninstrumented after it: the other
    framework modules use the same client classes), exporting to the served whyops."""
    tracer_provider = provider_to(served.base_url, served.api_key, service="support")
    instrumentor = openinference_openai.OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    try:
        yield tracer_provider
    finally:
        instrumentor.uninstrument()
        tracer_provider.shutdown()


def support_agent(tracer: Any, stream: bool) -> Any:
    client = openai.OpenAI()  # OPENAI_BASE_URL: the proxy (the `served` fixture)

    @tracer.tool
    def get_order(order_id: str) -> dict[str, str]:
        """Look up an order by its id."""
        return look_up_order(order_id)

    def complete(messages: list[dict[str, Any]]) -> Any:
        if not stream:
            return client.chat.completions.create(
                model="gpt-4o-mini", messages=messages, tools=TOOLS
            )
        with client.chat.completions.stream(
            model="gpt-4o-mini",
            messages=messages,
            tools=TOOLS,
            stream_options={"include_usage": True},
        ) as events:
            return events.get_final_completion()

    @tracer.agent(name="order-support")
    def answer(question: str) -> str:
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": "You help customers with their orders."},
            {"role": "user", "content": question},
        ]
        asked = complete(messages).choices[0].message
        [call] = asked.tool_calls
        result = get_order(**json.loads(call.function.arguments))
        messages += [
            asked.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)},
        ]
        return str(complete(messages).choices[0].message.content)

    return answer


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_openinference_run_reads_back_with_model_usage_and_tools(stream, served, traced):
    tracer = instrumentation.OITracer(
        traced.get_tracer("support"), config=instrumentation.TraceConfig()
    )
    session = f"session-{uuid.uuid4().hex}"
    with instrumentation.using_session(session):
        with tracer.start_as_current_span(
            "support request", openinference_span_kind="chain"
        ) as root:
            output = support_agent(tracer, stream)(ASK)
    assert "shipped" in output
    assert traced.force_flush(10_000)

    trace_id = format(root.get_span_context().trace_id, "032x")
    root_id = format(root.get_span_context().span_id, "016x")
    spans = by_id(fetch_spans(served.base_url, served.api_key, trace_id, 5))
    [agent] = [span for span in spans.values() if span["kind"] == "agent"]
    assert agent["name"] == "order-support"
    assert agent["parentSpanId"] == root_id
    assert ASK in json.dumps(agent["inputs"])
    assert "shipped" in json.dumps(agent["output"])

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

    events = httpx2.get(
        f"{served.base_url}/api/events",
        params={"traceId": trace_id, "limit": 200},
        headers={"Authorization": f"Bearer {served.api_key}"},
    ).json()["events"]
    assert {event["threadId"] for event in events} == {session}
