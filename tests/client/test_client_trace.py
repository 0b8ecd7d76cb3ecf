"""The trace builder: WhyOps 0.1.1's methods and payloads, on the batch queue."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import re
import uuid

import pytest

from whyops._context import trace_context
from whyops.client import WhyOpsTrace

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
METHODS = [
    "user_message",
    "llm_response",
    "llm_thinking",
    "embedding_request",
    "embedding_response",
    "tool_call_request",
    "tool_call_response",
    "tool_result",
    "error",
]


def sent(sdk, exporter):
    """The payloads the tracer received, once registration released them."""
    report = sdk.flush(timeout=10)
    assert report.pending == 0
    return [dict(r.payload) for r in exporter.records if hasattr(r, "payload")]


def strip(payload):
    """Check and drop the fields that are generated per event."""
    assert TIMESTAMP.match(payload.pop("timestamp"))
    uuid.UUID(payload.pop("idempotencyKey"), version=4)
    assert re.fullmatch(r"[0-9a-f]{16}", payload.pop("spanId"))
    return payload


def test_payloads_match_whyops_0_1_1(sdk_factory, events):
    """Every method builds 0.1.1's payload (plus spanId, timestamp, idempotencyKey)."""
    sdk = sdk_factory()
    trace = sdk.trace("session-123")
    base = {"traceId": "session-123", "agentName": "customer-support-agent"}
    usage = {"promptTokens": 10, "completionTokens": 5, "totalTokens": 15}
    trace.user_message_sync([{"role": "user", "content": "Where is order 123?"}])
    trace.llm_response_sync(
        "gpt-4o", "openai", "On its way", finish_reason="stop", usage=usage, latency_ms=120
    )
    trace.llm_thinking_sync("Let me look", signature="sig")
    trace.embedding_request_sync(["a", "b"])
    trace.embedding_response_sync("emb", "openai", 2, 1536, total_tokens=4, latency_ms=9)
    trace.tool_result_sync("search_orders", {"status": "shipped"})
    trace.error_sync("boom", status=500, stack="Traceback")
    got = [strip(p) for p in sent(sdk, events)]
    assert got == [
        {
            **base,
            "eventType": "user_message",
            "content": {"messages": [{"role": "user", "content": "Where is order 123?"}]},
        },
        {
            **base,
            "eventType": "llm_response",
            "content": {"content": "On its way", "finishReason": "stop"},
            "metadata": {"model": "gpt-4o", "provider": "openai", "usage": usage, "latencyMs": 120},
        },
        {
            **base,
            "eventType": "llm_thinking",
            "content": {"type": "thinking", "thinking": "Let me look", "signature": "sig"},
        },
        {**base, "eventType": "embedding_request", "content": {"input": ["a", "b"]}},
        {
            **base,
            "eventType": "embedding_response",
            "content": {
                "object": "list",
                "embeddingCount": 2,
                "firstEmbeddingDimensions": 1536,
                "encodingFormat": "float",
            },
            "metadata": {
                "model": "emb",
                "provider": "openai",
                "usage": {"totalTokens": 4},
                "latencyMs": 9,
            },
        },
        {
            **base,
            "eventType": "tool_result",
            "content": {"toolName": "search_orders", "output": {"status": "shipped"}},
        },
        {
            **base,
            "eventType": "error",
            "content": {"message": "boom", "status": 500, "stack": "Traceback"},
        },
    ]


def test_usage_accepts_every_wire_counter(sdk_factory, events):
    """Reasoning and per-lifetime cache-write counts pass the check and are sent as given."""
    sdk = sdk_factory()
    usage = {
        "promptTokens": 10,
        "completionTokens": 5,
        "totalTokens": 15,
        "cacheReadTokens": 2,
        "cacheCreationTokens": 3,
        "reasoningTokens": 4,
        "cacheWrite5mTokens": 1,
        "cacheWrite1hTokens": 2,
    }
    sdk.trace("t-usage").llm_response_sync("claude", "anthropic", "ok", usage=usage)
    (payload,) = sent(sdk, events)
    assert payload["metadata"]["usage"] == usage
    with pytest.raises(ValueError, match=r"usage\.reasoning_tokens: unknown; expected one of"):
        sdk.trace("t-usage").llm_response_sync("m", "p", usage={"reasoning_tokens": 1})


def test_tool_call_pair_shares_the_returned_span_id(sdk_factory, events):
    """tool_call_request returns the span id; the response carries the same one."""
    sdk = sdk_factory()
    trace = sdk.trace("session-123")
    calls = [{"name": "search_orders", "arguments": {"orderId": "123"}}]
    span_id = trace.tool_call_request_sync(
        "search_orders", calls, requested_at="2026-01-01T00:00:00Z"
    )
    trace.tool_call_response_sync(
        "search_orders", span_id, calls, {"status": "shipped"}, latency_ms=42
    )
    request, response = sent(sdk, events)
    assert request["spanId"] == response["spanId"] == span_id
    assert request["content"] == {"toolCalls": calls, "requestedAt": "2026-01-01T00:00:00Z"}
    assert request["metadata"] == {"tool": "search_orders"}
    assert response["content"] == {"toolCalls": calls, "toolResults": {"status": "shipped"}}
    assert response["metadata"] == {"tool": "search_orders", "latencyMs": 42}


def test_event_options(sdk_factory, events):
    """span_id, step_id, parent_step_id, timestamp, idempotency_key, external_user_id."""
    sdk = sdk_factory()
    trace = sdk.trace("t-options")
    trace.user_message_sync(
        [{"role": "user", "content": "hi"}],
        span_id="span-a",
        step_id=3,
        parent_step_id=2,
        timestamp="2026-11-27T07:03:48.123456Z",
        idempotency_key="idem-1",
        external_user_id="user-42",
    )
    trace.error_sync(
        "x", timestamp=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    )
    trace.error_sync("y", timestamp="2026-01-02T03:04:05+01:00")
    first, second, third = sent(sdk, events)
    assert {
        k: first[k]
        for k in (
            "spanId",
            "stepId",
            "parentStepId",
            "timestamp",
            "idempotencyKey",
            "externalUserId",
        )
    } == {
        "spanId": "span-a",
        "stepId": 3,
        "parentStepId": 2,
        "timestamp": "2026-11-27T07:03:48.123456Z",
        "idempotencyKey": "idem-1",
        "externalUserId": "user-42",
    }
    assert second["timestamp"] == "2026-01-02T01:04:05.000000Z"
    assert third["timestamp"] == "2026-01-02T02:04:05.000000Z"


def test_unknown_keyword_is_a_type_error(sdk_factory, events):
    """A misspelt option raises TypeError naming it, sync and async; nothing is sent."""
    trace = sdk_factory().trace("t-unknown")
    with pytest.raises(TypeError, match="'spanid'"):
        trace.user_message_sync([{"role": "user", "content": "hi"}], spanid="x")
    with pytest.raises(TypeError, match="'latency'"):
        asyncio.run(trace.llm_response("m", "p", latency=3))
    with pytest.raises(TypeError, match="'bogus'"):
        trace.tool_call_response_sync("t", "s", [], {}, bogus=1)
    assert events.records == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: t.llm_response_sync(None, "openai"), "model: expected a string"),
        (lambda t: t.llm_response_sync("gpt", ""), "provider: must not be empty"),
        (
            lambda t: t.llm_response_sync("gpt", "openai", usage={"prompt_tokens": 1}),
            "usage.prompt_tokens: unknown",
        ),
        (lambda t: t.user_message_sync("hello"), "messages: expected a list of dicts"),
        (lambda t: t.user_message_sync([{"content": "no role"}]), r"messages\[0\]\.role: required"),
        (lambda t: t.tool_call_request_sync("", []), "tool: must not be empty"),
        (lambda t: t.tool_call_request_sync("x", [{"arguments": {}}]), r"tool_calls\[0\]\.name"),
        (
            lambda t: t.tool_call_response_sync("x", "s", [], "ok"),
            "tool_results: expected a dict or a list",
        ),
        (lambda t: t.embedding_response_sync("m", "p", "2", 3), "embedding_count: expected an int"),
        (lambda t: t.error_sync("x", status="500"), "status: expected an int"),
        (lambda t: t.error_sync("x", step_id=0), "step_id: must be >= 1"),
        (
            lambda t: t.error_sync("x", timestamp=dt.datetime(2026, 1, 1)),
            "timestamp: naive datetime",
        ),
        (
            lambda t: t.error_sync("x", timestamp="yesterday"),
            "timestamp: 'yesterday' is not an ISO 8601",
        ),
        (lambda t: t.error_sync("x", idempotency_key="k" * 129), "idempotency_key: 129 characters"),
    ],
)
def test_misuse_raises_naming_the_argument(sdk_factory, events, call, message):
    """Wrong argument types or values are programming errors, reported at the call."""
    with pytest.raises((TypeError, ValueError), match=message):
        call(sdk_factory().trace("t-misuse"))
    assert events.records == []


def test_trace_id_is_checked():
    """The trace id is 1-128 characters, as the server requires."""
    with pytest.raises(ValueError, match="trace_id"):
        WhyOpsTrace("x" * 129, "agent", lambda payload: None)
    with pytest.raises(TypeError, match="trace_id"):
        WhyOpsTrace(123, "agent", lambda payload: None)  # type: ignore[arg-type]


def test_later_appends_do_not_change_what_is_sent(sdk_factory, events):
    """The conversation list is copied at the call: appending afterwards is safe."""
    sdk = sdk_factory()
    messages = [{"role": "user", "content": "hi"}]
    sdk.trace("t-copy").user_message_sync(messages)
    messages.append({"role": "assistant", "content": "hello"})
    (payload,) = sent(sdk, events)
    assert payload["content"]["messages"] == [{"role": "user", "content": "hi"}]


def test_async_twins_have_the_same_signatures():
    """Each async method takes exactly the arguments of its *_sync form."""
    for name in METHODS:
        sync = inspect.signature(getattr(WhyOpsTrace, name + "_sync"))
        twin = getattr(WhyOpsTrace, name)
        assert inspect.iscoroutinefunction(twin), name
        assert inspect.signature(twin) == sync, name


async def test_async_methods_enqueue(sdk_factory, events):
    """Awaiting a builder method enqueues its event and returns what the sync form would."""
    sdk = sdk_factory()
    trace = sdk.trace("t-async")
    span_id = await trace.tool_call_request("lookup", [{"name": "lookup", "arguments": {}}])
    await trace.tool_call_response("lookup", span_id, [{"name": "lookup", "arguments": {}}], [1, 2])
    await trace.user_message([{"role": "user", "content": "hi"}], external_user_id="u1")
    payloads = await asyncio.to_thread(sent, sdk, events)
    assert [p["eventType"] for p in payloads] == [
        "tool_call_request",
        "tool_call_response",
        "user_message",
    ]
    assert payloads[1]["spanId"] == span_id and payloads[2]["externalUserId"] == "u1"


def test_ambient_trace_fills_user_and_thread(sdk_factory, events):
    """Inside the same ambient trace, its external user and thread id apply by default."""
    sdk = sdk_factory()
    with trace_context(trace_id="t-ambient", thread_id="thread-9", external_user_id="user-7"):
        sdk.trace().user_message_sync([{"role": "user", "content": "hi"}])
        sdk.trace("another-trace").user_message_sync([{"role": "user", "content": "hi"}])
    first, second = sent(sdk, events)
    assert (first["traceId"], first["externalUserId"], first["threadId"]) == (
        "t-ambient",
        "user-7",
        "thread-9",
    )
    assert second["traceId"] == "another-trace"
    assert "externalUserId" not in second and "threadId" not in second


def test_trace_without_id_needs_an_ambient_trace(sdk_factory):
    """sdk.trace() with no id outside any trace is an error, not a random id."""
    with pytest.raises(ValueError, match="trace_id"):
        sdk_factory().trace()


def test_flush_and_shutdown_return_the_tracers_report(sdk_factory, events):
    """flush() and shutdown() hand back the tracer's DeliveryReport."""
    from whyops.wire.records import DeliveryReport

    sdk = sdk_factory()
    sdk.trace("t-report").error_sync("x")
    flushed = sdk.flush(timeout=10)
    assert isinstance(flushed, DeliveryReport) and flushed.ok
    assert len(events.records) == 1
    stopped = sdk.shutdown(timeout=10)
    assert isinstance(stopped, DeliveryReport) and stopped.pending == 0
    # The tracer was set up by the fixture, not by this client: it keeps running.
    sdk.trace("t-report").error_sync("after shutdown")
    assert len(events.records) == 2


# WhyOps 0.1.1's trace-builder signatures (whyops/trace.py of the released wheel):
# positional parameters in order, then keyword-only ones; every method also took **opts.
WHYOPS_0_1_1 = {
    "user_message": (["messages"], ["metadata"]),
    "llm_response": (
        ["model", "provider", "content"],
        ["tool_calls", "finish_reason", "usage", "latency_ms"],
    ),
    "llm_thinking": (["thinking"], ["signature"]),
    "embedding_request": (["inputs"], []),
    "embedding_response": (
        ["model", "provider", "embedding_count", "first_embedding_dimensions"],
        ["total_tokens", "latency_ms"],
    ),
    "tool_call_request": (["tool", "tool_calls"], ["latency_ms", "requested_at"]),
    "tool_call_response": (
        ["tool", "span_id", "tool_calls", "tool_results"],
        ["latency_ms", "responded_at"],
    ),
    "tool_result": (["tool_name", "output"], []),
    "error": (["message"], ["status", "stack"]),
}


@pytest.mark.parametrize("name", METHODS)
def test_signatures_match_whyops_0_1_1(name):
    """Same positional order and keywords as 0.1.1, plus the typed event options."""
    positional, keyword_only = WHYOPS_0_1_1[name]
    for method in (name, name + "_sync"):
        params = list(inspect.signature(getattr(WhyOpsTrace, method)).parameters.values())[1:]
        kinds = inspect.Parameter
        assert [p.name for p in params if p.kind is kinds.POSITIONAL_OR_KEYWORD] == positional
        assert [p.name for p in params if p.kind is kinds.KEYWORD_ONLY] == keyword_only
        assert params[-1].kind is kinds.VAR_KEYWORD  # the options, checked at call time
