"""Property tests of whyops.otlp.inbound.translate over random OTLP/JSON requests: it never
raises, counts every span, and every event it gives is accepted by the ingest validation."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whyops.otlp import conventions
from whyops.otlp.inbound import translate
from whyops.server.validation import validate_events

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Every name the conventions know, and flattened forms of the list attributes.
KEYS = sorted(
    {value for value in vars(conventions).values() if isinstance(value, str) and "." in value}
    | {
        "gen_ai.prompt.0.role",
        "gen_ai.prompt.0.content",
        "gen_ai.prompt.1.tool_call_id",
        "gen_ai.completion.0.content",
        "gen_ai.completion.0.tool_calls.0.name",
        "gen_ai.completion.0.tool_calls.0.arguments",
        "llm.input_messages.0.message.role",
        "llm.input_messages.0.message.content",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments",
        "llm.tools.0.tool.json_schema",
        "llm.request.functions.0.name",
    }
)
EVENT_NAMES = [
    "exception",
    "gen_ai.choice",
    "gen_ai.content.prompt",
    *conventions.MESSAGE_EVENT_ROLES,
    "other",
]
JSON_TEXTS = [
    '[{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]',
    '[{"role": "assistant", "parts": [{"type": "tool_call", "id": 1, "name": null}]}]',
    '[{"type": "text", "content": "sys"}]',
    '[{"type": "function", "function": {"name": "f", "parameters": "[[[["}}]',
    '{"object": "chat.completion", "choices": [{"message": {"tool_calls": [{}]}}]}',
    '{"type": "message", "content": [{"type": "tool_use", "input": NaN}]}',
    '{"messages": [1, {"role": 2}]}',
    "[" * 200 + "]" * 200,
    '[{"role": "user", "parts": [{"type": "text", "content": "\\ud800"}]}]',
    '{"a": "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "b": ' + "[" * 60 + "]" * 60 + "}",
    '{"a": ' * 40 + "1" + "}" * 40,
]

scalars = st.one_of(
    st.builds(lambda s: {"stringValue": s}, st.text(max_size=12) | st.sampled_from(JSON_TEXTS)),
    st.builds(lambda n: {"intValue": n}, st.integers(-(2**70), 2**70)),
    st.builds(lambda f: {"doubleValue": f}, st.floats()),
    st.builds(lambda b: {"boolValue": b}, st.booleans()),
    st.builds(lambda b: {"bytesValue": base64.b64encode(b).decode()}, st.binary(max_size=8)),
    st.just({}),
    st.sampled_from(  # not what a decoder gives: refused or read, never raising
        [{"arrayValue": {"values": [5]}}, {"kvlistValue": 3}, {"odd": [1]}, "text", None]
    ),
)


def _kvs(values: st.SearchStrategy[Any]) -> st.SearchStrategy[list[dict[str, Any]]]:
    key = st.sampled_from(KEYS) | st.text(max_size=8)
    return st.lists(st.fixed_dictionaries({"key": key, "value": values}), max_size=8)


any_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.builds(lambda vs: {"arrayValue": {"values": vs}}, st.lists(inner, max_size=3)),
        st.builds(lambda kvs: {"kvlistValue": {"values": kvs}}, _kvs(inner)),
    ),
    max_leaves=12,
)
hex_ids = st.sampled_from(["0af7651916cd43dd8448eb211c80319c", "0" * 32, "abc", "", "ZZ" * 16])
span_ids = st.sampled_from(["1111111111111111", "2222222222222222", "0" * 16, "12", "", "x" * 16])
times = st.one_of(
    st.integers(1_700_000_000_000_000_000, 1_700_000_100_000_000_000),
    st.integers(-5, 2**64),
    st.none(),
    st.text(max_size=3),
)
events = st.lists(
    st.fixed_dictionaries(
        {
            "timeUnixNano": times,
            "name": st.sampled_from(EVENT_NAMES),
            "attributes": _kvs(any_values),
        }
    ),
    max_size=3,
)
broken_spans = st.fixed_dictionaries(
    {
        "traceId": hex_ids,
        "spanId": span_ids,
        "parentSpanId": span_ids,
        "name": st.text(max_size=20),
        "kind": st.integers(-1, 9),
        "startTimeUnixNano": times,
        "endTimeUnixNano": times,
        "attributes": _kvs(any_values),
        "events": events,
        "links": st.just([]),
        "status": st.fixed_dictionaries(
            {"code": st.integers(-1, 5), "message": st.text(max_size=10)}
        ),
    }
)


def _kv(key: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda v: {"key": key, "value": v}, values)


def _texts(*choices: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda s: {"stringValue": s}, st.sampled_from(choices) | st.text(max_size=4))


counts = st.builds(lambda n: {"intValue": n}, st.integers(-3, 2**40)) | scalars
#: The attributes that decide what a span becomes, with plausible values.
typed = st.lists(
    st.one_of(
        _kv(
            conventions.OPERATION_NAME,
            _texts(
                *conventions.LLM_OPERATIONS,
                "embeddings",
                "execute_tool",
                "invoke_agent",
                "create_agent",
            ),
        ),
        _kv(conventions.OI_SPAN_KIND, _texts("LLM", "TOOL", "AGENT", "CHAIN", "EMBEDDING")),
        _kv(conventions.PROVIDER_NAME, _texts("openai", "anthropic")),
        _kv(conventions.RESPONSE_MODEL, _texts("gpt-4o", "x" * 300)),
        _kv(conventions.USAGE_INPUT_TOKENS, counts),
        _kv(conventions.USAGE_CACHE_READ_INPUT_TOKENS, counts),
        _kv(conventions.INPUT_MESSAGES, _texts(*JSON_TEXTS) | any_values),
        _kv(conventions.OUTPUT_MESSAGES, _texts(*JSON_TEXTS) | any_values),
        _kv(conventions.SYSTEM_INSTRUCTIONS, _texts(*JSON_TEXTS) | any_values),
        _kv(conventions.TOOL_DEFINITIONS, _texts(*JSON_TEXTS) | any_values),
        _kv(conventions.TOOL_CALL_ARGUMENTS, _texts(*JSON_TEXTS) | any_values),
        _kv(conventions.TOOL_CALL_ID, scalars),
        _kv(conventions.AGENT_NAME, _texts("a", "b", "x" * 300)),
        _kv(conventions.AGENT_DESCRIPTION, _texts("helps") | scalars),
        _kv(conventions.CONVERSATION_ID, _texts("c", "x" * 300)),
        _kv(conventions.WHYOPS_SPAN_KIND, _texts("llm", "tool", "agent")),
    ),
    max_size=8,
)
#: Well-formed spans of two traces, parents drawn from the same few ids (so ancestors exist).
ids = st.sampled_from([f"{n:016x}" for n in range(1, 6)])
good_spans = st.builds(
    lambda trace, span, parent, name, start, duration, attributes, evs, code: {
        "traceId": trace,
        "spanId": span,
        "parentSpanId": parent,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": start,
        "endTimeUnixNano": start + duration,
        "attributes": attributes,
        "events": evs,
        "links": [],
        "status": {"code": code, "message": "m"},
    },
    st.sampled_from(["0af7651916cd43dd8448eb211c80319c", "f" * 32]),
    ids,
    ids | st.just(""),
    st.text(max_size=20) | st.sampled_from(["execute_tool t", "invoke_agent a", "chat m"]),
    st.integers(1, 2**62),
    st.integers(0, 10**12),
    st.builds(list.__add__, typed, _kvs(any_values) | _kvs(scalars)),
    events,
    st.integers(0, 3),
)
odd_spans = st.one_of(
    good_spans, good_spans, good_spans, broken_spans, st.none(), st.just({"traceId": 5})
)
requests = st.builds(
    lambda groups: {"resourceSpans": groups},
    st.lists(
        st.fixed_dictionaries(
            {
                "resource": st.fixed_dictionaries({"attributes": _kvs(any_values)}),
                "scopeSpans": st.lists(
                    st.fixed_dictionaries(
                        {"scope": st.just({"name": "s"}), "spans": st.lists(odd_spans, max_size=5)}
                    ),
                    max_size=2,
                ),
            }
        ),
        max_size=2,
    ),
)


def _span_count(request: dict[str, Any]) -> int:
    return sum(
        len(scope["spans"]) for group in request["resourceSpans"] for scope in group["scopeSpans"]
    )


@SETTINGS
@given(requests)
def test_translate_never_raises_and_every_event_validates(request: dict[str, Any]) -> None:
    result = translate(request)
    assert result.spans == _span_count(request)
    assert 0 <= result.rejected <= result.spans
    assert len(result.errors) <= min(10, result.rejected)
    translated_spans = {(e["traceId"], e["spanId"]) for e in result.events}
    assert len(translated_spans) <= result.spans - result.rejected
    # plain JSON data, storable as UTF-8 text (no NaN, no lone surrogate)
    json.dumps(result.events, allow_nan=False, ensure_ascii=False).encode("utf-8")
    rows, issues = validate_events(result.events, received_us=time.time_ns() // 1000)
    assert issues == []
    assert len(rows) == len(result.events)
    for agent in result.agents:
        assert agent.name and isinstance(agent.metadata["systemPrompt"], str)
        json.dumps(agent.metadata, allow_nan=False)


@SETTINGS
@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.text(),
        st.lists(st.none()),
        st.dictionaries(
            st.text(max_size=3), st.none() | st.integers() | st.lists(st.integers()), max_size=3
        ),
    )
)
def test_translate_of_a_request_of_the_wrong_shape_takes_nothing(request: Any) -> None:
    result = translate(request)
    assert (result.events, result.agents, result.spans) == ([], [], 0)
