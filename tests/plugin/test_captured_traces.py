"""What ``whyops_traces`` captures: spans, manual events, and patched provider calls."""

from __future__ import annotations

import threading

import httpx2
import pytest

import whyops
from whyops.testing import capture_traces

METADATA = {"systemPrompt": "You help with orders.", "tools": []}


@pytest.fixture
def sdk(monkeypatch):
    # Should anything escape the in-process answers, it hits a closed loopback port.
    monkeypatch.setenv("WHYOPS_BASE_URL", "http://127.0.0.1:9")
    return whyops.WhyOps(api_key="test-key", agent_name="support", agent_metadata=METADATA)


@whyops.tool("ask_model")
def ask_model(client, question: str) -> str:
    answer = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
    )
    return answer.choices[0].message.content


def test_patched_openai_calls_are_answered_and_carry_the_ambient_trace(whyops_traces, sdk):
    openai = pytest.importorskip("openai")
    client = sdk.openai(openai.OpenAI(api_key="sk-never-sent"))
    with whyops.span("turn"):
        text = ask_model(client, "hello")
    assert text  # a provider-shaped answer the real SDK parsed
    (request,) = whyops_traces.provider_requests
    tool = whyops_traces.one("ask_model", kind="tool")
    assert request.path == "/v1/chat/completions"
    assert (request.trace_id, request.parent_span_id) == (tool.trace_id, tool.span_id)
    assert request.agent_name == "support"
    assert request.body["messages"] == [{"role": "user", "content": "hello"}]
    assert whyops_traces.provider_requests_under(tool) == [request]


async def test_patched_async_anthropic_calls_are_captured(whyops_traces, sdk):
    anthropic = pytest.importorskip("anthropic")
    client = sdk.anthropic(anthropic.AsyncAnthropic(api_key="never-sent"))
    async with whyops.span("turn") as span:
        message = await client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=64,
            messages=[{"role": "user", "content": "hi"}],
        )
    assert message.content[0].type == "text"
    (request,) = whyops_traces.provider_requests
    assert request.path == "/v1/messages"
    assert request.parent_span_id == span.span_id


def test_manual_events_are_captured_with_their_parent_span(whyops_traces, sdk):
    with whyops.span("turn") as span:
        sdk.trace().user_message_sync([{"role": "user", "content": "where is my order?"}])
    (event,) = whyops_traces.events
    assert event["eventType"] == "user_message"
    assert event["traceId"] == span.trace_id
    assert event["parentSpanId"] == span.span_id
    assert event["content"] == {"messages": [{"role": "user", "content": "where is my order?"}]}


def test_wire_events_are_what_the_http_exporter_would_post(whyops_traces):
    with whyops.span("step"):
        pass
    kinds = [event["eventType"] for event in whyops_traces.wire_events()]
    assert kinds == ["tool_call_request", "tool_call_response"]


def test_other_http_traffic_is_not_intercepted(whyops_traces):
    with pytest.raises(httpx2.ConnectError):
        httpx2.post("http://127.0.0.1:9/v1/chat/completions", json={})
    assert whyops_traces.provider_requests == []


def test_spans_from_threads_are_captured(whyops_traces):
    @whyops.tool("work")
    def work(n: int) -> int:
        return n * 2

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(call.output for call in whyops_traces.tool_calls("work")) == [0, 2, 4, 6]


def test_queries_by_kind_name_and_attribute(whyops_traces):
    with whyops.span("fetch", attributes={"source": "db"}):
        pass
    with whyops.span("fetch", attributes={"source": "cache"}):
        pass
    assert len(whyops_traces.find("fetch")) == 2
    assert whyops_traces.find("fetch", source="cache")[0].attributes == {"source": "cache"}
    assert whyops_traces.find(kind="tool") == []
    with pytest.raises(AssertionError, match="expected exactly one span matching 'fetch'"):
        whyops_traces.one("fetch")


def test_tool_assertion_failures_list_the_actual_calls(whyops_traces):
    @whyops.tool("lookup")
    def lookup(key: str) -> str:
        return key

    lookup("a")
    lookup("b")
    with pytest.raises(AssertionError) as failure:
        whyops_traces.assert_tool_called_once_with("lookup", key="a")
    message = str(failure.value)
    assert "lookup(key='a') -> 'a'" in message and "lookup(key='b') -> 'b'" in message
    assert whyops_traces.assert_tool_called("lookup", key="b").output == "b"
    with pytest.raises(AssertionError, match="tool 'lookup' was called 2 time"):
        whyops_traces.assert_tool_not_called("lookup")
    with pytest.raises(AssertionError, match=r"(?s)tool 'missing' was never called.*\(no calls\)"):
        whyops_traces.assert_tool_called("missing")


def test_tree_of_one_trace_and_snapshot_without_ids(whyops_traces):
    with whyops.span("first"):
        pass
    with whyops.span("second"):
        with whyops.span("inner"):
            pass
    _first, second = whyops_traces.trace_ids
    whyops_traces.assert_tree("span second\n└── span inner", trace_id=second)
    assert [(s["trace"], s["span"], s["parent"]) for s in whyops_traces.snapshot()] == [
        ("trace-1", "span-1", None),
        ("trace-2", "span-2", None),
        ("trace-2", "span-3", "span-2"),
    ]


def test_capture_restores_the_previous_exporter_and_transports():
    from whyops._tracer import TRACER

    before = (TRACER.enabled, httpx2.HTTPTransport.handle_request)
    with capture_traces() as captured:
        with whyops.span("inside"):
            pass
    assert [s.name for s in captured.spans] == ["inside"]
    assert (TRACER.enabled, httpx2.HTTPTransport.handle_request) == before


def test_streamed_model_calls_are_answered_too(whyops_traces, sdk):
    openai = pytest.importorskip("openai")
    client = sdk.openai(openai.OpenAI(api_key="sk-never-sent"))
    with whyops.span("turn"):
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hello"}],
            stream=True,
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text
    assert whyops_traces.provider_requests[0].body["stream"] is True
