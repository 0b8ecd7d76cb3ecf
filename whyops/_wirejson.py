"""Records → the compact JSON text of their WhyOps events, for the HTTP exporter.

The text is exactly what ``json.dumps(events, ensure_ascii=False, separators=(",", ":"))``
makes of :func:`whyops.wire.to_events` (tests/core/test_wirejson.py checks it on generated
records). Spans that end well and carry no thinking (tools, agents, plain spans: most of
them) are written straight to text: no event dicts to build and collect, the fields common
to both events and the tool call encoded once. Every other record goes through
``to_events``. Runs on the flusher thread.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Sequence
from typing import Any

from whyops._capture import to_json_safe
from whyops._config import Limits
from whyops._errors import warn_once
from whyops.models import Record, SpanKind, SpanRecord, Status
from whyops.wire import DEFAULT_AGENT_NAME, iso_timestamp, to_events, usage_dict

__all__ = ["encode_batch", "encode_record", "encode_records", "json_text"]

_STR = json.encoder.encode_basestring  # a JSON string literal, non-ASCII kept as is
_KIND = {kind: kind.value for kind in SpanKind}
_DIRECT_KINDS = frozenset({SpanKind.TOOL, SpanKind.AGENT, SpanKind.SPAN})
_OK = Status.OK


def _make_json_text() -> Callable[[Any], str]:
    # One reusable C encoder: ``JSONEncoder.encode`` builds a new one per call, which costs
    # more than encoding the small values spans hold. No cycle check: everything encoded
    # here went through ``to_json_safe``, which has none.
    make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if make_encoder is None:  # pragma: no cover  (interpreters without the C accelerator)
        encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
        return encoder.encode
    chunks = make_encoder(None, str, _STR, None, ":", ",", False, False, True)

    def json_text(value: Any) -> str:
        kind = type(value)
        if kind is str:
            return _STR(value)
        if kind is int:
            return int.__repr__(value)
        return "".join(chunks(value, 0))

    return json_text


#: ``value`` as compact JSON text (``value`` must be JSON data: dicts, lists, scalars).
json_text = _make_json_text()


def encode_batch(records: Sequence[Record], limits: Limits, agent_name: str | None) -> bytes:
    """One JSON array of the WhyOps events of ``records`` (see :func:`encode_records`)."""
    return encode_records(records, limits, agent_name)[0]


def encode_records(
    records: Sequence[Record], limits: Limits, agent_name: str | None
) -> tuple[bytes, int]:
    """One JSON array of the WhyOps events of ``records``, and how many were left out.

    ``agent_name`` replaces ``"default"`` in traces that nothing named. Each record is
    encoded on its own: one that cannot be (a value ``json`` refuses) is left out, logged
    once and counted, and never costs the batch its other records.
    """
    parts: list[str] = []
    failed = 0
    for record in records:
        try:
            text = encode_record(record, limits, agent_name)
        except Exception as exc:
            failed += 1
            warn_once(
                "encode-record",
                "whyops: a record could not be encoded as JSON (%s: %s); it is dropped and "
                "counted in the DeliveryReport",
                type(exc).__name__,
                exc,
            )
            continue
        if text:
            parts.append(text)
    return ("[" + ",".join(parts) + "]").encode(), failed


def encode_record(record: Record, limits: Limits, agent_name: str | None) -> str:
    """The events of one record as comma-separated JSON objects."""
    if (
        type(record) is SpanRecord
        and record.status is _OK
        and record.kind in _DIRECT_KINDS
        and not record.thinking
    ):
        return _tool_events(record, limits, _common(record, agent_name))
    events = to_events(record, limits)
    if agent_name:
        for event in events:
            if event.get("agentName") == DEFAULT_AGENT_NAME:
                event["agentName"] = agent_name
    return ",".join([json_text(event) for event in events])


def _common(r: SpanRecord, agent_name: str | None) -> str:
    """``"traceId":…,"agentName":…,"spanId":…,…``: the fields every event of a span has."""
    agent = r.agent_name or DEFAULT_AGENT_NAME
    if agent_name and agent == DEFAULT_AGENT_NAME:
        agent = agent_name
    text = (
        f'"traceId":{_STR(r.trace_id)},"agentName":{_STR(agent)},"spanId":{_STR(r.span_id)},'
        f'"spanKind":"{_KIND[r.kind]}","spanName":{_STR(r.name)}'
    )
    if r.parent_span_id:
        text += f',"parentSpanId":{_STR(r.parent_span_id)}'
    if r.external_user_id:
        text += f',"externalUserId":{_STR(r.external_user_id)}'
    if r.thread_id and r.thread_id != r.trace_id:
        text += f',"threadId":{_STR(r.thread_id)}'
    return text


def _tool_events(r: SpanRecord, limits: Limits, common: str) -> str:
    """``tool_call_request`` and ``tool_call_response`` of a span that ended well."""
    start, end = iso_timestamp(r.start_time_ns), iso_timestamp(r.end_time_ns)
    name = _STR(r.name)
    inputs = r.inputs
    arguments = "{}" if inputs is None else json_text(to_json_safe(inputs, limits, ("inputs",)))
    calls = f'"toolCalls":[{{"name":{name},"arguments":{arguments}}}]'
    output = json_text(to_json_safe(r.output, limits, ("output",))) if r.has_output else "null"
    meta = (
        f'"tool":{name},"latencyMs":{round(r.duration_ns / 1_000_000)},'
        f'"durationNs":{r.duration_ns},"status":"ok"'
    )
    if r.usage is not None:
        meta += ',"usage":' + json_text(usage_dict(r.usage))
    if r.attributes:
        meta += ',"attributes":' + json_text(to_json_safe(r.attributes, limits, ("attributes",)))
    span_id = r.span_id
    return (
        f'{{"eventType":"tool_call_request","timestamp":"{start}",'
        f'"content":{{{calls},"requestedAt":"{start}"}},"metadata":{{"tool":{name}}},'
        f'{common},"idempotencyKey":{_STR(span_id + ":0")}}},'
        f'{{"eventType":"tool_call_response","timestamp":"{end}",'
        f'"content":{{{calls},"toolResults":{output},"respondedAt":"{end}"}},'
        f'"metadata":{{{meta}}},{common},"idempotencyKey":{_STR(span_id + ":1")}}}'
    )
