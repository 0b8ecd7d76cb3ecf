"""WSGI middleware and the Flask helper: one span per request, across the body's life."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from wsgiref.simple_server import WSGIRequestHandler, make_server

import flask
import httpx2
import pytest

import whyops
from whyops.integrations.wsgi import WhyOpsWSGIMiddleware, instrument_flask

PARENT = "00f067aa0ba902b7"


@whyops.tool
def refund(order_id: str, amount: float) -> str:
    return f"refunded {amount} on {order_id}"


def make_flask_app() -> flask.Flask:
    app = flask.Flask("refunds")

    @app.post("/orders/<order_id>/refund")
    def refund_view(order_id: str):
        return {"result": refund(order_id, flask.request.json["amount"])}

    @app.get("/explode")
    def explode():
        raise KeyError("missing config")

    @app.get("/stream")
    def stream():
        def body() -> Iterator[str]:
            for part in ("x", "y"):
                with whyops.span(f"part {part}"):
                    yield part

        return flask.Response(body())

    return instrument_flask(app, agent_name="refunds")


def wsgi_client(app) -> httpx2.Client:
    return httpx2.Client(transport=httpx2.WSGITransport(app=app), base_url="http://refunds")


def test_flask_request_span_with_route_template_and_tool_under_it(whyops_traces):
    with wsgi_client(make_flask_app()) as http:
        answer = http.post(
            "/orders/9/refund",
            json={"amount": 5.0},
            headers={"X-Trace-ID": "support-run", "X-Parent-Span-ID": PARENT},
        )
    assert answer.json() == {"result": "refunded 5.0 on 9"}
    assert answer.headers["x-trace-id"] == "support-run"
    request = whyops_traces.one("POST /orders/<order_id>/refund")
    assert (request.trace_id, request.parent_span_id) == ("support-run", PARENT)
    assert request.attributes["http.response.status_code"] == 200
    assert request.agent_name == "refunds"
    call = whyops_traces.assert_tool_called_once_with("refund", order_id="9", amount=5.0)
    assert call.span.parent_span_id == request.span_id


def test_flask_view_exception_is_recorded_though_flask_answers_500(whyops_traces):
    with wsgi_client(make_flask_app()) as http:
        assert http.get("/explode").status_code == 500
    request = whyops_traces.one("GET /explode")
    assert request.status.value == "error"
    assert request.exception.type == "KeyError"
    assert "missing config" in request.exception.message
    assert "raise KeyError" in request.exception.traceback


def test_streamed_flask_body_is_inside_the_request_span(whyops_traces):
    with wsgi_client(make_flask_app()) as http:
        assert http.get("/stream").text == "xy"
    request = whyops_traces.one("GET /stream")
    assert [c.name for c in whyops_traces.children(request)] == ["part x", "part y"]


def test_the_servers_context_is_never_touched(whyops_traces):
    def app(environ, start_response):
        start_response("200 OK", [("content-type", "text/plain")])
        return [whyops.current_trace_id().encode()]

    middleware = WhyOpsWSGIMiddleware(app)
    body = middleware({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_X_TRACE_ID": "t1"}, _noop)
    assert b"".join(body) == b"t1"
    assert whyops.current_trace_id() is None
    assert whyops_traces.spans == []  # the span ends when the server closes the body
    body.close()
    assert whyops_traces.one("GET /").trace_id == "t1"


def test_an_app_that_raises_before_answering_ends_the_span(whyops_traces):
    def app(environ, start_response):
        raise ConnectionError("upstream down")

    with pytest.raises(ConnectionError):
        WhyOpsWSGIMiddleware(app)({"REQUEST_METHOD": "GET", "PATH_INFO": "/x"}, _noop)
    span = whyops_traces.one("GET /x")
    assert (span.exception.type, span.attributes["http.response.status_code"]) == (
        "ConnectionError",
        500,
    )


def test_route_key_set_by_any_framework_names_the_span(whyops_traces):
    def app(environ, start_response):
        environ["whyops.route"] = "/items/{id}"
        start_response("204 No Content", [])
        return []

    WhyOpsWSGIMiddleware(app)({"REQUEST_METHOD": "DELETE", "PATH_INFO": "/items/4"}, _noop).close()
    assert whyops_traces.one("DELETE /items/{id}").attributes["http.route"] == "/items/{id}"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_flask_app_behind_a_real_wsgi_server_on_loopback(whyops_traces):
    server = make_server("127.0.0.1", 0, make_flask_app(), handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/orders/5/refund"
        with whyops.span("support agent") as caller:
            from whyops.integrations.httpx import instrument

            with instrument(httpx2.Client()) as http:
                assert http.post(url, json={"amount": 1.5}).status_code == 200
    finally:
        server.shutdown()
        server.server_close()
    request = whyops_traces.one("POST /orders/<order_id>/refund")
    assert (request.trace_id, request.parent_span_id) == (caller.trace_id, caller.span_id)
    assert whyops_traces.tool_calls("refund")[0].span.parent_span_id == request.span_id


def _noop(status, headers, exc_info=None):
    return lambda data: None


def test_asgi_and_wsgi_middleware_share_their_options() -> None:
    from whyops.integrations.asgi import WhyOpsMiddleware
    from whyops.integrations.wsgi import WhyOpsWSGIMiddleware

    assert WhyOpsMiddleware.__init__ is WhyOpsWSGIMiddleware.__init__
    wrapped = WhyOpsWSGIMiddleware(lambda e, s: [], agent_name="svc", exclude_paths=("/health",))
    assert (wrapped.agent_name, wrapped.exclude_paths) == ("svc", frozenset({"/health"}))
