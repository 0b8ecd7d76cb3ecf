"""WhyOps 0.1.1 event payloads, built and checked in the caller (pure, no I/O).

Each ``*_content`` function returns ``(content, metadata)`` for one event type, with the
exact keys WhyOps 0.1.1 sends. :func:`apply_options` adds the caller's options. Arguments of the
wrong type or shape raise ``TypeError``/``ValueError`` naming the parameter: an event the
server would reject must not enter a batch, where it would take valid events down with it.
Containers are copied one level deep so that appending to a list after the call (the usual
``messages.append(reply)``) does not change what is sent.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from . import _check as check

Json = dict[str, Any]


class StepOptions(TypedDict, total=False):
    """Keyword options of ``tool_call_response`` (its span id is positional)."""

    step_id: int
    parent_step_id: int
    timestamp: str | _dt.datetime
    idempotency_key: str
    external_user_id: str


class EventOptions(StepOptions, total=False):
    """Keyword options accepted by every trace-builder method."""

    span_id: str


OPTION_NAMES = frozenset(EventOptions.__annotations__)


def iso_utc(name: str, value: object) -> str:
    """A caller's timestamp in ``...Z`` form; offsets are converted, naive times refused."""
    if isinstance(value, str):
        if value.endswith("Z"):
            check.text(name, value, max_len=64)
            return value
        try:
            value = _dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not an ISO 8601 timestamp") from None
    if not isinstance(value, _dt.datetime):
        raise TypeError(f"{name}: expected an ISO 8601 string or a datetime")
    if value.tzinfo is None:
        raise ValueError(f"{name}: naive datetime; give a UTC time (tz-aware or ending in Z)")
    utc = value.astimezone(_dt.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def apply_options(payload: Json, options: Mapping[str, Any]) -> None:
    """Write checked options into a payload: over its generated defaults, then the extras."""
    if options.get("span_id"):
        payload["spanId"] = options["span_id"]
    if options.get("timestamp"):
        payload["timestamp"] = options["timestamp"]
    if options.get("idempotency_key"):
        payload["idempotencyKey"] = options["idempotency_key"]
    if options.get("step_id") is not None:
        payload["stepId"] = options["step_id"]
    if options.get("parent_step_id") is not None:
        payload["parentStepId"] = options["parent_step_id"]
    if options.get("external_user_id"):
        payload["externalUserId"] = options["external_user_id"]


def check_options(method: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the common options; unknown names are a ``TypeError`` naming them."""
    unknown = options.keys() - OPTION_NAMES
    if unknown:
        name = sorted(unknown)[0]
        raise TypeError(
            f"{method}() got an unexpected keyword argument {name!r} "
            f"(event options: {', '.join(sorted(OPTION_NAMES))})"
        )
    checked = dict(options)
    for name in ("span_id", "idempotency_key"):
        if checked.get(name) is not None:
            check.text(name, checked[name], max_len=128)
    for name in ("step_id", "parent_step_id"):
        if checked.get(name) is not None:
            check.integer(name, checked[name], minimum=1)
    if checked.get("external_user_id") is not None:
        check.text("external_user_id", checked["external_user_id"], max_len=255)
    if checked.get("timestamp") is not None:
        checked["timestamp"] = iso_utc("timestamp", checked["timestamp"])
    return checked


def user_message_content(messages: object, metadata: object) -> tuple[Json, Json | None]:
    items = check.list_of_mappings("messages", messages, required_key="role")
    return {"messages": items}, check.optional_mapping("metadata", metadata)


def llm_response_content(
    model: object,
    provider: object,
    content: object,
    tool_calls: object,
    finish_reason: object,
    usage: object,
    latency_ms: object,
) -> tuple[Json, Json]:
    body: Json = {}
    if content is not None:
        body["content"] = check.text("content", content, allow_empty=True)
    if tool_calls:
        body["toolCalls"] = check.list_of_mappings("tool_calls", tool_calls)
    if finish_reason:
        body["finishReason"] = check.text("finish_reason", finish_reason)
    meta: Json = {"model": check.text("model", model), "provider": check.text("provider", provider)}
    if usage:
        meta["usage"] = check.usage("usage", usage)
    _latency(meta, latency_ms)
    return body, meta


def llm_thinking_content(thinking: object, signature: object) -> tuple[Json, None]:
    body: Json = {
        "type": "thinking",
        "thinking": check.text("thinking", thinking, allow_empty=True),
    }
    if signature:
        body["signature"] = check.text("signature", signature)
    return body, None


def embedding_request_content(inputs: object) -> tuple[Json, None]:
    if isinstance(inputs, str):
        return {"input": inputs}, None
    if not isinstance(inputs, Sequence) or isinstance(inputs, bytes):
        raise TypeError("inputs: expected a list of strings (or one string)")
    return {"input": list(inputs)}, None


def embedding_response_content(
    model: object,
    provider: object,
    embedding_count: object,
    first_embedding_dimensions: object,
    total_tokens: object,
    latency_ms: object,
) -> tuple[Json, Json]:
    body: Json = {
        "object": "list",
        "embeddingCount": check.integer("embedding_count", embedding_count),
        "firstEmbeddingDimensions": check.integer(
            "first_embedding_dimensions", first_embedding_dimensions
        ),
        "encodingFormat": "float",
    }
    meta: Json = {"model": check.text("model", model), "provider": check.text("provider", provider)}
    if total_tokens is not None:
        meta["usage"] = {"totalTokens": check.integer("total_tokens", total_tokens)}
    _latency(meta, latency_ms)
    return body, meta


def tool_call_request_content(
    tool: object, tool_calls: object, latency_ms: object, requested_at: object
) -> tuple[Json, Json]:
    meta: Json = {"tool": check.text("tool", tool)}
    _latency(meta, latency_ms)
    body: Json = {
        "toolCalls": check.list_of_mappings("tool_calls", tool_calls, required_key="name")
    }
    if requested_at:
        body["requestedAt"] = iso_utc("requested_at", requested_at)
    return body, meta


def tool_call_response_content(
    tool: object,
    tool_calls: object,
    tool_results: object,
    latency_ms: object,
    responded_at: object,
) -> tuple[Json, Json]:
    meta: Json = {"tool": check.text("tool", tool)}
    _latency(meta, latency_ms)
    body: Json = {
        "toolCalls": check.list_of_mappings("tool_calls", tool_calls, required_key="name"),
        "toolResults": check.mapping_or_list("tool_results", tool_results),
    }
    if responded_at:
        body["respondedAt"] = iso_utc("responded_at", responded_at)
    return body, meta


def tool_result_content(tool_name: object, output: object) -> tuple[Json, None]:
    name = check.text("tool_name", tool_name)
    return {"toolName": name, "output": check.json_value("output", output)}, None


def error_content(message: object, status: object, stack: object) -> tuple[Json, None]:
    body: Json = {"message": check.text("message", message, allow_empty=True)}
    if status is not None:
        body["status"] = check.integer("status", status)
    if stack:
        body["stack"] = check.text("stack", stack)
    return body, None


def _latency(meta: Json, latency_ms: object) -> None:
    if latency_ms is not None:
        meta["latencyMs"] = check.number("latency_ms", latency_ms)
