"""Event validation: WhyOps' zod schema, reproduced with field-level errors.

``validate_events`` turns a parsed request body into :class:`EventRow` objects, or into a list
of issues ``{field, message, code}`` naming each bad field (``"1.metadata.tool"``). A batch with
any issue is rejected as a whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeGuard

import attrs

from whyops.server.event_columns import extract_columns
from whyops.server.legacy import split_tool_call
from whyops.server.nesting import MAX_NESTING, deep_arguments, too_deep
from whyops.server.store.rows import EventRow
from whyops.server.timeutil import format_us, parse_timestamp
from whyops.wire.events import NEEDS_METADATA, NEEDS_MODEL, NEEDS_TOOL, EventType

EVENT_TYPES = frozenset(EventType)
MAX_STEP = 2**53 - 1  # zod's int(): a JavaScript safe integer
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


_TOO_DEEP = f"Nested deeper than {MAX_NESTING} levels"


def _dump(value: Any, field: str, issues: Issues, *, is_content: bool = False) -> str | None:
    """``value`` as stored JSON text; None after recording why it cannot be stored."""
    if value is None:
        return None
    try:
        text = encode_json(value)
    except RecursionError:
        issues.add(field, _TOO_DEEP, "too_big")
        return None
    except (ValueError, TypeError):
        issues.add(field, "Contains a number JSON cannot represent", "custom")
        return None
    if too_deep(text):
        issues.add(field, _TOO_DEEP, "too_big")
        return None
    if is_content and (where := deep_arguments(value)) is not None:
        issues.add(f"{field}.{where}", f"JSON text {_TOO_DEEP.lower()}", "too_big")
        return None
    return text


def validate_events(
    body: Any,
    *,
    received_us: int,
    default_external_user_id: str | None = None,
    forced_type: str | None = None,
) -> tuple[list[EventRow], list[dict[str, str]]]:
    """Rows for every event of ``body`` (an object or an array), or the issues found."""
    issues = Issues()
    listed = isinstance(body, list)
    if not listed and not isinstance(body, dict):
        issues.add("", f"Expected object or array, received {type_name(body)}", "invalid_type")
        return [], issues.items
    rows: list[EventRow] = []
    context = _Context(received_us, default_external_user_id, forced_type)
    for index, item in enumerate(body if listed else [body]):
        row = _fast_path_row(item, index, context) if type(item) is dict else None
        if row is None:  # the general path decides, and names every bad field
            row = _checked_row(item, index, f"{index}." if listed else "", context, issues)
            if row is None:
                continue
        content, metadata = item.get("content"), item.get("metadata")
        extract_columns(row, content, metadata)
        if row.event_type == EventType.TOOL_CALL:
            rows.extend(split_tool_call(row, content, metadata))
        else:
            rows.append(row)
    return ([] if issues else rows), issues.items


@attrs.frozen
class _Context:
    received_us: int
    default_external_user_id: str | None
    forced_type: str | None

    @property
    def received_ts(self) -> str:
        return format_us(self.received_us)


def _fast_path_row(item: dict[str, Any], index: int, context: _Context) -> EventRow | None:
    """The row of a well-formed event, checked in one pass; None: ``_checked_row`` decides.

    Accepts nothing ``_checked_row`` refuses and builds the same row; whatever is unusual
    (a wrong type, a float step, a time with an offset, a number JSON cannot hold) goes the
    general way, which also explains what is wrong.
    """
    get = item.get
    event_type = context.forced_type
    if event_type is None:
        event_type = get("eventType")
        if type(event_type) is not str or event_type not in EVENT_TYPES:
            return None
    trace_id, agent_name, metadata = get("traceId"), get("agentName"), get("metadata")
    if not (_is_name(trace_id, 128) and _is_name(agent_name, 255)):
        return None
    if not _fast_path_metadata(metadata, event_type):
        return None
    strings = _fast_path_strings(item)
    step, parent = get("stepId"), get("parentStepId")
    stamp = _fast_path_time(get("timestamp"), context)
    if strings is None or stamp is None or not (_is_step(step) and _is_step(parent)):
        return None
    content = get("content")
    try:
        content_text = None if content is None else encode_json(content)
        metadata_text = None if metadata is None else encode_json(metadata)
    except (ValueError, TypeError, RecursionError):
        return None
    if _nests_too_deep(content, content_text, metadata_text):
        return None
    span, key, user, parent_span, kind, name, thread = strings
    user = user or context.default_external_user_id
    return EventRow(
        item=index, event_type=event_type, trace_id=trace_id, agent_name=agent_name,
        ts=stamp[0], ts_us=stamp[1], span_id=span, step_id=step, parent_step_id=parent,
        parent_span_id=parent_span, span_kind=kind, span_name=name, thread_id=thread,
        external_user_id=user, idempotency_key=key, content=content_text,
        metadata=metadata_text, raw_metadata=metadata,
    )  # fmt: skip


def _nests_too_deep(content: Any, content_text: str | None, metadata_text: str | None) -> bool:
    return (
        (content_text is not None and too_deep(content_text))
        or (metadata_text is not None and too_deep(metadata_text))
        or deep_arguments(content) is not None
    )


def _is_name(value: Any, max_len: int) -> TypeGuard[str]:
    return type(value) is str and 0 < len(value) <= max_len


def _is_step(value: Any) -> bool:
    return value is None or (type(value) is int and 1 <= value <= MAX_STEP)


def _fast_path_metadata(metadata: Any, event_type: str) -> bool:
    if metadata is None:
        return event_type not in NEEDS_METADATA
    if type(metadata) is not dict:
        return False
    if event_type in NEEDS_MODEL:
        get = metadata.get
        return _is_name(get("model"), 255) and _is_name(get("provider"), 255)
    if event_type in NEEDS_TOOL:
        return _is_name(metadata.get("tool"), 255)
    return True


def _fast_path_strings(item: dict[str, Any]) -> list[str | None] | None:
    """The optional strings, in ``_OPTIONAL_STRINGS`` order ("" counts as absent)."""
    values: list[str | None] = []
    for name, _, max_len in _OPTIONAL_STRINGS:
        value = item.get(name)
        if value is not None:
            if type(value) is not str or len(value) > max_len:
                return None
            value = value or None
        values.append(value)
    return values


def _fast_path_time(value: Any, context: _Context) -> tuple[str, int] | None:
    if value is None:
        return context.received_ts, context.received_us
    return parse_timestamp(value) if type(value) is str else None


def _required_string(
    item: dict[str, Any], name: str, prefix: str, issues: Issues, max_len: int
) -> str:
    value = item.get(name)
    if type(value) is str and 0 < len(value) <= max_len:
        return value
    check_string(value, prefix + name, issues, max_len=max_len)  # records why
    return ""


def _checked_row(
    item: Any, index: int, prefix: str, context: _Context, issues: Issues
) -> EventRow | None:
    """The row of any event, or None after recording every issue found in it."""
    if type(item) is not dict:
        issues.add(
            prefix.rstrip("."), f"Expected object, received {type_name(item)}", "invalid_type"
        )
        return None
    before = len(issues.items)
    event_type = _event_type(item, prefix, context.forced_type, issues)
    metadata = _metadata(item.get("metadata"), prefix, event_type, issues)
    row = EventRow(
        item=index,
        event_type=event_type or "",
        trace_id=_required_string(item, "traceId", prefix, issues, 128),
        agent_name=_required_string(item, "agentName", prefix, issues, 255),
        ts="",
        ts_us=0,
        raw_metadata=metadata,
    )
    _optional_fields(item, prefix, row, issues)
    _timestamp(item.get("timestamp"), prefix, row, context, issues)
    row.external_user_id = row.external_user_id or context.default_external_user_id
    row.content = _dump(item.get("content"), prefix + "content", issues, is_content=True)
    row.metadata = _dump(metadata, prefix + "metadata", issues)
    return None if len(issues.items) > before else row


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
    if event_type in NEEDS_TOOL:
        _required_string(meta, "tool", prefix + "metadata.", issues, 255)
    elif event_type in NEEDS_MODEL:
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
