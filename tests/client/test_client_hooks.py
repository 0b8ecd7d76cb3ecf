"""The trace-header hook and provider detection, on plain httpx2 requests and client classes."""

from __future__ import annotations

import asyncio
import contextlib

import anthropic
import httpx2
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import whyops
from whyops._context import suppressed
from whyops.client import UnsupportedClientError
from whyops.client._detect import detect
from whyops.client._hooks import AsyncTraceHook, SyncTraceHook
from whyops.integrations.httpx import inject_headers


def hook_for(*bases: str) -> SyncTraceHook:
    hook = SyncTraceHook()
    for base in bases:
        hook.add_route(httpx2.URL(base + "/"))
    return hook


def sent_headers(hook, url: str, **headers: str) -> dict[str, str]:
    request = httpx2.Request("POST", url, headers=headers)
    hook(request)
    return {k: v for k, v in request.headers.items() if k.startswith("x-")}


@pytest.mark.parametrize(
    ("url", "routed"),
    [
        ("http://127.0.0.1:8787/v1/chat/completions", True),
        ("http://127.0.0.1:8787/v1", False),  # the prefix is the directory, not a string prefix
        ("http://127.0.0.1:8787/v10/chat", False),
        ("http://127.0.0.1:8788/v1/chat/completions", False),
        ("https://127.0.0.1:8787/v1/chat/completions", False),
        ("http://localhost:8787/v1/chat/completions", False),
    ],
)
def test_only_proxy_routes_get_headers(url, routed):
    """Scheme, host, port and path prefix must all match a registered proxy route."""
    hook = hook_for("http://127.0.0.1:8787/v1")
    with whyops.trace_context(trace_id="t"):
        assert bool(sent_headers(hook, url)) is routed


def test_nothing_outside_a_trace_or_when_suppressed():
    """No ambient trace, or whyops's own I/O: the request is left alone."""
    hook = hook_for("http://h/v1")
    assert sent_headers(hook, "http://h/v1/x") == {}
    with whyops.trace_context(trace_id="t"), suppressed():
        assert sent_headers(hook, "http://h/v1/x") == {}


def test_thread_id_and_case_insensitive_explicit_headers():
    """X-Thread-ID is the thread when set; explicit headers in any case are respected."""
    hook = hook_for("http://h/v1")
    with whyops.trace_context(trace_id="t", thread_id="th", external_user_id="u"):
        assert sent_headers(hook, "http://h/v1/x") == {
            "x-trace-id": "t",
            "x-thread-id": "th",
            "x-external-user-id": "u",
        }
        assert sent_headers(hook, "http://h/v1/x", **{"x-thread-id": "other"}) == {
            "x-thread-id": "other"
        }
        same = sent_headers(hook, "http://h/v1/x", **{"X-TRACE-ID": "t"})
        assert same == {"x-trace-id": "t", "x-external-user-id": "u"}


def test_async_hook_is_awaitable():
    """The async client's hook is a coroutine function doing the same work."""
    hook = AsyncTraceHook()
    hook.add_route(httpx2.URL("http://h/"))
    request = httpx2.Request("POST", "http://h/v1/messages")
    with whyops.trace_context(trace_id="t-async"):
        asyncio.run(hook(request))
    assert request.headers["x-trace-id"] == "t-async"


def test_routes_are_added_once():
    """Registering the same proxy twice keeps one route."""
    hook = hook_for("http://h/v1", "http://h/v1", "http://g")
    assert len(hook.routes) == 2


def test_detection():
    """Sync/async and user subclasses are recognised; AsyncAzureOpenAI is refused."""

    class MyAnthropic(anthropic.AsyncAnthropic):
        pass

    assert detect(openai.AsyncOpenAI(api_key="k"), "openai").is_async
    assert not detect(openai.OpenAI(api_key="k"), "openai").is_async
    assert detect(MyAnthropic(api_key="k"), "anthropic").client_class is MyAnthropic
    azure = openai.AsyncAzureOpenAI(
        api_key="k", api_version="2024-06-01", azure_endpoint="https://x"
    )
    with pytest.raises(UnsupportedClientError, match="Azure"):
        detect(azure, "openai")


W3C_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
_ids = st.sampled_from([W3C_TRACE, "order-run-42", "t"])
_explicit = st.dictionaries(
    st.sampled_from(["X-Trace-ID", "x-thread-id", "X-PARENT-SPAN-ID", "traceparent"]),
    st.sampled_from([W3C_TRACE, "other", "t"]),
    max_size=2,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    trace_id=_ids,
    thread_id=st.none() | st.just("thread-1"),
    user=st.none() | st.just("user-1"),
    explicit=_explicit,
    in_span=st.booleans(),
)
def test_proxied_and_service_calls_carry_the_same_headers(
    trace_id, thread_id, user, explicit, in_span
):
    """The proxy hook and the httpx propagation hook add the same headers by one rule."""
    hook = hook_for("http://h/v1")
    with whyops.trace_context(trace_id=trace_id, thread_id=thread_id, external_user_id=user):
        with whyops.Span("call") if in_span else contextlib.nullcontext():
            proxied = httpx2.Request("POST", "http://h/v1/chat", headers=explicit)
            service = httpx2.Request("POST", "http://h/v1/chat", headers=explicit)
            hook(proxied)
            inject_headers(service)
    assert dict(proxied.headers) == dict(service.headers)


def test_proxied_calls_carry_traceparent():
    """A proxied call inside a span with a W3C trace id carries W3C ``traceparent`` too."""
    hook = hook_for("http://h/v1")
    with whyops.trace_context(trace_id=W3C_TRACE), whyops.Span("call") as span:
        headers = sent_headers(hook, "http://h/v1/chat")
        request = httpx2.Request("POST", "http://h/v1/chat")
        hook(request)
    assert headers["x-parent-span-id"] == span.span_id
    assert request.headers["traceparent"] == f"00-{W3C_TRACE}-{span.span_id}-01"
