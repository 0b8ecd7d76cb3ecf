"""whyops.otlp.outbound: WhyOps events → OTLP spans on the GenAI conventions."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from whyops.export.encoding import to_events
from whyops.otlp import proto
from whyops.otlp.attributes import attribute_dict
from whyops.otlp.outbound import (
    _parsed_ns,
    _time_ns,
    otel_span_id,
    otel_trace_id,
    request_body,
    request_of,
)
from whyops.wire.records import (
    ExceptionInfo,
    SpanKind,
    SpanRecord,
    Status,
    ThinkingBlock,
    TokenUsage,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
T0 = 1_790_000_000_123_456_789


def record(span_id: str, kind: SpanKind, name: str, **fields: Any) -> SpanRecord:
    values: dict[str, Any] = {
        "trace_id": TRACE,
        "span_id": span_id,
        "parent_span_id": None,
        "name": name,
        "kind": kind,
        "start_time_ns": T0,
        "end_time_ns": T0 + 2_500_000,
        "duration_ns": 2_500_001,
        "agent_name": "support-bot",
    }
    values.update(fields)
    return SpanRecord(**values)


def spans_of(*records: SpanRecord, **options: Any) -> dict[str, dict[str, Any]]:
    events = [event for r in records for event in to_events(r)]
    request = request_of(events, service_name="checkout", **options)
    decoded = proto.decode_request(proto.encode_request(request), proto.MEDIA_PROTOBUF)
    assert decoded == request  # what request_of writes is exactly what protobuf carries
    found = {}
    for rs in request["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                span["attrs"] = attribute_dict(span["attributes"])
                found[span["spanId"]] = span
    return found


CHAT_ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": "Looking it up.",
                "tool_calls": [
                    {
                        "id": "call_42",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"order":"A1"}'},
                    }
                ],
            },
        }
    ],
    "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
}


def test_agent_tool_and_chat_spans_follow_the_genai_conventions() -> None:
    agent = record(
        "00000000000000a1",
        SpanKind.AGENT,
        "planner",
        thread_id="conv-7",
        external_user_id="user-3",
        inputs={"question": "where is A1?"},
        output="shipped",
        has_output=True,
    )
    chat = record(
        "00000000000000b2",
        SpanKind.LLM,
        "openai.chat",
        parent_span_id="00000000000000a1",
        thread_id="conv-7",
        model="gpt-4o-mini",
        provider="openai",
        inputs={
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "where is A1?"},
            ]
        },
        output=CHAT_ANSWER,
        has_output=True,
        usage=TokenUsage(120, 30, 150, 100, None, reasoning_tokens=12),
    )
    tool = record(
        "00000000000000c3",
        SpanKind.TOOL,
        "lookup",
        parent_span_id="00000000000000a1",
        inputs={"order": "A1"},
        output={"status": "shipped"},
        has_output=True,
    )
    spans = spans_of(agent, chat, tool)

    a = spans["00000000000000a1"]
    assert a["name"] == "invoke_agent planner" and a["kind"] == 1
    assert a["traceId"] == TRACE and a["parentSpanId"] == ""
    assert a["attrs"]["gen_ai.operation.name"] == "invoke_agent"
    assert a["attrs"]["gen_ai.agent.name"] == "planner"
    assert a["attrs"]["gen_ai.conversation.id"] == "conv-7"
    assert a["attrs"]["user.id"] == "user-3"
    assert json.loads(a["attrs"]["whyops.inputs"]) == {"question": "where is A1?"}
    assert a["attrs"]["whyops.output"] == "shipped"
    assert a["status"] == {"code": 0, "message": ""} and a["events"] == []

    c = spans["00000000000000b2"]
    assert c["name"] == "chat gpt-4o-mini" and c["kind"] == 3
    assert c["parentSpanId"] == "00000000000000a1"
    attrs = c["attrs"]
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.response.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.usage.input_tokens"] == 120  # OpenAI's count includes the cache
    assert attrs["gen_ai.usage.output_tokens"] == 30
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 100
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 12
    assert "gen_ai.usage.cache_creation.input_tokens" not in attrs
    assert attrs["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert json.loads(attrs["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "where is A1?"}]},
    ]
    assert json.loads(attrs["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Looking it up."},
                {
                    "type": "tool_call",
                    "id": "call_42",
                    "name": "lookup",
                    "arguments": '{"order":"A1"}',
                },
            ],
            "finish_reason": "tool_calls",
        }
    ]
    # nanoseconds: the first event's microsecond timestamp plus the recorded duration
    assert c["startTimeUnixNano"] == T0 // 1000 * 1000
    assert c["endTimeUnixNano"] - c["startTimeUnixNano"] == 2_500_001

    t = spans["00000000000000c3"]
    assert t["name"] == "execute_tool lookup" and t["kind"] == 1
    assert t["attrs"]["gen_ai.operation.name"] == "execute_tool"
    assert t["attrs"]["gen_ai.tool.name"] == "lookup"
    assert json.loads(t["attrs"]["gen_ai.tool.call.arguments"]) == {"order": "A1"}
    assert json.loads(t["attrs"]["gen_ai.tool.call.result"]) == {"status": "shipped"}
    assert t["attrs"]["whyops.agent.name"] == "support-bot"

    resource = attribute_dict(
        request_of(to_events(agent), service_name="checkout", resource={"deployment": "prod"})[
            "resourceSpans"
        ][0]["resource"]["attributes"]
    )
    assert resource == {"service.name": "checkout", "deployment": "prod"}


CLAUDE_ANSWER = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "Done."}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 10, "output_tokens": 5},
}


def test_anthropic_input_tokens_include_the_cache_and_thinking_is_a_reasoning_part() -> None:
    answer = CLAUDE_ANSWER
    chat = record(
        "00000000000000d4",
        SpanKind.LLM,
        "anthropic.messages",
        model="claude-sonnet-4-5",
        provider="anthropic",
        inputs={
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "hi"},
                        {"type": "tool_result", "tool_use_id": "tu_1", "content": "42"},
                    ],
                }
            ]
        },
        output=answer,
        has_output=True,
        usage=TokenUsage(10, 5, 65, 20, 30),
        thinking=(ThinkingBlock(text="let me think", signature="sig"),),
    )
    attrs = spans_of(chat)["00000000000000d4"]["attrs"]
    assert attrs["gen_ai.usage.input_tokens"] == 10 + 20 + 30
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 20
    assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 30
    assert attrs["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert json.loads(attrs["gen_ai.input.messages"]) == [
        {
            "role": "user",
            "parts": [
                {"type": "text", "content": "hi"},
                {"type": "tool_call_response", "id": "tu_1", "response": "42"},
            ],
        }
    ]
    output = json.loads(attrs["gen_ai.output.messages"])
    assert output[0]["parts"] == [
        {"type": "reasoning", "content": "let me think"},
        {"type": "text", "content": "Done."},
    ]


def test_failed_span_has_error_status_and_an_exception_event() -> None:
    failure = ExceptionInfo("KeyError", "'sku'", "Traceback ...\nKeyError: 'sku'\n", None)
    tool = record(
        "00000000000000e5",
        SpanKind.TOOL,
        "price",
        status=Status.ERROR,
        exception=failure,
        inputs={"sku": None},
    )
    span = spans_of(tool)["00000000000000e5"]
    assert span["status"] == {"code": 2, "message": "KeyError: 'sku'"}
    assert span["attrs"]["error.type"] == "KeyError"
    [event] = span["events"]
    assert event["name"] == "exception"
    assert event["timeUnixNano"] == span["endTimeUnixNano"]
    assert attribute_dict(event["attributes"]) == {
        "exception.type": "KeyError",
        "exception.message": "'sku'",
        "exception.stacktrace": "Traceback ...\nKeyError: 'sku'\n",
    }


def test_ids_not_in_w3c_form_are_hashed_and_kept_as_attributes() -> None:
    odd = record("step-1", SpanKind.SPAN, "prepare", trace_id="order-A1-run", parent_span_id="root")
    [span] = spans_of(odd).values()
    assert span["traceId"] == hashlib.sha256(b"order-A1-run").digest()[:16].hex()
    assert span["spanId"] == hashlib.sha256(b"step-1").digest()[:8].hex()
    assert span["parentSpanId"] == otel_span_id("root")
    assert span["name"] == "prepare"
    assert span["attrs"]["whyops.trace.id"] == "order-A1-run"
    assert span["attrs"]["whyops.span.id"] == "step-1"
    assert otel_trace_id(TRACE) == TRACE and otel_span_id("00000000000000a1") == "00000000000000a1"
    assert otel_trace_id("0" * 32) != "0" * 32  # all zeros is not a valid OTLP id


def test_open_spans_only_when_asked_and_lone_events_become_spans() -> None:
    chat = record("00000000000000f6", SpanKind.LLM, "chat", model="m", provider="openai")
    opening = to_events(chat)[:1]
    assert request_of(opening, service_name="s") == {"resourceSpans": []}
    [span] = request_of(opening, service_name="s", include_open=True)["resourceSpans"][0][
        "scopeSpans"
    ][0]["spans"]
    assert span["startTimeUnixNano"] == span["endTimeUnixNano"]
    manual = {
        "eventType": "user_message",
        "traceId": TRACE,
        "agentName": "bot",
        "timestamp": "2026-12-06T05:00:00.000001Z",
        "content": {"messages": [{"role": "user", "content": "hi"}]},
        "idempotencyKey": "k1",
    }
    [lone] = request_of([manual], service_name="s", include_open=True)["resourceSpans"][0][
        "scopeSpans"
    ][0]["spans"]
    assert lone["startTimeUnixNano"] == 1_796_533_200_000_001_000
    assert len(lone["spanId"]) == 16


def test_user_attributes_keep_their_names_without_overriding_conventions() -> None:
    tool = record(
        "0000000000000107",
        SpanKind.TOOL,
        "t",
        attributes={"team": "payments", "gen_ai.tool.name": "spoofed"},
    )
    attrs = spans_of(tool)["0000000000000107"]["attrs"]
    assert attrs["team"] == "payments" and attrs["gen_ai.tool.name"] == "t"


values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
records = st.builds(
    record,
    span_id=st.one_of(
        st.text(st.sampled_from("0123456789abcdef"), min_size=16, max_size=16),
        st.text(min_size=1, max_size=20),
    ),
    kind=st.sampled_from(list(SpanKind)),
    name=st.text(min_size=1, max_size=10),
    status=st.sampled_from(list(Status)),
    inputs=st.one_of(st.none(), st.dictionaries(st.text(max_size=4), values, max_size=3)),
    output=values,
    has_output=st.booleans(),
    model=st.one_of(st.none(), st.text(max_size=6)),
    provider=st.sampled_from([None, "openai", "anthropic", "other"]),
    usage=st.one_of(
        st.none(), st.builds(TokenUsage, *[st.one_of(st.none(), st.integers(0, 10**9))] * 5)
    ),
    thread_id=st.one_of(st.none(), st.text(min_size=1, max_size=8)),
    attributes=st.dictionaries(st.text(max_size=6), values, max_size=3),
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(records, min_size=1, max_size=4))
def test_any_records_give_an_encodable_request_with_a_span_each(batch: list[SpanRecord]) -> None:
    events = [event for r in batch for event in to_events(r)]
    request = request_of(events, service_name="svc")
    body = proto.encode_request(request)
    assert proto.decode_request(body, proto.MEDIA_PROTOBUF) == request
    assert request_body(events, service_name="svc") == body  # span by span, the same bytes
    assert proto.decode_request(proto.request_json(request), proto.MEDIA_JSON) == request
    spans = request["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert len(spans) == len({r.span_id for r in batch})
    for span in spans:
        assert len(span["traceId"]) == 32 and len(span["spanId"]) == 16
        assert span["startTimeUnixNano"] <= span["endTimeUnixNano"]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.lists(
        st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        | st.text("0123456789-T:.Zz+ ", min_size=27, max_size=27),
        max_size=4,
    )
)
def test_timestamps_read_through_the_last_second_read_as_in_full(stamps: list[str]) -> None:
    for stamp in [*stamps, *reversed(stamps)]:  # the second kept, then another one, then it
        assert _time_ns(stamp) == _parsed_ns(stamp)
