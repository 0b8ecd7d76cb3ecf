"""WhyOps messages (OpenAI or Anthropic shapes, as the SDK and the proxy record them) → the
GenAI conventions' structured messages: ``{"role", "parts": [...]}`` with parts of type
``text``, ``tool_call``, ``tool_call_response`` and ``reasoning``. Pure."""

from __future__ import annotations

from typing import Any

from whyops.otlp import conventions as c
from whyops.wire.text import json_text

__all__ = ["genai_answer", "genai_message"]

JSON = dict[str, Any]


def genai_message(message: Any) -> JSON:
    if not isinstance(message, dict):
        return {"role": "user", "parts": [_text_part(message)]}
    role = message.get("role")
    role = role if isinstance(role, str) else "user"
    content = message.get("content")
    if role == "tool":
        response = {"type": c.PART_TOOL_CALL_RESPONSE, "id": message.get("tool_call_id")}
        return {"role": role, "parts": [{**response, "response": content}]}
    if type(content) is str:  # most messages: one text part, no call
        parts: list[Any] = [{"type": c.PART_TEXT, "content": content}]
    else:
        parts = _content_parts(content)
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        parts += [_call_part(call) for call in calls]
    return {"role": role, "parts": parts}


def genai_answer(output: JSON, thinking: list[JSON]) -> JSON:
    parts: list[Any] = [
        {"type": c.PART_REASONING, "content": block["text"]} for block in thinking if block["text"]
    ]
    parts += _content_parts(output.get("content"))
    calls = output.get("toolCalls")
    if isinstance(calls, list):
        parts += [_call_part(call) for call in calls]
    answer: JSON = {"role": "assistant", "parts": parts}
    if isinstance(output.get("finishReason"), str):
        answer["finish_reason"] = output["finishReason"]
    return answer


def _content_parts(content: Any) -> list[Any]:
    if content is None:
        return []
    if not isinstance(content, list):
        return [_text_part(content)]
    parts: list[Any] = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and isinstance(block.get("text"), str):
            parts.append({"type": c.PART_TEXT, "content": block["text"]})
        elif kind == "tool_use":  # Anthropic
            call = {"type": c.PART_TOOL_CALL, "id": block.get("id"), "name": block.get("name")}
            parts.append({**call, "arguments": block.get("input")})
        elif kind == "tool_result":  # Anthropic
            response = {"type": c.PART_TOOL_CALL_RESPONSE, "id": block.get("tool_use_id")}
            parts.append({**response, "response": block.get("content")})
        else:
            parts.append(block if isinstance(block, dict) else _text_part(block))
    return parts


def _text_part(value: Any) -> JSON:
    return {"type": c.PART_TEXT, "content": value if isinstance(value, str) else json_text(value)}


def _call_part(call: Any) -> JSON:
    """An OpenAI-shaped tool call (``{"id", "function": {"name", "arguments"}}``) as a part."""
    call = call if isinstance(call, dict) else {}
    function = call.get("function") if isinstance(call.get("function"), dict) else call
    return {
        "type": c.PART_TOOL_CALL,
        "id": call.get("id"),
        "name": function.get("name"),
        "arguments": function.get("arguments"),
    }
