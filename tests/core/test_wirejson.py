"""The HTTP exporter's JSON text is exactly ``json.dumps`` of ``to_events``, byte for byte."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whyops._config import DEFAULT_LIMITS, Limits
from whyops.export.encoding import encode_record, encode_records, to_events
from whyops.wire.records import (
    EventRecord,
    ExceptionInfo,
    SpanKind,
    SpanRecord,
    Status,
    ThinkingBlock,
    TokenUsage,
)
from whyops.wire.text import json_text


def reference(record: Any, limits: Limits, agent_name: str | None) -> str:
    """``json.dumps`` of the event dicts, agent name filled in as the exporter does."""
    events = to_events(record, limits)
    for event in events:
        if agent_name and event.get("agentName") == "default":
            event["agentName"] = agent_name
    return ",".join(
        json.dumps(e, ensure_ascii=False, separators=(",", ":"), default=str) for e in events
    )


text = st.text(max_size=12)
ids = st.one_of(st.none(), st.text(min_size=1, max_size=8))
leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    text,
    st.sampled_from(["sk-" + "a" * 24, "x" * 70, b"raw", datetime.date(2026, 1, 2), 2**64]),
    st.integers(4_300, 5_000).map(lambda digits: 10**digits),  # past json's digit limit
)
values = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(text, st.sampled_from(["token", "api_key"])), inner, max_size=4),
        st.tuples(inner, inner),
    ),
    max_leaves=12,
)
usages = st.one_of(
    st.none(), st.builds(TokenUsage, *[st.one_of(st.none(), st.integers(0, 10**6))] * 5)
)
thinking = st.lists(
    st.one_of(
        st.builds(ThinkingBlock, st.one_of(st.none(), text), st.one_of(st.none(), text)),
        st.builds(ThinkingBlock, redacted_data=text),
    ),
    max_size=2,
).map(tuple)


USUAL_KINDS = [SpanKind.TOOL, SpanKind.AGENT, SpanKind.SPAN]
#: Provider answers, as an LLM span's output: their llm_response content is read from them.
ANSWERS = [
    {
        "object": "chat.completion",
        "model": "gpt-4o",
        "choices": [
            {
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}],
                },
            }
        ],
    },
    {
        "type": "message",
        "model": "claude",
        "stop_reason": "end_turn",
        "content": [
            {"type": "thinking", "thinking": "hm", "signature": "s"},
            {"type": "text", "text": "é"},
            {"type": "tool_use", "id": "t1", "name": "g", "input": {"q": 1}},
        ],
    },
    {"object": "response", "status": "completed", "output": [{"type": "message", "content": []}]},
]


@st.composite
def span_records(draw: Any, usual: bool = False, ended_well: bool = False) -> SpanRecord:
    """Any span; ``usual``: the most common one (a tool, agent or plain span that ended well);
    ``ended_well``: a span of any kind that ended well, without thinking blocks."""
    start = draw(st.integers(0, 2**62))
    duration = draw(st.integers(0, 10**12))
    trace_id = draw(st.text(min_size=1, max_size=8))
    ended_well = ended_well or usual
    failed = False if ended_well else draw(st.booleans())
    exception = draw(
        st.one_of(
            st.none(),
            st.builds(ExceptionInfo, text, text, text, st.one_of(st.none(), text)),
        )
    )
    return SpanRecord(
        trace_id=trace_id,
        span_id=draw(st.sampled_from(["00f067aa0ba902b7", 'odd"id'])),
        parent_span_id=draw(ids),
        name=draw(text),
        kind=draw(st.sampled_from(USUAL_KINDS if usual else list(SpanKind))),
        start_time_ns=start,
        end_time_ns=start + duration,
        duration_ns=duration,
        status=Status.ERROR if failed else Status.OK,
        agent_name=draw(st.one_of(ids, st.just("default"))),
        thread_id=draw(st.one_of(ids, st.just(trace_id))),
        external_user_id=draw(ids),
        inputs=draw(st.one_of(st.none(), st.dictionaries(text, values, max_size=4))),
        output=draw(st.one_of(values, st.sampled_from(ANSWERS))),
        has_output=draw(st.booleans()),
        exception=exception if failed else None,
        thinking=() if ended_well else draw(thinking),
        usage=draw(usages),
        model=draw(ids),
        provider=draw(ids),
        attributes=draw(st.dictionaries(text, values, max_size=3)),
    )


small = Limits(max_string_length=16, max_items=3, max_depth=3)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(span_records(usual=True), span_records(ended_well=True), span_records()),
    st.sampled_from([DEFAULT_LIMITS, small]),
    st.sampled_from([None, "", "bot"]),
)
def test_span_text_equals_json_dumps_of_the_events(
    record: SpanRecord, limits: Limits, agent_name: str | None
) -> None:
    assert encode_record(record, limits, agent_name) == reference(record, limits, agent_name)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(text, values, max_size=5))
def test_manual_event_text_equals_json_dumps(content: dict[str, Any]) -> None:
    record = EventRecord({"eventType": "user_message", "traceId": "t", "content": content})
    assert encode_record(record, DEFAULT_LIMITS, "bot") == reference(record, DEFAULT_LIMITS, "bot")


def test_a_batch_is_one_json_array_of_every_event() -> None:
    tool = SpanRecord("t", "a" * 16, None, "search", SpanKind.TOOL, 0, 5, 5, inputs={"q": "é"})
    manual = EventRecord({"eventType": "user_message", "traceId": "t", "agentName": "default"})
    body, failed = encode_records([tool, manual], DEFAULT_LIMITS, "bot")
    assert failed == 0
    events = json.loads(body)
    assert [e["eventType"] for e in events] == [
        "tool_call_request",
        "tool_call_response",
        "user_message",
    ]
    assert {e["agentName"] for e in events} == {"bot"}
    assert "é" in body.decode()  # not escaped, as ensure_ascii=False


def test_json_text_matches_json_dumps_for_scalars_and_containers() -> None:
    for value in (0, -5, 2**70, True, None, 1.5, 'a"b\n\u2028', [1, {"k": [None]}], {}):
        assert json_text(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@settings(max_examples=100, deadline=None)
@given(span_records(ended_well=True), st.sampled_from([None, "bot"]))
def test_the_text_writer_follows_any_table_of_fields(record: SpanRecord, agent: str | None) -> None:
    """The writer is compiled from the span kinds' table, so a table it was never written
    for (an optional key last, whole-object parts, a part in both events) still gives
    exactly ``json.dumps`` of the events that table describes."""
    from whyops.export.encoding import sanitizer
    from whyops.wire import encode, writer

    def text(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def answer(values: Any) -> Any:
        return values.output()

    name = encode.Field("name", encode._name, encode.string_text)
    spec = encode.SpanKindSpec(
        encode.EventSpec(
            "user_message",
            (name, encode.Field("usage", encode._usage, when=encode.attrgetter("record.usage"))),
            answer,
        ),
        encode.EventSpec("llm_response", answer, (name, *encode._CLOSING_META)),
    )
    safe = sanitizer(DEFAULT_LIMITS)
    values = encode._SpanValues(record, safe)
    fields = encode._fields(record, agent)
    events = [
        encode.stamped(spec.opening.body(values, values.start), fields, 0),
        encode.stamped(spec.closing.body(values, values.end), fields, 1),
    ]
    write = writer._compile(spec)
    keys = [text(f"{record.span_id}:{n}") for n in (0, 1)]
    written = write(encode._SpanValues(record, safe), text(fields)[1:-1], *keys)
    assert written == text(events)[1:-1]


def test_the_text_writer_refuses_a_table_json_dumps_would_not_match() -> None:
    from whyops.wire import encode, writer

    name = encode.Field("name", encode._name)
    usage = encode.Field("usage", encode._usage, when=encode.attrgetter("record.usage"))
    for fields in [(name, name), (usage, name), ()]:
        event = encode.EventSpec("user_message", fields, fields)
        with pytest.raises(ValueError, match="first key"):
            writer._compile(encode.SpanKindSpec(event, event))
