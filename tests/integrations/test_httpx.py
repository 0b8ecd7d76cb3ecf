"""The opt-in httpx/httpx2 hook that carries the ambient trace to other services."""

from __future__ import annotations

import httpx2
import pytest

import whyops
from whyops.integrations import httpx as propagation


def recording_transport(seen: list[httpx2.Request]) -> httpx2.MockTransport:
    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"ok": True})

    return httpx2.MockTransport(handler)


def test_requests_inside_a_span_carry_trace_and_parent(whyops_traces):
    seen: list[httpx2.Request] = []
    client = propagation.instrument(httpx2.Client(transport=recording_transport(seen)))
    with whyops.trace_context(external_user_id="user-1"), whyops.span("call billing") as span:
        client.get("http://billing.internal/invoices")
    headers = seen[0].headers
    assert headers["x-trace-id"] == span.trace_id
    assert headers["x-thread-id"] == span.trace_id
    assert headers["x-parent-span-id"] == span.span_id
    assert headers["traceparent"] == f"00-{span.trace_id}-{span.span_id}-01"
    assert headers["x-external-user-id"] == "user-1"


def test_requests_outside_any_trace_are_left_alone(whyops_traces):
    seen: list[httpx2.Request] = []
    client = propagation.instrument(httpx2.Client(transport=recording_transport(seen)))
    client.get("http://billing.internal/")
    assert not {"x-trace-id", "x-parent-span-id", "traceparent"} & set(seen[0].headers)


def test_a_trace_set_by_the_caller_is_kept(whyops_traces):
    seen: list[httpx2.Request] = []
    client = propagation.instrument(httpx2.Client(transport=recording_transport(seen)))
    with whyops.span("work"):
        client.get("http://billing.internal/", headers={"X-Trace-ID": "pinned"})
    assert seen[0].headers["x-trace-id"] == "pinned"
    assert "x-parent-span-id" not in seen[0].headers  # the ambient span is in another trace


def test_trace_context_without_span_sends_the_trace_only(whyops_traces):
    seen: list[httpx2.Request] = []
    client = propagation.instrument(httpx2.Client(transport=recording_transport(seen)))
    with whyops.trace_context(trace_id="conversation-5", thread_id="thread-5"):
        client.get("http://billing.internal/")
    headers = seen[0].headers
    assert (headers["x-trace-id"], headers["x-thread-id"]) == ("conversation-5", "thread-5")
    assert "x-parent-span-id" not in headers and "traceparent" not in headers


async def test_async_client_gets_an_async_hook(whyops_traces):
    seen: list[httpx2.Request] = []
    client = propagation.instrument(httpx2.AsyncClient(transport=recording_transport(seen)))
    async with whyops.span("fan out") as span:
        await client.get("http://billing.internal/")
    assert seen[0].headers["x-parent-span-id"] == span.span_id
    await client.aclose()


def test_instrument_is_idempotent_and_undoable(whyops_traces):
    seen: list[httpx2.Request] = []
    client = httpx2.Client(transport=recording_transport(seen))
    assert propagation.instrument(propagation.instrument(client)) is client
    assert client.event_hooks["request"] == [propagation.inject_headers]
    propagation.uninstrument(client)
    with whyops.span("work"):
        client.get("http://billing.internal/")
    assert "x-trace-id" not in seen[0].headers


def test_hook_function_can_be_passed_at_construction(whyops_traces):
    seen: list[httpx2.Request] = []
    client = httpx2.Client(
        transport=recording_transport(seen),
        event_hooks={"request": [propagation.inject_headers]},
    )
    with whyops.span("work") as span:
        client.get("http://billing.internal/")
    assert seen[0].headers["x-parent-span-id"] == span.span_id


def test_a_broken_context_never_breaks_the_request(whyops_traces, monkeypatch):
    import whyops._context

    def explode():
        raise RuntimeError("boom")

    monkeypatch.setattr(whyops._context, "current_trace", explode)
    seen: list[httpx2.Request] = []
    client = propagation.instrument(httpx2.Client(transport=recording_transport(seen)))
    assert client.get("http://billing.internal/").status_code == 200


@pytest.mark.parametrize("name", ["httpx"])
def test_legacy_httpx_clients_work_too(whyops_traces, name):
    httpx = pytest.importorskip(name)
    seen: list = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200)

    client = propagation.instrument(httpx.Client(transport=httpx.MockTransport(handler)))
    with whyops.span("work") as span:
        client.get("http://billing.internal/")
    assert seen[0].headers["x-parent-span-id"] == span.span_id
