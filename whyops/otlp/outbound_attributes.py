"""The attributes of one exported span (:mod:`whyops.otlp.outbound`): the GenAI conventions
for what they name, ``whyops.*`` attributes for the rest, then the span's own attributes
under their own names. Pure.

``read`` is the span as :func:`whyops.wire.spans.span_fields` reads its events (``group``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from whyops.otlp import conventions as c
from whyops.otlp.outbound_messages import genai_answer, genai_message
from whyops.wire.text import json_text

__all__ = ["span_attributes"]

JSON = dict[str, Any]
#: ``usage`` wire key → its GenAI attribute (input tokens are handled apart: see below).
_USAGE = {
    "completionTokens": c.USAGE_OUTPUT_TOKENS,
    "cacheReadTokens": c.USAGE_CACHE_READ_INPUT_TOKENS,
    "cacheCreationTokens": c.USAGE_CACHE_CREATION_INPUT_TOKENS,
    "reasoningTokens": c.USAGE_REASONING_OUTPUT_TOKENS,
}
#: Providers whose ``promptTokens`` leave the cache counts out (WhyOps keeps the provider's
#: own count); GenAI's ``input_tokens`` includes them.
_INPUT_EXCLUDES_CACHE = frozenset({"anthropic"})
#: Event metadata keys every span's reading already accounts for.
_READ_META = frozenset(
    {"model", "provider", "tool", "latencyMs", "durationNs", "status", "usage", "attributes"}
)


def span_attributes(
    read: JSON, group: list[Mapping[str, Any]], ids: tuple[str, str], otel_ids: tuple[str, str]
) -> JSON:
    """``ids``: the span's WhyOps (trace, span) ids; ``otel_ids``: what OTLP calls them."""
    first = group[0]
    attrs: JSON = {
        c.WHYOPS_SPAN_KIND: read["kind"],
        c.WHYOPS_AGENT_NAME: read["agentName"],
        c.CONVERSATION_ID: first.get("threadId"),
        c.USER_ID: first.get("externalUserId"),
    }
    if otel_ids[0] != ids[0]:
        attrs[c.WHYOPS_TRACE_ID] = ids[0]
    if ids[1] and otel_ids[1] != ids[1]:
        attrs[c.WHYOPS_SPAN_ID] = ids[1]
    if read["kind"] in ("llm", "embedding"):
        attrs.update(_model_call(read, group))
    else:
        attrs.update(_step(read, group))
    if read["error"]:
        attrs[c.ERROR_TYPE] = read["error"].get("type") or "Error"
    leftover = _leftover_metadata(group)
    if leftover:
        attrs[c.WHYOPS_METADATA] = _text(leftover)
    user = read["attributes"]
    if user and isinstance(user, dict):  # the span's own attributes, under their own names
        attrs.update({k: v for k, v in user.items() if k not in attrs})
    return attrs


def _step(read: JSON, group: list[Mapping[str, Any]]) -> JSON:
    kind, inputs, output = read["kind"], read["inputs"], read["output"]
    if kind == "tool":
        return {
            c.OPERATION_NAME: c.OP_EXECUTE_TOOL,
            c.TOOL_NAME: read["name"],
            c.TOOL_CALL_ID: _call_id(group),
            c.TOOL_CALL_ARGUMENTS: _text(inputs) if inputs not in (None, {}) else None,
            c.TOOL_CALL_RESULT: _text(output) if output is not None else None,
        }
    attrs = {
        c.WHYOPS_INPUTS: _text(inputs) if inputs not in (None, {}) else None,
        c.WHYOPS_OUTPUT: _text(output) if output is not None else None,
    }
    if kind == "agent":
        attrs.update({c.OPERATION_NAME: c.OP_INVOKE_AGENT, c.AGENT_NAME: read["name"]})
    return attrs


def _call_id(group: list[Mapping[str, Any]]) -> str | None:
    """The model's id for the tool call this span ran, when the events carry one."""
    for event in group:
        content = event.get("content")
        calls = content.get("toolCalls") if isinstance(content, dict) else None
        if isinstance(calls, list) and len(calls) == 1 and isinstance(calls[0], dict):
            call_id = calls[0].get("id")
            if isinstance(call_id, str) and call_id:
                return call_id
    return None


def _model_call(read: JSON, group: list[Mapping[str, Any]]) -> JSON:
    provider = read["provider"] if read["provider"] not in (None, "unknown") else None
    model = read["model"] if read["model"] not in (None, "unknown") else None
    opening_meta = group[0].get("metadata")
    requested = opening_meta.get("model") if isinstance(opening_meta, dict) else None
    attrs: JSON = {
        c.OPERATION_NAME: c.OP_CHAT if read["kind"] == "llm" else c.OP_EMBEDDINGS,
        c.PROVIDER_NAME: provider,
        c.REQUEST_MODEL: requested if isinstance(requested, str) else model,
        c.RESPONSE_MODEL: model if read["endUs"] is not None else None,
    }
    attrs.update(_usage(read["usage"], provider))
    if read["kind"] == "embedding":
        inputs = read["inputs"]
        attrs[c.INPUT_VALUE] = _text(inputs) if inputs is not None else None
        return attrs
    output = read["output"] if isinstance(read["output"], dict) else None
    reason = output.get("finishReason") if output else None
    if isinstance(reason, str) and reason:
        attrs[c.RESPONSE_FINISH_REASONS] = [reason]
    if isinstance(read["inputs"], list) and read["inputs"]:
        attrs[c.INPUT_MESSAGES] = _text([genai_message(m) for m in read["inputs"]])
    if output is not None or read["thinking"]:
        attrs[c.OUTPUT_MESSAGES] = _text([genai_answer(output or {}, read["thinking"])])
    return attrs


def _usage(usage: Any, provider: str | None) -> JSON:
    if not isinstance(usage, dict):
        return {}
    counts = {key: value for key, value in usage.items() if isinstance(value, int)}
    attrs = {name: counts.get(key) for key, name in _USAGE.items()}
    prompt = counts.get("promptTokens")
    if prompt is not None and provider in _INPUT_EXCLUDES_CACHE:
        prompt += counts.get("cacheReadTokens", 0) + counts.get("cacheCreationTokens", 0)
    attrs[c.USAGE_INPUT_TOKENS] = prompt
    return attrs


def _leftover_metadata(group: list[Mapping[str, Any]]) -> JSON:
    """Event metadata that no attribute above carries (a proxy's request parameters …)."""
    leftover: JSON = {}
    for event in group:
        meta = event.get("metadata")
        if isinstance(meta, dict) and not meta.keys() <= _READ_META:
            leftover.update({k: v for k, v in meta.items() if k not in _READ_META})
    return leftover


def _text(value: Any) -> str:
    """A value as the JSON text an attribute carries (strings as they are)."""
    return value if isinstance(value, str) else json_text(value)
