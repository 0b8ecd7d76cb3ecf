"""Span records → WhyOps events, exactly as docs/wire-format.md specifies. Pure functions.

Captured values, and the content and metadata of manual events, are made JSON-safe here
(on the flusher thread), within the limits. The records' own parts (usage, thinking,
exceptions) take their wire form from the cattrs converter in ``whyops._unstructure``,
imported on first use.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

from whyops._capture import _INT_MAX, _INT_MIN, _SECRET_VALUE, is_secret_key, to_json_safe
from whyops._config import DEFAULT_LIMITS, Limits
from whyops._providers import response_summary
from whyops.models import (
    EventRecord,
    ExceptionInfo,
    Record,
    SpanKind,
    SpanRecord,
    Status,
    ThinkingBlock,
    TokenUsage,
)

__all__ = [
    "DEFAULT_AGENT_NAME",
    "complete_event",
    "error_content",
    "idempotency_key",
    "iso_timestamp",
    "manual_event",
    "thinking_content",
    "to_events",
    "usage_dict",
]

#: ``agentName`` of a trace that no agent, client or configuration named (WhyOps requires one).
DEFAULT_AGENT_NAME = "default"

_second_cache: tuple[int, str] = (-1, "")
# uuid4 layout applied to 128 random bits, as ``uuid.UUID(int=..., version=4)`` does.
_UUID4_CLEAR = (2**128 - 1) & ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET = (0x8000 << 48) | (4 << 76)
_SPAN_MASK = 2**64 - 1
# Plain strings for enum members: ``Enum.value`` is a slow descriptor on the flusher's path.
_KIND = {kind: kind.value for kind in SpanKind}
_STATUS = {status: status.value for status in Status}


def iso_timestamp(epoch_ns: int) -> str:
    """``2026-11-27T07:03:48.123456Z`` (UTC, microseconds)."""
    global _second_cache
    seconds, rest = divmod(epoch_ns, 1_000_000_000)
    cached_second, prefix = _second_cache
    if cached_second != seconds:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _second_cache = (seconds, prefix)
    return f"{prefix}.{rest // 1000:06d}Z"


_unstructure_module: ModuleType | None = None


def _unstructure() -> ModuleType:
    global _unstructure_module
    if _unstructure_module is None:
        from whyops import _unstructure

        _unstructure_module = _unstructure
    return _unstructure_module


def usage_dict(usage: TokenUsage) -> dict[str, int]:
    """The WhyOps ``usage`` object (only the counts that are known)."""
    result: dict[str, int] = _unstructure().usage_dict(usage)
    return result


def thinking_content(block: ThinkingBlock) -> dict[str, Any]:
    """The ``llm_thinking`` content of one thinking block."""
    result: dict[str, Any] = _unstructure().thinking_content(block)
    return result


def error_content(info: ExceptionInfo | None, limits: Limits) -> dict[str, Any]:
    """The ``error`` content: ``{"message", "type", "stack", "originSpanId"}``."""
    if info is None:
        return {"message": "error", "type": "Error"}
    message = to_json_safe(f"{info.type}: {info.message}", limits)
    content: dict[str, Any] = {"message": message, **_unstructure().exception_content(info)}
    if "stack" in content:
        content["stack"] = to_json_safe(content["stack"], limits)
    return content


def manual_event(payload: Mapping[str, Any], limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """A manual event under the capture rules (JSON-safe, within limits, secrets masked).

    Never raises: a cycle or an odd object deep in one event's content must not make the
    whole batch unserialisable.
    """
    safe = to_json_safe(payload, limits)
    return safe if isinstance(safe, dict) else {"content": safe}


def idempotency_key(bits: int) -> str:
    """The low 128 of ``bits`` as a uuid4 in its usual text form (version, variant set)."""
    h = f"{bits & _UUID4_CLEAR | _UUID4_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def complete_event(record: EventRecord) -> dict[str, Any]:
    """A manual event's payload with the fields it left to generate (``None``) filled in.

    ``timestamp`` comes from the record's ``time_ns``; ``idempotencyKey`` from the low 128
    of its ``random_bits``, ``spanId`` from the next 64. They derive from the record alone,
    so every encoding of it (a retry, a split batch) sends the same key.
    """
    event = dict(record.draft)
    if record.time_ns is not None and event.get("timestamp") is None:
        event["timestamp"] = iso_timestamp(record.time_ns)
    bits = record.random_bits
    if bits is not None:
        if event.get("idempotencyKey") is None:
            event["idempotencyKey"] = idempotency_key(bits)
        if event.get("spanId") is None:
            event["spanId"] = f"{bits >> 128 & _SPAN_MASK or 1:016x}"
    return event


def to_events(record: Record, limits: Limits = DEFAULT_LIMITS) -> list[dict[str, Any]]:
    """The WhyOps events for one record: first, thinking…, then last (or ``error``)."""
    if isinstance(record, EventRecord):
        return [_manual_record_event(record, limits)]
    return _SpanEvents(record, limits).build()


def _manual_record_event(record: EventRecord, limits: Limits) -> dict[str, Any]:
    """:func:`manual_event` of the record's payload, without a conversion when it is plain."""
    if record.time_ns is None and record.random_bits is None:
        payload: Mapping[str, Any] = record.draft
        if limits.redact is None and type(payload) is dict and _plain(payload, limits, 0):
            return payload.copy()
    else:
        payload = complete_event(record)
        if limits.redact is None and _plain(payload, limits, 0):
            return payload
    return manual_event(payload, limits)


# Keys the trace builder writes; none of them names a secret (computed, not assumed).
_WIRE_KEYS = frozenset(
    key
    for key in [
        *("eventType", "traceId", "agentName", "spanId", "timestamp", "idempotencyKey"),
        *("content", "metadata", "stepId", "parentStepId", "externalUserId", "parentSpanId"),
        *("threadId", "messages", "role", "model", "provider", "usage", "latencyMs"),
        *("finishReason", "toolCalls", "toolResults", "requestedAt", "respondedAt", "tool"),
        *("toolName", "output", "input", "type", "thinking", "signature", "message", "status"),
        *("stack", "name", "arguments", "id", "object", "embeddingCount", "encodingFormat"),
        *("firstEmbeddingDimensions", "totalTokens", "promptTokens", "completionTokens"),
    ]
    if not is_secret_key(key)
)


def _plain(value: dict[str, Any] | list[Any], limits: Limits, depth: int) -> bool:
    """Whether ``to_json_safe`` would give back ``value`` unchanged (no redaction hook).

    The manual events of the trace builder are plain JSON: checking that is several times
    cheaper than converting them. Scalars are answered inline, without a call per item.
    """
    if depth > limits.max_depth or len(value) > limits.max_items:
        return False
    if type(value) is dict:
        if not _plain_keys(value, limits.mask_secrets):
            return False
        items: Iterable[Any] = value.values()
    else:
        items = value
    max_len, mask = limits.max_string_length, limits.mask_secrets
    for item in items:
        kind = type(item)
        if kind is str:
            size = len(item)
            if size > max_len or (mask and 8 < size < 512 and _SECRET_VALUE.fullmatch(item)):
                return False
        elif kind is int:
            if not _INT_MIN <= item <= _INT_MAX:
                return False
        elif kind is dict or kind is list:
            if not _plain(item, limits, depth + 1):
                return False
        elif not (item is None or kind is bool or (kind is float and math.isfinite(item))):
            return False
    return True


def _plain_keys(value: dict[Any, Any], mask: bool) -> bool:
    for key, item in value.items():
        if key in _WIRE_KEYS:
            continue
        if type(key) is not str or (mask and item is not None and is_secret_key(key)):
            return False
    return True


class _SpanEvents:
    """Builds the events of one span; holds the values shared by all of them."""

    def __init__(self, record: SpanRecord, limits: Limits) -> None:
        self.record = record
        self.limits = limits
        self.start = iso_timestamp(record.start_time_ns)
        self.end = iso_timestamp(record.end_time_ns)
        self.latency_ms = round(record.duration_ns / 1_000_000)
        self.common = self._common()

    def _common(self) -> dict[str, Any]:
        r = self.record
        common: dict[str, Any] = {
            "traceId": r.trace_id,
            "agentName": r.agent_name or DEFAULT_AGENT_NAME,
            "spanId": r.span_id,
            "spanKind": _KIND[r.kind],
            "spanName": r.name,
        }
        if r.parent_span_id:
            common["parentSpanId"] = r.parent_span_id
        if r.external_user_id:
            common["externalUserId"] = r.external_user_id
        if r.thread_id and r.thread_id != r.trace_id:
            common["threadId"] = r.thread_id
        return common

    def build(self) -> list[dict[str, Any]]:
        kind = self.record.kind
        if kind is SpanKind.LLM:
            first, last = self._llm()
        elif kind is SpanKind.EMBEDDING:
            first, last = self._embedding()
        else:
            first, last = self._tool()
        events = [first, *self._thinking()]
        events.append(self._error() if self.record.status is Status.ERROR else last)
        for index, event in enumerate(events):
            event.update(self.common)
            event["idempotencyKey"] = f"{self.record.span_id}:{index}"
        return events

    # -- values ---------------------------------------------------------------------------

    def _inputs(self) -> Any:
        inputs = self.record.inputs
        return {} if inputs is None else to_json_safe(inputs, self.limits, ("inputs",))

    def _output(self) -> Any:
        r = self.record
        return to_json_safe(r.output, self.limits, ("output",)) if r.has_output else None

    def _model_meta(self, required: bool) -> dict[str, Any]:
        r = self.record
        meta: dict[str, Any] = {}
        if r.model or required:
            meta["model"] = r.model or "unknown"
        if r.provider or required:
            meta["provider"] = r.provider or "unknown"
        return meta

    def _closing_meta(self, meta: dict[str, Any]) -> dict[str, Any]:
        r = self.record
        meta["latencyMs"] = self.latency_ms
        meta["durationNs"] = r.duration_ns
        meta["status"] = _STATUS[r.status]
        if r.usage is not None:
            meta["usage"] = usage_dict(r.usage)
        if r.attributes:
            meta["attributes"] = to_json_safe(r.attributes, self.limits, ("attributes",))
        return meta

    # -- per kind -------------------------------------------------------------------------

    def _tool(self) -> tuple[dict[str, Any], dict[str, Any]]:
        name = self.record.name
        calls = [{"name": name, "arguments": self._inputs()}]
        first = {
            "eventType": "tool_call_request",
            "timestamp": self.start,
            "content": {"toolCalls": calls, "requestedAt": self.start},
            "metadata": {"tool": name},
        }
        output = self._output()
        last = {
            "eventType": "tool_call_response",
            "timestamp": self.end,
            "content": {"toolCalls": calls, "toolResults": output, "respondedAt": self.end},
            "metadata": self._closing_meta({"tool": name}),
        }
        return first, last

    def _llm(self) -> tuple[dict[str, Any], dict[str, Any]]:
        inputs = self._inputs()
        messages = inputs.get("messages") if isinstance(inputs, Mapping) else None
        if not isinstance(messages, list):
            text = json.dumps(inputs, ensure_ascii=False, default=str)
            messages = [{"role": "user", "content": text}]
        first = {
            "eventType": "user_message",
            "timestamp": self.start,
            "content": {"messages": messages},
            "metadata": self._model_meta(required=False),
        }
        last = {
            "eventType": "llm_response",
            "timestamp": self.end,
            "content": self._llm_content(),
            "metadata": self._closing_meta(self._model_meta(required=True)),
        }
        return first, last

    def _llm_content(self) -> dict[str, Any]:
        output = self.record.output
        summary = response_summary(output) if self.record.has_output else None
        if summary is not None:
            return to_json_safe(summary, self.limits, ("output",))
        value = self._output()
        if value is None or isinstance(value, str):
            return {"content": value}
        return {"content": json.dumps(value, ensure_ascii=False, default=str)}

    def _embedding(self) -> tuple[dict[str, Any], dict[str, Any]]:
        inputs = self._inputs()
        given = inputs.get("input", inputs) if isinstance(inputs, Mapping) else inputs
        first = {
            "eventType": "embedding_request",
            "timestamp": self.start,
            "content": {"input": given},
            "metadata": self._model_meta(required=False),
        }
        content: dict[str, Any] = {"object": "list"}
        output = self._output()
        if isinstance(output, Mapping):
            content.update({k: v for k, v in output.items() if k != "data"})
        elif output is not None:
            content["output"] = output
        last = {
            "eventType": "embedding_response",
            "timestamp": self.end,
            "content": content,
            "metadata": self._closing_meta(self._model_meta(required=True)),
        }
        return first, last

    def _thinking(self) -> list[dict[str, Any]]:
        if not self.record.thinking:
            return []
        meta = self._model_meta(required=False)
        events = []
        for block in self.record.thinking:
            events.append(
                {
                    "eventType": "llm_thinking",
                    "timestamp": self.end,
                    "content": thinking_content(block),
                    "metadata": dict(meta),
                }
            )
        return events

    def _error(self) -> dict[str, Any]:
        r = self.record
        content = error_content(r.exception, self.limits)
        meta = self._model_meta(required=False) if r.kind is SpanKind.LLM else {}
        meta["tool"] = r.name
        return {
            "eventType": "error",
            "timestamp": self.end,
            "content": content,
            "metadata": self._closing_meta(meta),
        }
