"""ASGI middleware: one span per request that continues the caller's trace."""

from __future__ import annotations

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route

import whyops
from whyops.integrations.asgi import WhyOpsMiddleware

PARENT = "00f067aa0ba902b7"
W3C_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@whyops.tool
def lookup_order(order_id: str) -> dict:
    return {"id": order_id, "status": "shipped"}


async def order(request: Request) -> JSONResponse:
    return JSONResponse(lookup_order(request.path_params["order_id"]))


async def crash(request: Request) -> JSONResponse:
    raise RuntimeError("database is gone")


@whyops.agent(name="support-bot")
def answer_question(order_id: str) -> str:
    return lookup_order(order_id)["status"]


async def chat(request: Request) -> PlainTextResponse:
    return PlainTextResponse(answer_question(request.query_params["order"]))


async def teapot(request: Request) -> PlainTextResponse:
    return PlainTextResponse("no", status_code=503)


async def stream(request: Request) -> StreamingResponse:
    async def body():
        for part in ("a", "b"):
            with whyops.span(f"chunk {part}"):
                yield part

    return StreamingResponse(body())


def make_app(**options) -> WhyOpsMiddleware:
    inner = Starlette(
        routes=[
            Route("/orders/{order_id}", order),
            Route("/crash", crash),
            Route("/teapot", teapot),
            Route("/chat", chat),
            Route("/stream", stream),
            Mount("/v2", routes=[Route("/orders/{order_id}", order)]),
        ]
    )
    return WhyOpsMiddleware(inner, **options)


def client(app) -> httpx2.AsyncClient:
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx2.AsyncClient(transport=transport, base_url="http://service")


async def test_request_span_names_route_and_records_status(whyops_traces):
    async with client(make_app()) as http:
        answer = await http.get("/orders/42")
    assert answer.json() == {"id": "42", "status": "shipped"}
    request = whyops_traces.one("GET /orders/{order_id}")
    assert request.attributes == {
        "http.request.method": "GET",
        "url.path": "/orders/42",
        "http.route": "/orders/{order_id}",
        "http.response.status_code": 200,
    }
    assert request.parent_span_id is None
    tool = whyops_traces.assert_tool_called_once_with("lookup_order", order_id="42")
    assert tool.span.parent_span_id == request.span_id
    assert tool.span.trace_id == request.trace_id


async def test_incoming_whyops_headers_continue_the_callers_trace(whyops_traces):
    headers = {"X-Trace-ID": "caller-trace", "X-Parent-Span-ID": PARENT, "X-Thread-ID": "t-9"}
    async with client(make_app()) as http:
        answer = await http.get("/orders/1", headers=headers)
    assert answer.headers["x-trace-id"] == "caller-trace"
    request = whyops_traces.one("GET /orders/{order_id}")
    assert (request.trace_id, request.parent_span_id) == ("caller-trace", PARENT)
    assert request.thread_id == "t-9"
    assert whyops_traces.tool_calls()[0].span.trace_id == "caller-trace"


async def test_incoming_traceparent_continues_a_w3c_trace(whyops_traces):
    headers = {"traceparent": f"00-{W3C_TRACE}-{PARENT}-01"}
    async with client(make_app()) as http:
        await http.get("/orders/1", headers=headers)
    request = whyops_traces.one("GET /orders/{order_id}")
    assert (request.trace_id, request.parent_span_id) == (W3C_TRACE, PARENT)


async def test_each_request_without_headers_starts_its_own_trace(whyops_traces):
    async with client(make_app(agent_name="orders-service")) as http:
        await http.get("/orders/1")
        await http.get("/orders/2")
    first, second = whyops_traces.find(kind="span")
    assert first.trace_id != second.trace_id
    assert whyops_traces.trace_ids == [first.trace_id, second.trace_id]
    assert first.agent_name == second.agent_name == "orders-service"


async def test_an_agent_called_by_the_handler_names_an_unnamed_request_trace(whyops_traces):
    async with client(make_app()) as http:
        await http.get("/chat", params={"order": "7"})
    request = whyops_traces.one("GET /chat")
    agent = whyops_traces.one("support-bot")
    assert agent.parent_span_id == request.span_id
    assert {s.agent_name for s in whyops_traces.spans} == {"support-bot"}
    assert {e["agentName"] for e in whyops_traces.wire_events()} == {"support-bot"}


async def test_the_middlewares_agent_name_wins_over_an_agent_below(whyops_traces):
    async with client(make_app(agent_name="orders-service")) as http:
        await http.get("/chat", params={"order": "7"})
    assert {s.agent_name for s in whyops_traces.spans} == {"orders-service"}


async def test_starlette_add_middleware_and_response_trace_header(whyops_traces):
    app = Starlette(routes=[Route("/orders/{order_id}", order)])
    app.add_middleware(WhyOpsMiddleware, agent_name="orders")
    async with client(app) as http:
        answer = await http.get("/orders/5")
    request = whyops_traces.one("GET /orders/{order_id}")
    assert answer.headers["x-trace-id"] == request.trace_id
    assert request.agent_name == "orders"


async def test_an_exception_ends_the_span_with_the_error(whyops_traces):
    async with client(make_app()) as http:
        answer = await http.get("/crash")
    assert answer.status_code == 500
    request = whyops_traces.one("GET /crash")
    assert request.status.value == "error"
    assert request.exception.type == "RuntimeError"
    assert request.exception.message == "database is gone"
    assert request.attributes["http.response.status_code"] == 500


async def test_a_5xx_answer_marks_the_span_failed(whyops_traces):
    async with client(make_app()) as http:
        await http.get("/teapot")
    request = whyops_traces.one("GET /teapot")
    assert request.status.value == "error"
    assert request.exception.message == "503 Service Unavailable"


async def test_unmatched_path_keeps_the_raw_path_and_404(whyops_traces):
    async with client(make_app()) as http:
        await http.get("/nowhere")
    request = whyops_traces.one("GET /nowhere")
    assert request.status.value == "ok"
    assert request.attributes["http.response.status_code"] == 404
    assert "http.route" not in request.attributes


async def test_mounted_routes_include_the_mount_prefix(whyops_traces):
    async with client(make_app()) as http:
        await http.get("/v2/orders/3")
    assert whyops_traces.one("GET /v2/orders/{order_id}").attributes["url.path"] == "/v2/orders/3"


async def test_streamed_body_is_inside_the_request_span(whyops_traces):
    async with client(make_app()) as http:
        answer = await http.get("/stream")
    assert answer.text == "ab"
    request = whyops_traces.one("GET /stream")
    assert [c.name for c in whyops_traces.children(request)] == ["chunk a", "chunk b"]


async def test_excluded_paths_and_other_scopes_pass_through(whyops_traces):
    calls = []

    async def app(scope, receive, send):
        calls.append(scope["type"])

    middleware = WhyOpsMiddleware(app, exclude_paths=("/health",))
    await middleware({"type": "lifespan"}, None, None)
    await middleware({"type": "http", "path": "/health", "method": "GET"}, None, None)
    assert calls == ["lifespan", "http"]
    assert whyops_traces.spans == []


async def test_untraced_process_still_continues_the_callers_trace_id():
    """With tracing off, the incoming trace id is still ambient (for proxied model calls)."""
    seen = []

    async def app(scope, receive, send):
        seen.append((whyops.current_trace_id(), whyops.current_span()))

    await WhyOpsMiddleware(app)(
        {"type": "http", "path": "/", "method": "GET", "headers": [(b"x-trace-id", b"abc")]},
        None,
        None,
    )
    assert seen == [("abc", None)]


async def test_a_tracing_failure_never_fails_the_request(whyops_traces, monkeypatch):
    from whyops import _internal_errors
    from whyops.integrations import _request

    def broken(*args, **kwargs):
        raise RuntimeError("tracing bug")

    monkeypatch.setattr(_internal_errors, "RAISE", False)
    monkeypatch.setattr(_request, "trace_context", broken)
    async with client(make_app()) as http:
        answer = await http.get("/orders/1", headers={"X-Trace-ID": "t"})
    assert answer.status_code == 200
    assert whyops_traces.find(kind="span") == []
    whyops_traces.assert_tool_called_once_with("lookup_order", order_id="1")
