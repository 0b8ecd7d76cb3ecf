"""OpenAI `POST /v1/responses`: request parsing and response payloads (pure)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import attrs

from . import brain, catalog, errors, ids, phrases, tokens, validation
from .conversation import Conversation, Reply, Tool, ToolCall, ToolResult, Turn, as_dict, as_list
from .openai_chat import output_format, parse_tool_choice, text_with_placeholders
from .responses_stream import response_frames

# The provider whose error bodies this module answers with.
PROVIDER = errors.OPENAI
MESSAGE_ROLES = ("user", "assistant", "system", "developer")


@attrs.frozen
class Answer:
    seed: str
    body: dict[str, Any]
    reply: Reply
    incomplete: bool
    usage: dict[str, Any]


def handle(body: dict[str, Any]) -> dict[str, Any] | Iterator[bytes]:
    """The whole response, or (for `stream: true`) the SSE events to send."""
    model = validation.require_str(PROVIDER, body, "model")
    stream = validation.optional_bool(PROVIDER, body, "stream")
    if body.get("input") is None and not body.get("previous_response_id"):
        raise errors.missing_field(PROVIDER, "input")
    conversation = parse_conversation(body, model)
    validation.check_model_and_triggers(PROVIDER, model, conversation, stream)
    answer = build_answer(body, conversation)
    if not stream:
        return response_payload(answer)
    fail = phrases.wants_stream_error(catalog.base_name(model), conversation.last_user_text)
    return response_frames(response_payload(answer), fail_midway=fail)


def parse_conversation(body: dict[str, Any], model: str) -> Conversation:
    raw = body.get("input")
    items = [{"role": "user", "content": raw}] if isinstance(raw, str) else raw or []
    if not isinstance(items, list):
        raise errors.invalid_field(
            PROVIDER, "input", "expected a string or an array of input items"
        )
    system = [body["instructions"]] if isinstance(body.get("instructions"), str) else []
    turns: list[Turn] = []
    for index, item in enumerate(items):
        item = validation.require_dict(PROVIDER, item, f"input[{index}]")
        kind = item.get("type", "message")
        if kind == "message" and item.get("role") in ("system", "developer"):
            system.append(text_with_placeholders(item.get("content")))
        elif kind == "message":
            turns.append(_message_turn(item, index))
        elif kind in ("function_call", "function_call_output"):
            turns.append(_call_turn(item))
    reasoning = body.get("reasoning")
    return Conversation(
        model=model,
        system="\n".join(system),
        turns=tuple(turns),
        tools=parse_tools(body),
        tool_choice=parse_tool_choice(body.get("tool_choice")),
        thinking=catalog.is_reasoning_model(model) or isinstance(reasoning, dict),
        parallel_tool_calls=body.get("parallel_tool_calls") is not False,
        **output_format(as_dict(as_dict(body.get("text")).get("format"))),
    )


def _message_turn(item: dict[str, Any], index: int) -> Turn:
    role = item.get("role")
    if role not in MESSAGE_ROLES:
        roles = ", ".join(MESSAGE_ROLES)
        raise errors.invalid_field(PROVIDER, f"input[{index}].role", f"expected one of {roles}")
    return Turn(str(role), text=text_with_placeholders(item.get("content")))


def _call_turn(item: dict[str, Any]) -> Turn:
    call_id = str(item.get("call_id") or item.get("id") or "")
    if item["type"] == "function_call_output":
        output = item.get("output")
        text = output if isinstance(output, str) else text_with_placeholders(output)
        return Turn("tool", results=(ToolResult(call_id, text),))
    try:
        arguments = json.loads(item.get("arguments") or "{}")
    except (TypeError, ValueError):
        arguments = {}
    call = ToolCall(
        str(item.get("name", "")), arguments if isinstance(arguments, dict) else {}, call_id
    )
    return Turn("assistant", tool_calls=(call,))


def parse_tools(body: dict[str, Any]) -> tuple[Tool, ...]:
    return tuple(
        Tool(
            name=str(tool.get("name", "")),
            description=str(tool.get("description") or ""),
            schema=tool["parameters"] if isinstance(tool.get("parameters"), dict) else {},
        )
        for tool in validation.optional_list(PROVIDER, body, "tools")
        if isinstance(tool, dict) and tool.get("type") == "function"
    )


def build_answer(body: dict[str, Any], conversation: Conversation) -> Answer:
    seed = ids.request_seed("responses", body)
    limit = body.get("max_output_tokens")
    reply, incomplete = brain.limit_reply(
        brain.decide(conversation), limit if isinstance(limit, int) else None
    )
    calls = tuple(
        attrs.evolve(call, id=ids.derive_id(seed, "call_", str(index)))
        for index, call in enumerate(reply.tool_calls)
    )
    reply = attrs.evolve(reply, tool_calls=calls)
    return Answer(seed, body, reply, incomplete, usage(body, conversation, reply))


def usage(body: dict[str, Any], conversation: Conversation, reply: Reply) -> dict[str, Any]:
    prefix = tokens.count_text(conversation.system) + tokens.count_json(body.get("tools"))
    prompt = tokens.REQUEST_OVERHEAD + prefix + tokens.count_json(body.get("input"))
    cacheable = tokens.openai_cached_prefix(prefix)
    has_history = any(turn.role == "assistant" for turn in conversation.turns)
    reasoning = tokens.count_text(reply.thinking)
    output = reasoning + tokens.count_text(reply.text)
    output += sum(
        tokens.count_text(c.name) + tokens.count_json(c.arguments) for c in reply.tool_calls
    )
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": cacheable if has_history else 0,
            "cache_write_tokens": 0 if has_history else cacheable,
        },
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + output,
    }


def output_items(answer: Answer) -> list[dict[str, Any]]:
    reply, seed, items = answer.reply, answer.seed, list[dict[str, Any]]()
    status = "incomplete" if answer.incomplete else "completed"
    if reply.thinking:
        summary = [{"type": "summary_text", "text": reply.thinking}]
        items.append(
            {
                "type": "reasoning",
                "id": ids.derive_id(seed, "rs_"),
                "summary": summary,
                "encrypted_content": None,
                "status": "completed",
            }
        )
    if reply.text or not reply.tool_calls:
        part = {"type": "output_text", "text": reply.text, "annotations": [], "logprobs": []}
        items.append(
            {
                "type": "message",
                "id": ids.derive_id(seed, "msg_"),
                "role": "assistant",
                "status": status,
                "content": [part],
            }
        )
    for index, call in enumerate(reply.tool_calls):
        items.append(
            {
                "type": "function_call",
                "id": ids.derive_id(seed, "fc_", str(index)),
                "call_id": call.id,
                "name": call.name,
                "arguments": json.dumps(call.arguments, ensure_ascii=False),
                "status": "completed",
            }
        )
    return items


def response_payload(answer: Answer) -> dict[str, Any]:
    body = answer.body
    reasoning = as_dict(body.get("reasoning"))
    return {
        "id": ids.derive_id(answer.seed, "resp_"),
        "object": "response",
        "created_at": ids.derive_created(answer.seed),
        "status": "incomplete" if answer.incomplete else "completed",
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if answer.incomplete else None,
        "instructions": body.get("instructions")
        if isinstance(body.get("instructions"), str)
        else None,
        "max_output_tokens": body.get("max_output_tokens"),
        "model": str(body["model"]),
        "output": output_items(answer),
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": body.get("store") is not False,
        "temperature": body.get("temperature", 1.0),
        "text": {"format": as_dict(as_dict(body.get("text")).get("format")) or {"type": "text"}},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": [
            _echo_tool(tool) for tool in as_list(body.get("tools")) if isinstance(tool, dict)
        ],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation") or "disabled",
        "usage": answer.usage,
        "metadata": body.get("metadata") or {},
    }


def _echo_tool(tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type") != "function":
        return tool
    return {
        "type": "function",
        "name": tool.get("name"),
        "description": tool.get("description"),
        "parameters": tool.get("parameters"),
        "strict": tool.get("strict", True),
    }
