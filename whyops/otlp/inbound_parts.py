"""GenAI message parts (``gen_ai.input.messages`` / ``gen_ai.output.messages`` /
``gen_ai.system_instructions``: role + typed parts) → the chat messages and the
``llm_response`` content WhyOps records; and what a model call's conversation holds."""

from __future__ import annotations

from typing import Any

import attrs

from whyops.otlp import conventions as c
from whyops.otlp.inbound_values import json_value, text_of
from whyops.wire.records import ThinkingBlock
from whyops.wire.shape import tool_call

JSON = dict[str, Any]


@attrs.frozen
class Answer:
    """What the model answered: ``llm_response`` content and its thinking blocks."""

    content: JSON
    thinking: tuple[ThinkingBlock, ...] = ()


@attrs.frozen
class Conversation:
    """A model call's system prompt, input messages and answer (None where not recorded)."""

    system: str | None
    messages: list[JSON] | None
    answer: Answer | None


# -- GenAI parts -------------------------------------------------------------------------


def _part_text(part: JSON) -> str | None:
    value = part.get("content", part.get("text"))
    return value if isinstance(value, str) else None


def _parts_message(role: Any, parts: list[Any]) -> list[JSON]:
    """One GenAI message as chat messages: text parts joined; tool call parts as
    ``tool_calls``; each tool call response part a ``tool`` message of its own."""
    texts: list[str] = []
    others: list[Any] = []
    calls: list[JSON] = []
    results: list[JSON] = []
    for part in parts:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == c.PART_TEXT and _part_text(part) is not None:
            texts.append(_part_text(part) or "")
        elif kind == c.PART_TOOL_CALL:
            calls.append(tool_call(part.get("id"), part.get("name"), part.get("arguments")))
        elif kind == c.PART_TOOL_CALL_RESPONSE:
            response = part.get("response", part.get("result"))
            results.append({"role": "tool", "tool_call_id": part.get("id"), "content": response})
        elif kind != c.PART_REASONING:
            others.append(part)
    if results and not (texts or others or calls):
        return results  # a tool message per answered call
    content: Any = "\n".join(texts) if texts else None
    if others:
        content = [{"type": "text", "text": t} for t in texts] + others
    message: JSON = {"role": role if isinstance(role, str) else "user", "content": content}
    if calls:
        message["tool_calls"] = calls
    return [message, *results]


def genai_messages(value: Any) -> list[JSON] | None:
    messages = json_value(value)
    if not isinstance(messages, list) or not messages:
        return None
    chat: list[JSON] = []
    for message in messages:
        if isinstance(message, dict):
            parts = message.get("parts")
            chat += _parts_message(message.get("role"), parts if isinstance(parts, list) else [])
    return chat or None


def _thinking(parts: list[Any]) -> tuple[ThinkingBlock, ...]:
    return tuple(
        ThinkingBlock(text=_part_text(part))
        for part in parts
        if isinstance(part, dict) and part.get("type") == c.PART_REASONING and _part_text(part)
    )


def chat_answer(message: JSON, thinking: tuple[ThinkingBlock, ...] = ()) -> Answer:
    """``llm_response`` content of one chat message (``content``, ``tool_calls``)."""
    content: JSON = {}
    if message.get("content") is not None:
        content["content"] = message["content"]
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls:
        content["toolCalls"] = calls
    return Answer(content, thinking)


def genai_answer(value: Any) -> Answer | None:
    messages = json_value(value)
    if not isinstance(messages, list) or not messages or not isinstance(messages[0], dict):
        return None
    choice = messages[0]  # the first choice, as the SDK and the proxy record
    parts = choice.get("parts")
    parts = parts if isinstance(parts, list) else []
    chat = _parts_message(choice.get("role") or "assistant", parts)
    answer = chat_answer(chat[0] if chat else {}, _thinking(parts))
    reason = choice.get("finish_reason")
    if isinstance(reason, str):
        answer.content["finishReason"] = reason
    return answer


def system_text(value: Any) -> str | None:
    """``gen_ai.system_instructions`` (parts, their JSON text, or plain text) as text."""
    parsed = json_value(value)
    if isinstance(parsed, str):
        return parsed or None
    parts = parsed if isinstance(parsed, list) else [parsed]
    texts = [_part_text(p) for p in parts if isinstance(p, dict)]
    joined = "\n".join(t for t in texts if t)
    return joined or (text_of(parsed) if parsed else None)
