"""Event validation: WhyOps' zod schema, reproduced with field-level errors.

``validate_events`` turns a parsed request body into :class:`EventRow` objects, or into a list
of issues ``{field, message, code}`` naming each bad field (``"1.metadata.tool"``). A batch with
any issue is rejected as a whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs

from whyops.server.legacy import split_tool_call
from whyops.server.store.rows import EventRow
from whyops.server.timeutil import format_us, parse_timestamp

EVENT_TYPES = frozenset(
    {
        "user_message",
        "llm_response",
        "llm_thinking",
        "embedding_request",
        "embedding_response",
        "tool_call",
        "tool_call_request",
        "tool_call_response",
        "tool_result",
        "error",
    }
)
_NEEDS_TOOL = frozenset({"tool_call_request", "tool_call_response"})
_NEEDS_MODEL = frozenset({"llm_response", "embedding_response"})
MAX_STEP = 2**53 - 1  # zod's int(): a JavaScript safe integer
MAX_TOKENS = 2**40  # keeps per-trace sums far inside SQLite's 64-bit integers
# (field, max length) of the optional top-level strings; the extension fields are ours.
_OPTIONAL_STRINGS = (
    ("spanId", "span_id", 128),
    ("idempotencyKey", "idempotency_key", 128),
    ("externalUserId", "external_user_id", 255),
    ("parentSpanId", "parent_span_id", 128),
    ("spanKind", "span_kind", 64),
    ("spanName", "span_name", 1024),
    ("threadId", "thread_id", 128),
)


@attrs.define
class Issues:
    """Collected validation issues, each a ``{field, message, code}`` dict."""

    items: list[dict[str, str]] = attrs.field(factory=list)

    def add(self, field: str, message: str, code: str) -> None:
        self.items.append({"field": field, "message": message, "code": code})

    def __bool__(self) -> bool:
        return bool(self.items)


def type_name(value: Any) -> str:
    """The JSON type of ``value`` as zod names it in ``received``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def check_string(
    value: Any, field: str, issues: Issues, *, max_len: int, min_len: int = 1
) -> str | None:
    if value is None:
        issues.add(field, "Required", "invalid_type")
        return None
    if not isinstance(value, str):
        issues.add(field, f"Expected string, received {type_name(value)}", "invalid_type")
        return None
    if len(value) < min_len:
        issues.add(field, f"String must contain at least {min_len} character(s)", "too_small")
        return None
    if len(value) > max_len:
        issues.add(field, f"String must contain at most {max_len} character(s)", "too_big")
        return None
    return value


def _check_int(value: Any, field: str, issues: Issues) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        issues.add(field, f"Expected number, received {type_name(value)}", "invalid_type")
        return None
    if isinstance(value, float) and not value.is_integer():
        issues.add(field, "Expected integer, received float", "invalid_type")
        return None
    if value < 1:
        issues.add(field, "Number must be greater than or equal to 1", "too_small")
        return None
    if value > MAX_STEP:
        issues.add(field, f"Number must be less than or equal to {MAX_STEP}", "too_big")
        return None
    return int(value)


# Built once: json.dumps with options would build a new encoder on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _not_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


def _encoder() -> Callable[[Any], str]:
    """Compact, strict (no NaN) JSON text; the C encoder directly when there is one.

    ``JSONEncoder.encode`` sets up a fresh C encoder on every call, which is half its cost
    for a small object. Parsed JSON holds no cycles, so no cycle check is needed.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _ENCODER.encode
    c_encode = make(None, _not_json, json.encoder.encode_basestring, None, ":", ",",
                    False, False, False)  # fmt: skip
    return lambda value: "".join(c_encode(value, 0))


encode_json = _encoder()


def _dump(value: Any, field: str, issues: Issues) -> str | None:
    if value is None:
        return None
    try:
        return encode_json(value)
    except (ValueError, TypeError, RecursionError):
        issues.add(field, "Contains a number JSON cannot represent", "custom")
        return None


def validate_events(
    body: Any,
    *,
    received_us: int,
    default_external_user_id: str | None = None,
    forced_type: str | None = None,
) -> tuple[list[EventRow], list[dict[str, str]]]:
    """Rows for every event of ``body`` (an object or an array), or the issues found."""
    issues = Issues()
    if isinstance(body, dict):
        items, prefixes = [body], [""]
    elif isinstance(body, list):
        items, prefixes = body, [f"{i}." for i in range(len(body))]
    else:
        issues.add("", f"Expected object or array, received {type_name(body)}", "invalid_type")
        return [], issues.items
    rows: list[EventRow] = []
    context = _Context(received_us, default_external_user_id, forced_type)
    for index, (item, prefix) in enumerate(zip(items, prefixes, strict=True)):
        rows.extend(_validate_item(item, index, prefix, context, issues))
    return ([] if issues else rows), issues.items


@attrs.frozen
class _Context:
    received_us: int
    default_external_user_id: str | None
    forced_type: str | None

    @property
    def received_ts(self) -> str:
        return format_us(self.received_us)


def _required_string(
    item: dict[str, Any], name: str, prefix: str, issues: Issues, max_len: int
) -> str:
    value = item.get(name)
    if type(value) is str and 0 < len(value) <= max_len:
        return value
    check_string(value, prefix + name, issues, max_len=max_len)  # records why
    return ""


def _validate_item(
    item: Any, index: int, prefix: str, context: _Context, issues: Issues
) -> list[EventRow]:
    if type(item) is not dict:
        issues.add(
            prefix.rstrip("."), f"Expected object, received {type_name(item)}", "invalid_type"
        )
        return []
    before = len(issues.items)
    event_type = _event_type(item, prefix, context.forced_type, issues)
    metadata = _metadata(item.get("metadata"), prefix, event_type, issues)
    row = EventRow(
        index,
        event_type or "",
        _required_string(item, "traceId", prefix, issues, 128),
        _required_string(item, "agentName", prefix, issues, 255),
        "",
        0,
        raw_metadata=metadata,
    )
    _optional_fields(item, prefix, row, issues)
    _timestamp(item.get("timestamp"), prefix, row, context, issues)
    row.external_user_id = row.external_user_id or context.default_external_user_id
    content = item.get("content")
    row.content = _dump(content, prefix + "content", issues)
    row.metadata = _dump(metadata, prefix + "metadata", issues)
    if len(issues.items) > before:
        return []
    _extract_metrics(row, content, metadata)
    if event_type == "tool_call":
        return split_tool_call(row, content, metadata)
    return [row]


def _event_type(
    item: dict[str, Any], prefix: str, forced: str | None, issues: Issues
) -> str | None:
    if forced is not None:
        return forced
    value = item.get("eventType")
    if type(value) is str and value in EVENT_TYPES:
        return value
    if value is None:
        issues.add(prefix + "eventType", "Required", "invalid_type")
        return None
    options = " | ".join(f"'{t}'" for t in sorted(EVENT_TYPES))
    received = f"'{value}'" if isinstance(value, str) else type_name(value)
    issues.add(
        prefix + "eventType",
        f"Invalid enum value. Expected {options}, received {received}",
        "invalid_enum_value",
    )
    return None


def _metadata(
    value: Any, prefix: str, event_type: str | None, issues: Issues
) -> dict[str, Any] | None:
    if value is not None and type(value) is not dict:
        message = f"Expected object, received {type_name(value)}"
        issues.add(prefix + "metadata", message, "invalid_type")
        return None
    meta = value or {}
    if event_type in _NEEDS_TOOL:
        _required_string(meta, "tool", prefix + "metadata.", issues, 255)
    elif event_type in _NEEDS_MODEL:
        _required_string(meta, "model", prefix + "metadata.", issues, 255)
        _required_string(meta, "provider", prefix + "metadata.", issues, 255)
    return value


def _optional_fields(item: dict[str, Any], prefix: str, row: EventRow, issues: Issues) -> None:
    for name, attribute, max_len in _OPTIONAL_STRINGS:
        value = item.get(name)
        if value is None:
            continue
        if type(value) is str and len(value) <= max_len:
            setattr(row, attribute, value or None)
        else:
            check_string(value, prefix + name, issues, max_len=max_len, min_len=0)
    step, parent = item.get("stepId"), item.get("parentStepId")
    if step is not None:
        row.step_id = _check_int(step, prefix + "stepId", issues)
    if parent is not None:
        row.parent_step_id = _check_int(parent, prefix + "parentStepId", issues)


def _timestamp(value: Any, prefix: str, row: EventRow, context: _Context, issues: Issues) -> None:
    if value is None:
        row.ts, row.ts_us = context.received_ts, context.received_us
        return
    if not isinstance(value, str):
        issues.add(
            prefix + "timestamp", f"Expected string, received {type_name(value)}", "invalid_type"
        )
        return
    parsed = parse_timestamp(value)
    if parsed is None:
        issues.add(prefix + "timestamp", "Invalid datetime", "invalid_string")
        return
    row.ts, row.ts_us = parsed


def _extract_metrics(row: EventRow, content: Any, metadata: dict[str, Any] | None) -> None:
    """Typed columns for the read paths; lenient (a bad usage value is just not counted)."""
    if type(content) is dict:
        row.finish_reason = _short_string(content.get("finishReason"))
        origin = content.get("originSpanId")
        row.error_echo = row.event_type == "error" and isinstance(origin, str) and bool(origin)
    if not metadata:
        row.is_error = row.event_type == "error"
        return
    get = metadata.get
    row.model = _short_string(get("model"))
    row.provider = _short_string(get("provider"))
    latency = get("latencyMs")
    if isinstance(latency, (int, float)) and type(latency) is not bool and latency >= 0:
        row.latency_ms = float(min(latency, 1e15))
    usage = get("usage")
    if type(usage) is dict and usage:
        _usage_columns(row, usage)
    row.is_error = row.event_type == "error" or get("status") == "error"


# usage key -> (column, is an alias used only when the main key is absent)
# usage key -> (column, the key that wins over it when present: WhyOps' `a || b`)
_USAGE_KEYS: dict[str, tuple[str, str | None]] = {
    "promptTokens": ("prompt_tokens", None),
    "inputTokens": ("prompt_tokens", "promptTokens"),
    "completionTokens": ("completion_tokens", None),
    "outputTokens": ("completion_tokens", "completionTokens"),
    "totalTokens": ("total_tokens", None),
    "cacheReadTokens": ("cache_read_tokens", None),
    "cacheCreationTokens": ("cache_creation_tokens", None),
    "cacheWriteTokens": ("cache_creation_tokens", "cacheCreationTokens"),
}


def _usage_columns(row: EventRow, usage: dict[str, Any]) -> None:
    """Token columns from ``metadata.usage``, in one pass over its keys."""
    for key, value in usage.items():
        target = _USAGE_KEYS.get(key)
        if target is None or type(value) is not int or not 0 <= value <= MAX_TOKENS:
            continue
        column, main = target
        if main is None or usage.get(main) is None:
            setattr(row, column, value)
    if row.cache_creation_tokens is None and "cacheWrite5mTokens" in usage:
        row.cache_creation_tokens = _sum_tokens(usage, "cacheWrite5mTokens", "cacheWrite1hTokens")


def _short_string(value: Any) -> str | None:
    return value if type(value) is str and 0 < len(value) <= 255 else None


def _tokens(usage: dict[str, Any], name: str, alias: str | None = None) -> int | None:
    value = usage.get(name)
    if value is None and alias is not None:
        value = usage.get(alias)
    if type(value) is int and 0 <= value <= MAX_TOKENS:  # not bool, a subclass of int
        return value
    return None


def _sum_tokens(usage: dict[str, Any], *names: str) -> int | None:
    values = [_tokens(usage, name) for name in names]
    present = [v for v in values if v is not None]
    return sum(present) if present else None
