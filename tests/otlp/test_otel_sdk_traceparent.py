"""One request through a service instrumented with OpenTelemetry and one instrumented with
whyops, joined by a W3C `traceparent`: both report to the same `whyops serve` (OTLP and the
WhyOps ingest API), and the request reads back as one trace, each side under the other's span.
Real services on loopback, the real OpenTelemetry SDK and its W3C propagator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import whyops
from tests.integrations.conftest import _serve_asgi as serve_asgi
from tests.otlp.otel_sdk_support import by_id, fetch_spans, provider_for
from whyops._tracer import TRACER
from whyops.integrations.asgi import WhyOpsMiddleware
from whyops.integrations.httpx import instrument

otlp_http = pytest.importorskip(
    "opentelemetry.exporter.otlp.proto.http.trace_exporter", reason="the dev extra is not installed"
)


@pytest.fixture
def whyops_to(server) -> Iterator[None]:
    """whyops spans go to the test server over HTTP for one test."""
    from whyops.export.http import HttpExporter

    exporter = HttpExporter(analyse_url=server.base_url + "/api", api_key=server.api_key)
    with TRACER.use_exporter(exporter):
        yield


@pytest.fixture
def otel(server) -> Iterator[Any]:
    """An OpenTelemetry tracer exporting OTLP to the test server."""
    exporter = otlp_http.OTLPSpanExporter(
        endpoint=f"{server.base_url}/v1/traces",
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    provider = provider_for(exporter, service="storefront")
    try:
        yield provider.get_tracer("storefront")
    finally:
        provider.shutdown()


def w3c() -> Any:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator()


def hex_ids(span: Any) -> tuple[str, str]:
    context = span.get_span_context()
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def refunds_service() -> WhyOpsMiddleware:
    """A service instrumented with whyops: its middleware and a `@whyops.tool`."""

    @whyops.tool("issue_refund")
    def issue_refund(order_id: str, cents: int) -> dict[str, Any]:
        return {"order_id": order_id, "refunded": cents}

    async def refund(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse(issue_refund(request.path_params["order_id"], body["cents"]))

    app = Starlette(routes=[Route("/refunds/{order_id}", refund, methods=["POST"])])
    return WhyOpsMiddleware(app, agent_name="refunds")


def test_an_otel_caller_and_a_whyops_service_share_one_trace(server, whyops_to, otel):
    from opentelemetry.trace import SpanKind

    with serve_asgi(refunds_service()) as refunds_url:
        agent_attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "store"}
        with otel.start_as_current_span("invoke_agent store", attributes=agent_attributes) as agent:
            with otel.start_as_current_span("POST /refunds", kind=SpanKind.CLIENT) as call:
                headers: dict[str, str] = {}
                w3c().inject(headers)
                answer = httpx2.post(
                    f"{refunds_url}/refunds/1234", json={"cents": 500}, headers=headers
                )
    assert answer.status_code == 200, answer.text
    assert TRACER.flush(timeout=10).ok
    trace_id, agent_id = hex_ids(agent)
    assert headers["traceparent"].startswith(f"00-{trace_id}-")

    spans = by_id(fetch_spans(server.base_url, server.api_key, trace_id, 4))
    named = {span["name"]: span for span in spans.values()}
    assert set(named) == {"store", "POST /refunds", "POST /refunds/{order_id}", "issue_refund"}
    call_id = hex_ids(call)[1]
    assert named["POST /refunds"]["id"] == call_id
    assert named["POST /refunds"]["parentSpanId"] == agent_id
    request_span = named["POST /refunds/{order_id}"]
    assert request_span["parentSpanId"] == call_id  # whyops, under the OpenTelemetry span
    assert named["issue_refund"]["parentSpanId"] == request_span["id"]
    assert named["issue_refund"]["kind"] == "tool"
    assert named["issue_refund"]["output"] == {"order_id": "1234", "refunded": 500}
    assert named["store"]["kind"] == "agent"


def stock_service(tracer: Any) -> Starlette:
    """A service instrumented with OpenTelemetry alone: it continues the caller's W3C trace
    and records its tool execution in the GenAI conventions."""

    async def check_stock(request: Request) -> JSONResponse:
        caller = w3c().extract(dict(request.headers))
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "check_stock",
            "gen_ai.tool.call.arguments": json.dumps({"sku": request.path_params["sku"]}),
            "gen_ai.tool.call.result": '{"in_stock": 3}',
        }
        with tracer.start_as_current_span(
            "execute_tool check_stock", context=caller, attributes=attributes
        ):
            return JSONResponse({"in_stock": 3})

    return Starlette(routes=[Route("/stock/{sku}", check_stock, methods=["GET"])])


def test_a_whyops_caller_and_an_otel_service_share_one_trace(server, whyops_to, otel):
    with serve_asgi(stock_service(otel)) as stock_url:
        http = instrument(httpx2.Client(base_url=stock_url))

        @whyops.agent("store-assistant")
        def assistant() -> dict[str, Any]:
            span = whyops.current_span()
            assert span is not None
            return {"stock": http.get("/stock/A-7").json(), "ids": (span.trace_id, span.span_id)}

        result = assistant()
    assert result["stock"] == {"in_stock": 3}
    trace_id, agent_id = result["ids"]
    assert TRACER.flush(timeout=10).ok

    spans = by_id(fetch_spans(server.base_url, server.api_key, trace_id, 2))
    assert agent_id in spans
    [tool] = [span for span in spans.values() if span["name"] == "check_stock"]
    assert tool["kind"] == "tool"
    assert tool["parentSpanId"] == agent_id  # OpenTelemetry, under the whyops agent
    assert tool["inputs"] == {"sku": "A-7"}
    assert tool["output"] == {"in_stock": 3}
    assert spans[agent_id]["kind"] == "agent"
    assert spans[agent_id]["parentSpanId"] is None
