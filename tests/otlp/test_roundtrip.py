"""WhyOps events → OTLP (whyops.otlp.outbound) → WhyOps events (whyops.otlp.inbound): what both
sides know comes back as it was: event types, ids, parents, kinds, agent, model, provider,
usage, tool calls, thinking, errors, thread and end user."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.otlp.inbound_support import valid
from whyops.otlp.inbound import translate
from whyops.otlp.outbound import request_of
from whyops.wire.encode import to_events
from whyops.wire.records import (
    ExceptionInfo,
    SpanKind,
    SpanRecord,
    Status,
    ThinkingBlock,
    TokenUsage,
)
from whyops.wire.usage import PROMPT_EXCLUDES_CACHE

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True)
START = 1_764_000_000_000_000_000


def _as_is(value: Any, path: tuple[Any, ...]) -> Any:
    return value


def _chat_completion(text: str | None, calls: list[tuple[str, str, str]], reason: str) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
            for i, n, a in calls
        ]
    return {"object": "chat.completion", "choices": [{"message": message, "finish_reason": reason}]}


names = st.text("abcdefgh_ ", min_size=1, max_size=12).filter(str.strip)
words = st.text("abc xyz?!", max_size=12).filter(lambda s: not s.startswith(("{", "[")))
tool_calls = st.lists(
    st.tuples(
        st.text("abc123_", min_size=1, max_size=8), names, st.sampled_from(["{}", '{"a": 1}'])
    ),
    max_size=2,
    unique_by=lambda call: call[0],
)


@st.composite
def usages(draw: st.DrawFn, provider: str) -> TokenUsage | None:
    if draw(st.booleans()):
        return None
    prompt, completion = draw(st.integers(0, 10**6)), draw(st.integers(0, 10**6))
    read, created = draw(st.none() | st.integers(1, 1000)), draw(st.none() | st.integers(1, 1000))
    reasoning = draw(st.none() | st.integers(1, completion + 1))
    cached = (read or 0) + (created or 0) if provider in PROMPT_EXCLUDES_CACHE else 0
    return TokenUsage(
        prompt, completion, prompt + completion + cached, read, created, reasoning_tokens=reasoning
    )


@st.composite
def records(draw: st.DrawFn, trace_id: str, index: int, parent: str | None) -> SpanRecord:
    kind = draw(st.sampled_from(list(SpanKind)))
    provider = draw(st.sampled_from(["openai", "anthropic", None]))
    failed = draw(st.booleans())
    model_call = kind in (SpanKind.LLM, SpanKind.EMBEDDING)
    output: Any = None
    if kind is SpanKind.LLM:
        output = _chat_completion(
            draw(st.none() | words), draw(tool_calls), draw(st.sampled_from(["stop", "tool_calls"]))
        )
    elif not model_call:
        output = draw(st.none() | words | st.dictionaries(names, st.integers(), max_size=2))
    inputs = (
        {"messages": [{"role": "user", "content": draw(words)}]}
        if kind is SpanKind.LLM
        else draw(st.dictionaries(names, words | st.integers(), max_size=2))
    )
    duration = draw(st.integers(0, 10**10))
    return SpanRecord(
        trace_id=trace_id,
        span_id=f"{index + 1:016x}",
        parent_span_id=parent,
        name=draw(names),
        kind=kind,
        start_time_ns=START + index * 10**9,
        end_time_ns=START + index * 10**9 + duration,
        duration_ns=duration,
        status=Status.ERROR if failed else Status.OK,
        agent_name=draw(st.none() | names),
        thread_id=None,
        inputs=inputs,
        output=output,
        has_output=output is not None,
        exception=ExceptionInfo(draw(names), draw(words), "Traceback ...") if failed else None,
        thinking=tuple(ThinkingBlock(text=t) for t in draw(st.lists(names, max_size=2)))
        if kind is SpanKind.LLM
        else (),
        usage=draw(usages(provider or "")) if model_call else None,
        model=draw(st.none() | names) if model_call else None,
        provider=provider if model_call else None,
        attributes=draw(st.dictionaries(st.sampled_from(["tier", "region"]), words, max_size=2)),
    )


@st.composite
def traces(draw: st.DrawFn) -> list[dict[str, Any]]:
    """The SDK's events of one trace: spans with parents among the earlier ones."""
    trace_id = draw(st.sampled_from(["0af7651916cd43dd8448eb211c80319c", "thread_Zx9-proxy"]))
    thread, user = draw(st.none() | names), draw(st.none() | names)
    events: list[dict[str, Any]] = []
    for index in range(draw(st.integers(1, 5))):
        parent = (
            draw(st.none() | st.sampled_from([f"{n + 1:016x}" for n in range(index)]))
            if index
            else None
        )
        record = draw(records(trace_id, index, parent))
        for event in to_events(record, _as_is):
            if thread is not None:
                event["threadId"] = thread
            if user is not None:
                event["externalUserId"] = user
            events.append(event)
    return events


def _meta(event: dict[str, Any], key: str) -> Any:
    return event.get("metadata", {}).get(key)


def _view(events: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """What both directions know, per span."""
    spans: dict[tuple[str, str], Any] = {}
    for event in events:
        key = (event["traceId"], event["spanId"])
        span = spans.setdefault(key, {"types": []})
        span["types"].append(event["eventType"])
        content = event.get("content") if isinstance(event.get("content"), dict) else {}
        span.update(
            parent=event.get("parentSpanId"),
            kind=event["spanKind"],
            agent=event["agentName"],
            thread=event.get("threadId"),
            user=event.get("externalUserId"),
        )
        if event["eventType"] in ("llm_response", "embedding_response", "error"):
            span.update(model=_meta(event, "model"), provider=_meta(event, "provider"))
            span.update(usage=_meta(event, "usage"))
        if event["eventType"] == "llm_response":
            span.update(calls=content.get("toolCalls"), reason=content.get("finishReason"))
            span.update(text=content.get("content"))
        if event["eventType"] == "llm_thinking":
            span.setdefault("thinking", []).append(content.get("thinking"))
        if event["eventType"] == "tool_call_request":
            span.update(name=event["spanName"], arguments=content["toolCalls"][0]["arguments"])
        if event["eventType"] == "tool_call_response":
            span.update(result=content.get("toolResults"))
        if event["eventType"] == "error":
            span.update(error=content.get("type"))
    return spans


@SETTINGS
@given(traces())
def test_outbound_then_inbound_gives_the_same_spans(events: list[dict[str, Any]]) -> None:
    request = request_of(events, service_name="svc")
    back = valid(translate(request))
    assert (back.rejected, back.errors) == (0, [])
    assert _view(back.events) == _view(events)


@SETTINGS
@given(traces())
def test_a_span_exported_and_imported_keeps_its_idempotency_keys(
    events: list[dict[str, Any]],
) -> None:
    back = translate(request_of(events, service_name="svc"))
    assert {e["idempotencyKey"] for e in back.events} == {e["idempotencyKey"] for e in events}
