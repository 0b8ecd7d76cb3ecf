"""whyops.otlp.outbound against a stored answer: a fixed batch (agent, chat with usage and
messages, tool, Anthropic chat with thinking, embeddings, a failed tool, a client's manual
call, an unfinished span, ids given by hand) gives exactly the OTLP/JSON dict in
``data/outbound_golden.json``, and its protobuf body is what protobuf's own JSON reader
makes of that dict. Any change to what is exported shows here first.

Regenerate (after a deliberate change only): ``python -m tests.otlp.test_outbound_golden``.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.otlp.test_outbound import CHAT_ANSWER, CLAUDE_ANSWER, T0, TRACE
from whyops.export.encoding import to_events
from whyops.otlp import outbound, proto
from whyops.wire.records import (
    ExceptionInfo,
    SpanKind,
    SpanRecord,
    Status,
    ThinkingBlock,
    TokenUsage,
)

GOLDEN = Path(__file__).parent / "data" / "outbound_golden.json"
OPTIONS: dict[str, dict[str, Any]] = {
    "closed": {"service_name": "checkout"},
    "open": {
        "service_name": "whyops",
        "resource": {"whyops.project": "shop", "replicas": 2},
        "scope_version": "9.9.9",
        "include_open": True,
    },
}


def _record(index: int, kind: SpanKind, name: str, **fields: Any) -> SpanRecord:
    start = T0 + index * 7_000_123
    values: dict[str, Any] = {
        "trace_id": TRACE,
        "span_id": f"{index:016x}",
        "parent_span_id": "0000000000000001" if index > 1 else None,
        "name": name,
        "kind": kind,
        "start_time_ns": start,
        "end_time_ns": start + 2_500_000 + index,
        "duration_ns": 2_500_001 + index,
        "agent_name": "support-bot",
        "thread_id": "conv-7",
    }
    values.update(fields)
    return SpanRecord(**values)


def _records() -> list[SpanRecord]:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "where is A1? ünïcode"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_0", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": '{"ok":true}'},
        {"role": "user", "content": [{"type": "text", "text": "and B2?"}, {"type": "image"}]},
    ]
    failure = ExceptionInfo("KeyError", "KeyError: 'A9'", "Traceback ...")
    # fmt: off
    return [
        _record(1, SpanKind.AGENT, "planner", inputs={"question": "A1?"}, output="shipped",
                has_output=True, external_user_id="user-3"),
        _record(2, SpanKind.LLM, "openai.chat", model="gpt-4o-mini", provider="openai",
                inputs={"messages": messages}, output=CHAT_ANSWER, has_output=True,
                usage=TokenUsage(120, 30, 150, 100, None, reasoning_tokens=12),
                attributes={"tier": "gold", "gen_ai.tool.name": "spoofed", "n": 3}),
        _record(3, SpanKind.TOOL, "lookup", inputs={"order": "A1"},
                output={"status": "shipped", "eta": 2.5}, has_output=True),
        _record(4, SpanKind.LLM, "anthropic.messages", model="claude-sonnet-4-5",
                provider="anthropic", inputs={"messages": [{"role": "user", "content": "hi"}]},
                output=CLAUDE_ANSWER, has_output=True, usage=TokenUsage(10, 5, 45, 20, 10),
                thinking=(ThinkingBlock(text="Let me see.", signature="sig"),)),
        _record(5, SpanKind.EMBEDDING, "openai.embeddings", model="text-embedding-3-small",
                provider="openai", inputs={"input": ["a", "b"]}, usage=TokenUsage(4, 0, 4)),
        _record(6, SpanKind.TOOL, "charge", inputs={"amount": 5}, status=Status.ERROR,
                exception=failure),
        _record(7, SpanKind.SPAN, "step", inputs={}, output=[1, None, True], has_output=True),
        _record(8, SpanKind.TOOL, "by-hand", trace_id="thread_Zx9-proxy", span_id="step-8"),
    ]
    # fmt: on


def _manual_and_open_events() -> list[dict[str, Any]]:
    """A client's manual LLM call (two events of one span) and a span never closed."""
    base = {"traceId": TRACE, "agentName": "desk", "threadId": None}
    return [
        {**base, "eventType": "user_message", "spanId": "00000000000000e1",
         "timestamp": "2026-11-27T08:00:00.000001Z", "idempotencyKey": "m-1",
         "content": {"messages": [{"role": "user", "content": "hello"}]},
         "metadata": {"model": "gpt-4o", "provider": "openai", "temperature": 0.2}},
        {**base, "eventType": "llm_response", "spanId": "00000000000000e1",
         "timestamp": "2026-11-27T08:00:01.250000Z", "idempotencyKey": "m-2",
         "content": {"content": "hi!", "finishReason": "stop"},
         "metadata": {"model": "gpt-4o-2024-08-06", "provider": "openai", "latencyMs": 1249,
                      "usage": {"promptTokens": 3, "completionTokens": 2, "totalTokens": 5}}},
        {**base, "eventType": "tool_call_request", "spanId": "00000000000000f2",
         "parentSpanId": "00000000000000e1", "spanKind": "tool", "spanName": "slow",
         "timestamp": "2026-11-27T08:00:02.000000+00:00", "idempotencyKey": "o-1",
         "content": {"toolCalls": [{"name": "slow", "arguments": {"n": 1}}]},
         "metadata": {"tool": "slow"}},
    ]  # fmt: skip


def _read_api_form(event: dict[str, Any], number: int) -> dict[str, Any]:
    """An ingest event as the read API (and the server's forwarder) hands it over."""
    meta = event.get("metadata") or {}
    form = {**event, "id": number, "model": meta.get("model"), "provider": meta.get("provider")}
    form.update(hasError=event["eventType"] == "error", latencyMs=meta.get("latencyMs"))
    form.setdefault("parentSpanId", None)
    form.pop("idempotencyKey", None)
    return form


def batches() -> dict[str, list[dict[str, Any]]]:
    ingest = [e for r in _records() for e in to_events(r)] + _manual_and_open_events()
    return {"ingest": ingest, "read": [_read_api_form(e, n) for n, e in enumerate(ingest)]}


def _expected() -> dict[str, Any]:
    return {
        f"{form}/{name}": outbound.request_of(copy.deepcopy(events), **options)
        for form, events in batches().items()
        for name, options in OPTIONS.items()
    }


def _as_protobuf_json(value: Any, key: str = "") -> Any:
    """The OTLP/JSON dict as protobuf's JSON mapping reads it (ids base64, not hex)."""
    if isinstance(value, dict):
        return {k: _as_protobuf_json(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_protobuf_json(v) for v in value]
    if key in ("traceId", "spanId", "parentSpanId"):
        return base64.b64encode(bytes.fromhex(value)).decode()
    return value


GOLDEN_REQUESTS: dict[str, Any] = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}


@pytest.mark.parametrize("case", sorted(GOLDEN_REQUESTS))
def test_the_batch_gives_the_stored_request(case: str) -> None:
    form, name = case.split("/")
    events = batches()[form]
    untouched = copy.deepcopy(events)
    assert outbound.request_of(events, **OPTIONS[name]) == GOLDEN_REQUESTS[case]
    assert events == untouched  # the caller's events are read, never changed


@pytest.mark.parametrize("case", sorted(GOLDEN_REQUESTS))
def test_the_protobuf_body_is_the_stored_request(case: str) -> None:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    form, name = case.split("/")
    body = outbound.request_body(batches()[form], **OPTIONS[name])
    official = json_format.ParseDict(
        _as_protobuf_json(GOLDEN_REQUESTS[case]), trace_service_pb2.ExportTraceServiceRequest()
    )
    assert body == official.SerializeToString()
    assert body == proto.encode_request(GOLDEN_REQUESTS[case])


def test_the_golden_file_covers_every_case() -> None:
    assert sorted(GOLDEN_REQUESTS) == sorted(_expected())
    spans = GOLDEN_REQUESTS["ingest/open"]["resourceSpans"][0]["scopeSpans"][0]["spans"]
    names = [span["name"] for span in spans]
    assert "execute_tool slow" in names and "chat gpt-4o" in names  # open + manual spans
    assert len(spans) == 10


def test_no_spans_give_an_empty_request_and_body() -> None:
    assert outbound.request_of([], service_name="s") == {"resourceSpans": []}
    assert outbound.request_body([], service_name="s") == proto.encode_request({}) == b""
    lone = _manual_and_open_events()[2:]
    assert outbound.request_body(lone, service_name="s") == b""  # open, not asked for


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(_expected(), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {GOLDEN}")
