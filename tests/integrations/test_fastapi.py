"""``@whyops.agent`` on FastAPI routes, with dependency injection, behind the middleware."""

from __future__ import annotations

import inspect

import httpx2
import pytest

import whyops
from whyops.integrations.asgi import WhyOpsMiddleware

fastapi = pytest.importorskip("fastapi")


@whyops.tool
def lookup_order(order_id: str) -> dict:
    return {"id": order_id, "status": "shipped"}


def client(app) -> httpx2.AsyncClient:
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx2.AsyncClient(transport=transport, base_url="http://service")


def make_fastapi_app() -> WhyOpsMiddleware:
    app = fastapi.FastAPI()

    def current_user(x_user: str = fastapi.Header(default="anonymous")) -> str:
        return x_user

    @app.post("/agents/{name}/ask")
    @whyops.agent("support")
    async def ask(
        name: str,
        question: dict,
        limit: int = 3,
        user: str = fastapi.Depends(current_user),
    ) -> dict:
        lookup_order(question["order_id"])
        return {"agent": name, "user": user, "limit": limit}

    return WhyOpsMiddleware(app)


async def test_agent_decorated_fastapi_route_keeps_dependency_injection(whyops_traces):
    async with client(make_fastapi_app()) as http:
        answer = await http.post(
            "/agents/support/ask?limit=5",
            json={"order_id": "77"},
            headers={"X-User": "ada", "X-Trace-ID": "from-gateway"},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"agent": "support", "user": "ada", "limit": 5}
    request = whyops_traces.one("POST /agents/{name}/ask")
    agent = whyops_traces.one("support", kind="agent")
    assert agent.parent_span_id == request.span_id
    assert agent.trace_id == "from-gateway"
    assert dict(agent.inputs) == {
        "name": "support",
        "question": {"order_id": "77"},
        "limit": 5,
        "user": "ada",
    }
    whyops_traces.assert_tool_called_once_with("lookup_order", order_id="77")


def test_agent_decorator_keeps_the_signature_fastapi_reads():
    app = make_fastapi_app().app
    route = next(r for r in app.routes if getattr(r, "path", "") == "/agents/{name}/ask")
    parameters = inspect.signature(route.endpoint).parameters
    assert list(parameters) == ["name", "question", "limit", "user"]
    assert inspect.iscoroutinefunction(route.endpoint)
