"""Two real services on loopback, one calling the other: one connected trace in the server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import whyops
from whyops._tracer import TRACER
from whyops.integrations.asgi import WhyOpsMiddleware
from whyops.integrations.httpx import instrument


def billing_service() -> WhyOpsMiddleware:
    @whyops.tool("charge_card")
    def charge_card(customer: str, cents: int) -> dict:
        return {"customer": customer, "charged": cents}

    async def invoice(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse(charge_card(request.path_params["customer"], body["cents"]))

    app = Starlette(routes=[Route("/invoices/{customer}", invoice, methods=["POST"])])
    return WhyOpsMiddleware(app, agent_name="billing")


def support_service(billing_url: str) -> WhyOpsMiddleware:
    http = instrument(httpx2.AsyncClient(base_url=billing_url))

    @whyops.tool("bill_customer")
    async def bill_customer(customer: str, cents: int) -> dict:
        answer = await http.post(f"/invoices/{customer}", json={"cents": cents})
        answer.raise_for_status()
        return answer.json()

    @whyops.agent("support")
    async def handle(message: str) -> dict:
        receipt = await bill_customer("ada", 1200)
        return {"trace_id": whyops.current_trace_id(), "receipt": receipt, "message": message}

    async def chat(request: Request) -> JSONResponse:
        return JSONResponse(await handle((await request.json())["message"]))

    app = Starlette(routes=[Route("/chat", chat, methods=["POST"])])
    return WhyOpsMiddleware(app, agent_name="support")


@pytest.fixture
def export_to(server) -> Iterator[None]:
    """Send spans to the test server over HTTP (as a configured app would) for one test."""
    from whyops.export.http import HttpExporter

    exporter = HttpExporter(analyse_url=server.base_url + "/api", api_key=server.api_key)
    with TRACER.use_exporter(exporter):
        yield


def fetch_spans(server, trace_id: str, expected: int) -> dict:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    url = f"{server.base_url}/api/traces/{trace_id}/spans"
    deadline = time.monotonic() + 10
    while True:
        answer = httpx2.get(url, headers=headers)
        if answer.status_code == 200 and answer.json()["spanCount"] >= expected:
            return answer.json()
        assert time.monotonic() < deadline, f"trace not stored: {answer.status_code} {answer.text}"
        time.sleep(0.05)


def test_callee_spans_sit_under_the_callers_span(server, export_to, serve_asgi):
    with serve_asgi(billing_service()) as billing_url:
        with serve_asgi(support_service(billing_url)) as support_url:
            answer = httpx2.post(f"{support_url}/chat", json={"message": "bill me"}, timeout=10)
    assert answer.status_code == 200, answer.text
    trace_id = answer.json()["trace_id"]
    assert answer.headers["x-trace-id"] == trace_id
    assert TRACER.flush(timeout=10).ok

    tree = fetch_spans(server, trace_id, expected=5)
    spans = {span["name"]: span for span in tree["spans"]}
    parent_of = {name: span["parentSpanId"] for name, span in spans.items()}
    id_of = {name: span["id"] for name, span in spans.items()}
    assert parent_of == {
        "POST /chat": None,
        "support": id_of["POST /chat"],
        "bill_customer": id_of["support"],
        "POST /invoices/{customer}": id_of["bill_customer"],
        "charge_card": id_of["POST /invoices/{customer}"],
    }
    assert tree["rootIds"] == [id_of["POST /chat"]]
    assert spans["charge_card"]["kind"] == "tool"
