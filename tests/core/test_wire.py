"""Span records become WhyOps events exactly as docs/wire-format.md says."""

from __future__ import annotations

from whyops._config import DEFAULT_LIMITS
from whyops.export.encoding import to_events
from whyops.wire.records import (
    EventRecord,
    ExceptionInfo,
    SpanKind,
    SpanRecord,
    Status,
    ThinkingBlock,
    TokenUsage,
)
from whyops.wire.stamp import iso_timestamp, span_fields, stamped

START = 1_795_000_000_123_456_789
END = START + 2_500_000


def record(**changes: object) -> SpanRecord:
    base: dict[str, object] = dict(
        trace_id="t" * 32,
        span_id="a" * 16,
        parent_span_id="b" * 16,
        name="search",
        kind=SpanKind.TOOL,
        start_time_ns=START,
        end_time_ns=END,
        duration_ns=2_500_000,
        agent_name="support",
        thread_id="conv-1",
        external_user_id="u-7",
        inputs={"q": "shoes"},
        output=["r1"],
        has_output=True,
        attributes={"team": "x"},
    )
    base.update(changes)
    return SpanRecord(**base)  # type: ignore[arg-type]


def test_span_fields_are_written_once_for_every_event_of_a_span() -> None:
    fields = span_fields(
        trace_id="t1", agent_name=None, span_id="s1", span_kind="tool", span_name="n",
        thread_id="t1",
    )  # fmt: skip
    # the default agent; a thread that is the trace itself is not written
    assert fields == {
        "traceId": "t1", "agentName": "default", "spanId": "s1", "spanKind": "tool",
        "spanName": "n",
    }  # fmt: skip
    assert stamped({"eventType": "error"}, fields, 2) == {
        "eventType": "error", **fields, "idempotencyKey": "s1:2"
    }  # fmt: skip
    events = to_events(record())
    assert [e["idempotencyKey"] for e in events] == ["a" * 16 + ":0", "a" * 16 + ":1"]


def test_usage_carries_every_counter_under_its_wire_name() -> None:
    usage = TokenUsage(
        10, 5, 15, 2, 3, reasoning_tokens=4, cache_write_5m_tokens=1, cache_write_1h_tokens=2
    )
    last = to_events(record(kind=SpanKind.LLM, usage=usage))[-1]
    assert last["metadata"]["usage"] == {
        "promptTokens": 10,
        "completionTokens": 5,
        "totalTokens": 15,
        "cacheReadTokens": 2,
        "cacheCreationTokens": 3,
        "reasoningTokens": 4,
        "cacheWrite5mTokens": 1,
        "cacheWrite1hTokens": 2,
    }


def test_every_span_kind_is_described() -> None:
    from whyops.wire.encode import SPAN_KINDS
    from whyops.wire.events import CLOSING, OPENING, EventType

    assert set(SPAN_KINDS) == set(SpanKind)
    for spec in SPAN_KINDS.values():
        assert EventType(spec.opening.event_type) in OPENING
        assert EventType(spec.closing.event_type) in CLOSING


def test_timestamps_are_utc_iso_with_microseconds_and_z() -> None:
    assert iso_timestamp(START) == "2026-11-18T11:06:40.123456Z"
    assert iso_timestamp(0) == "1970-01-01T00:00:00.000000Z"


def test_tool_span_becomes_request_and_response_events() -> None:
    first, last = to_events(record())
    common = {
        "traceId": "t" * 32,
        "agentName": "support",
        "spanId": "a" * 16,
        "parentSpanId": "b" * 16,
        "spanKind": "tool",
        "spanName": "search",
        "externalUserId": "u-7",
        "threadId": "conv-1",
    }
    calls = [{"name": "search", "arguments": {"q": "shoes"}}]
    assert first == {
        **common,
        "eventType": "tool_call_request",
        "timestamp": "2026-11-18T11:06:40.123456Z",
        "idempotencyKey": "a" * 16 + ":0",
        "content": {"toolCalls": calls, "requestedAt": "2026-11-18T11:06:40.123456Z"},
        "metadata": {"tool": "search"},
    }
    assert last == {
        **common,
        "eventType": "tool_call_response",
        "timestamp": "2026-11-18T11:06:40.125956Z",
        "idempotencyKey": "a" * 16 + ":1",
        "content": {
            "toolCalls": calls,
            "toolResults": ["r1"],
            "respondedAt": "2026-11-18T11:06:40.125956Z",
        },
        "metadata": {
            "tool": "search",
            "latencyMs": 2,
            "durationNs": 2_500_000,
            "status": "ok",
            "attributes": {"team": "x"},
        },
    }


def test_roots_omit_parent_and_thread_equal_to_trace_is_omitted() -> None:
    (first, _) = to_events(
        record(parent_span_id=None, thread_id="t" * 32, external_user_id=None, agent_name=None)
    )
    assert "parentSpanId" not in first and "threadId" not in first and "externalUserId" not in first
    assert first["agentName"] == "default"


def test_error_replaces_the_last_event_and_thinking_sits_between() -> None:
    events = to_events(
        record(
            status=Status.ERROR,
            has_output=False,
            output=None,
            exception=ExceptionInfo("ValueError", "bad", "Traceback…"),
            thinking=(ThinkingBlock("hmm", "s"),),
            usage=TokenUsage(1, 2, 3),
        )
    )
    assert [e["eventType"] for e in events] == ["tool_call_request", "llm_thinking", "error"]
    assert [e["idempotencyKey"][-2:] for e in events] == [":0", ":1", ":2"]
    error = events[-1]
    assert error["content"] == {
        "message": "ValueError: bad",
        "type": "ValueError",
        "stack": "Traceback…",
    }
    assert error["metadata"] == {
        "tool": "search",
        "latencyMs": 2,
        "durationNs": 2_500_000,
        "status": "error",
        "attributes": {"team": "x"},
        "usage": {"promptTokens": 1, "completionTokens": 2, "totalTokens": 3},
    }


def test_agent_and_custom_spans_use_tool_events_with_their_kind() -> None:
    for kind in (SpanKind.AGENT, SpanKind.SPAN):
        first, last = to_events(record(kind=kind))
        assert (first["eventType"], last["eventType"], first["spanKind"]) == (
            "tool_call_request",
            "tool_call_response",
            kind.value,
        )


def test_embedding_span() -> None:
    first, last = to_events(
        record(
            kind=SpanKind.EMBEDDING,
            inputs={"input": ["a", "b"]},
            output={"embeddingCount": 2, "data": [[0.1]]},
            model="emb-1",
            provider="openai",
        )
    )
    assert first["eventType"] == "embedding_request" and first["content"] == {"input": ["a", "b"]}
    assert last["eventType"] == "embedding_response"
    assert last["content"] == {"object": "list", "embeddingCount": 2}
    assert (last["metadata"]["model"], last["metadata"]["provider"]) == ("emb-1", "openai")


def test_manual_events_pass_through_as_built() -> None:
    payload = {"eventType": "user_message", "traceId": "x", "agentName": "a", "content": {}}
    assert to_events(EventRecord(payload)) == [payload]


def test_the_converter_gives_records_their_camel_case_wire_objects() -> None:
    from whyops.wire.parts import CONVERTER

    assert CONVERTER.unstructure(TokenUsage(cache_read_tokens=4, total_tokens=9)) == {
        "totalTokens": 9,
        "cacheReadTokens": 4,
    }
    assert CONVERTER.unstructure(ThinkingBlock("t", "")) == {"type": "thinking", "thinking": "t"}
    assert CONVERTER.unstructure(ThinkingBlock(None, "sig")) == {
        "type": "thinking",
        "thinking": "",
        "signature": "sig",
    }
    assert CONVERTER.unstructure(ThinkingBlock(redacted_data="blob")) == {
        "type": "redacted_thinking",
        "data": "blob",
    }
    assert CONVERTER.unstructure(ExceptionInfo("E", "m", "", origin_span_id="ab")) == {
        "type": "E",
        "originSpanId": "ab",
    }


def test_manual_events_are_made_json_safe_without_raising() -> None:
    loop: list[object] = []
    loop.append(loop)
    payload = {"eventType": "user_message", "content": {"loop": loop, "password": "hunter22"}}
    (event,) = to_events(EventRecord(payload))
    assert event["content"] == {"loop": ["<cycle>"], "password": "[redacted]"}


def _draft(content: object) -> dict[str, object]:
    return {
        "eventType": "user_message",
        "traceId": "t",
        "agentName": "a",
        "spanId": None,
        "timestamp": None,
        "idempotencyKey": None,
        "content": content,
    }


def test_generated_fields_are_filled_from_the_record_the_same_every_time() -> None:
    import uuid

    bits = (0xABCD << 128) | 0x1234_5678_9ABC_DEF0_1234_5678_9ABC_DEF0
    built = EventRecord(_draft({"messages": []}), START, bits)
    (event,) = to_events(built)
    assert list(event) == list(_draft(None))  # wire order kept: the slots are filled in place
    assert event["timestamp"] == iso_timestamp(START)
    assert event["spanId"] == f"{0xABCD:016x}"
    key = uuid.UUID(event["idempotencyKey"])
    assert key.version == 4 and str(key) == event["idempotencyKey"]
    assert to_events(built) == [event] == [dict(built.payload)]  # a retry sends the same key
    assert built.draft["idempotencyKey"] is None  # the record itself is never changed


def test_options_given_by_the_caller_are_not_overwritten() -> None:
    draft = {**_draft({}), "spanId": "s1", "timestamp": "2026-01-01T00:00:00.000000Z"}
    draft["idempotencyKey"] = "k1"
    (event,) = to_events(EventRecord(draft, START, 12345))
    assert (event["spanId"], event["timestamp"], event["idempotencyKey"]) == (
        "s1",
        "2026-01-01T00:00:00.000000Z",
        "k1",
    )


def test_plain_manual_events_skip_conversion_with_the_same_result() -> None:
    from whyops._capture import to_json_safe
    from whyops._config import Limits

    short = Limits(max_string_length=40, max_items=3, max_depth=3)
    contents: list[object] = [
        {"messages": [{"role": "user", "content": "hi", "n": 1, "x": 1.5, "ok": None}]},
        {"messages": [{"role": "user", "api_key": "hunter22"}]},
        {"output": "sk-" + "a" * 30, "bearer": None},
        {"output": "x" * 50},
        {"output": [1, 2, 3, 4]},
        {"output": [[[[["deep"]]]]]},
        {"output": (1, 2), "n": float("nan"), "big": 2**70},
        {"output": {1: "int key"}},
    ]
    for content in contents:
        for limits in (DEFAULT_LIMITS, short):
            record_ = EventRecord(_draft(content), START, 99)
            (event,) = to_events(record_, limits)
            assert event == to_json_safe(dict(record_.payload), limits), (content, limits)
