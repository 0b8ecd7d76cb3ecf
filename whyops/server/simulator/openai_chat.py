"""OpenAI `POST /v1/chat/completions`: request parsing and response payloads (pure)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import attrs

from . import brain, catalog, errors, ids, phrases, sse, tokens, validation
from .conversation import (
    FORCE_ANY,
    FORCE_AUTO,
    FORCE_NONE,
    Conversation,
    Reply,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
    Turn,
    as_dict,
    as_list,
)

# The provider whose error bodies this module answers with.
PROVIDER = errors.OPENAI
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
FINGERPRINT = "fp_whyops_sim"
ARGUMENT_PIECE = 16


@attrs.frozen
class Answer:
    """Everything needed to write the answer in either streaming or whole form."""

    seed: str
    model: str
    reply: Reply
    finish_reason: str
    usage: dict[str, Any]


def handle(body: dict[str, Any]) -> dict[str, Any] | Iterator[bytes]:
    """The whole completion, or (for `stream: true`) the SSE frames to send."""
    model = validation.require_str(PROVIDER, body, "model")
    messages = validation.require_list(PROVIDER, body, "messages")
    stream = validation.optional_bool(PROVIDER, body, "stream")
    conversation = parse_conversation(body, model, messages)
    validation.check_model_and_triggers(PROVIDER, model, conversation, stream)
    answer = build_answer(body, conversation)
    if not stream:
        return completion_payload(answer)
    options = body.get("stream_options") or {}
    include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
    fail = phrases.wants_stream_error(catalog.base_name(model), conversation.last_user_text)
    return completion_frames(answer, include_usage=include_usage, fail_midway=fail)


def parse_conversation(body: dict[str, Any], model: str, messages: list[Any]) -> Conversation:
    system: list[str] = []
    turns: list[Turn] = []
    for index, message in enumerate(messages):
        field = f"messages[{index}]"
        message = validation.require_dict(PROVIDER, message, field)
        role = message.get("role")
        if role not in ROLES:
            raise errors.invalid_field(
                PROVIDER, f"{field}.role", f"expected one of {', '.join(ROLES)}"
            )
        if role in ("system", "developer"):
            system.append(text_with_placeholders(message.get("content")))
        else:
            turns.append(_turn(role, message))
    return Conversation(
        model=model,
        system="\n".join(system),
        turns=tuple(turns),
        tools=parse_tools(body),
        tool_choice=parse_tool_choice(body.get("tool_choice")),
        thinking=catalog.is_reasoning_model(model) or bool(body.get("reasoning_effort")),
        parallel_tool_calls=body.get("parallel_tool_calls") is not False,
        **output_format(as_dict(body.get("response_format"))),
    )


def output_format(spec: dict[str, Any]) -> dict[str, Any]:
    """Conversation fields for a `response_format` (chat) or `text.format` (Responses)."""
    if spec.get("type") == "json_object":
        return {"json_mode": True}
    if spec.get("type") == "json_schema":
        schema = spec.get("schema", as_dict(spec.get("json_schema")).get("schema"))
        return {"output_schema": as_dict(schema)}
    return {}


def text_with_placeholders(content: Any) -> str:
    """What the model reads of a message's content: a string as is; of a list of parts, each
    part's text (`text`, `input_text`, `output_text`, refusal) on its own line, and a
    ``[type]`` placeholder for a part without text (an image, a file); never None."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = []
    for part in content:
        if isinstance(part, dict):
            text = part.get("text", part.get("refusal"))
            texts.append(text if isinstance(text, str) else f"[{part.get('type', 'part')}]")
        elif isinstance(part, str):
            texts.append(part)
    return "\n".join(texts)


def _turn(role: str, message: dict[str, Any]) -> Turn:
    text = text_with_placeholders(message.get("content"))
    if role == "tool":
        result = ToolResult(call_id=str(message.get("tool_call_id", "")), content=text)
        return Turn("tool", results=(result,))
    if role == "function":
        return Turn("tool", results=(ToolResult(f"function:{message.get('name')}", text),))
    calls = [
        _history_call(call) for call in as_list(message.get("tool_calls")) if isinstance(call, dict)
    ]
    legacy = message.get("function_call")
    if isinstance(legacy, dict):
        calls.append(attrs.evolve(_history_call(legacy), id=f"function:{legacy.get('name')}"))
    return Turn(role, text=text, tool_calls=tuple(calls))


def _history_call(call: dict[str, Any]) -> ToolCall:
    function = as_dict(call.get("function")) or call
    return ToolCall(
        name=str(function.get("name", "")),
        arguments=_loads_object(function.get("arguments")),
        id=str(call.get("id", "")),
    )


def _loads_object(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def parse_tools(body: dict[str, Any]) -> tuple[Tool, ...]:
    tools = []
    for entry in validation.optional_list(PROVIDER, body, "tools"):
        if isinstance(entry, dict) and isinstance(entry.get("function"), dict):
            tools.append(_tool(entry["function"]))
    for entry in validation.optional_list(PROVIDER, body, "functions"):
        if isinstance(entry, dict):
            tools.append(_tool(entry))
    return tuple(tools)


def _tool(function: dict[str, Any]) -> Tool:
    schema = function.get("parameters")
    return Tool(
        name=str(function.get("name", "")),
        description=str(function.get("description") or ""),
        schema=schema if isinstance(schema, dict) else {},
    )


def parse_tool_choice(choice: Any) -> ToolChoice:
    if choice in ("none", "auto", None):
        return ToolChoice(FORCE_NONE if choice == "none" else FORCE_AUTO)
    if choice == "required":
        return ToolChoice(FORCE_ANY)
    if isinstance(choice, dict):
        function = as_dict(choice.get("function")) or choice
        if isinstance(function.get("name"), str):
            return ToolChoice(FORCE_ANY, function["name"])
    return ToolChoice()


def build_answer(body: dict[str, Any], conversation: Conversation) -> Answer:
    seed = ids.request_seed("chat.completions", body)
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    raw = brain.decide(conversation)
    reply, truncated = brain.limit_reply(raw, limit if isinstance(limit, int) else None)
    calls = tuple(
        attrs.evolve(call, id=ids.derive_id(seed, "call_", str(index)))
        for index, call in enumerate(reply.tool_calls)
    )
    reply = attrs.evolve(reply, tool_calls=calls)
    finish = "length" if truncated else "tool_calls" if calls else "stop"
    if calls and body.get("functions") and not body.get("tools"):
        finish = "function_call"
    return Answer(seed, str(body["model"]), reply, finish, usage(body, conversation, reply))


def usage(body: dict[str, Any], conversation: Conversation, reply: Reply) -> dict[str, Any]:
    messages = as_list(body.get("messages"))
    prompt = tokens.REQUEST_OVERHEAD + tokens.count_json(body.get("tools") or body.get("functions"))
    prompt += sum(tokens.MESSAGE_OVERHEAD + tokens.count_json(m) for m in messages)
    prefix = tokens.count_text(conversation.system) + tokens.count_json(body.get("tools"))
    has_history = any(turn.role == "assistant" for turn in conversation.turns)
    cached = tokens.openai_cached_prefix(prefix) if has_history else 0
    reasoning = tokens.count_text(reply.thinking)
    completion = reasoning + tokens.count_text(reply.text) + _calls_tokens(reply)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": min(cached, prompt), "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _calls_tokens(reply: Reply) -> int:
    return sum(
        tokens.MESSAGE_OVERHEAD + tokens.count_text(c.name) + tokens.count_json(c.arguments)
        for c in reply.tool_calls
    )


def wire_tool_call(call: ToolCall) -> dict[str, Any]:
    arguments = json.dumps(call.arguments, ensure_ascii=False)
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    }


def completion_payload(answer: Answer) -> dict[str, Any]:
    reply = answer.reply
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
    if reply.tool_calls and answer.finish_reason == "function_call":
        message["function_call"] = wire_tool_call(reply.tool_calls[0])["function"]
    elif reply.tool_calls:
        message["tool_calls"] = [wire_tool_call(call) for call in reply.tool_calls]
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": answer.finish_reason,
    }
    return {**_envelope(answer, "chat.completion"), "choices": [choice], "usage": answer.usage}


def _envelope(answer: Answer, kind: str) -> dict[str, Any]:
    return {
        "id": ids.derive_id(answer.seed, "chatcmpl-"),
        "object": kind,
        "created": ids.derive_created(answer.seed),
        "model": answer.model,
        "system_fingerprint": FINGERPRINT,
        "service_tier": "default",
    }


def completion_frames(
    answer: Answer, *, include_usage: bool, fail_midway: bool = False
) -> Iterator[bytes]:
    """Chunks as OpenAI streams them: role, text pieces, tool-call pieces, finish, usage."""
    envelope = _envelope(answer, "chat.completion.chunk")
    extra = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse.data_frame({**envelope, "choices": [choice], **extra})

    reply = answer.reply
    yield chunk(
        {"role": "assistant", "content": "" if reply.text or not reply.tool_calls else None}
    )
    pieces = tokens.stream_pieces(reply.text)
    if fail_midway:
        yield from (chunk({"content": piece}) for piece in pieces[:1])
        yield sse.data_frame(errors.openai_stream_error())
        return
    yield from (chunk({"content": piece}) for piece in pieces)
    for index, call in enumerate(reply.tool_calls):
        yield from (chunk({"tool_calls": [delta]}) for delta in _call_deltas(index, call))
    yield chunk({}, answer.finish_reason)
    if include_usage:
        yield sse.data_frame({**envelope, "choices": [], "usage": answer.usage})
    yield sse.DONE


def _call_deltas(index: int, call: ToolCall) -> Iterator[dict[str, Any]]:
    head = wire_tool_call(call)
    arguments = head["function"]["arguments"]
    yield {
        "index": index,
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": ""},
    }
    for start in range(0, len(arguments), ARGUMENT_PIECE):
        piece = arguments[start : start + ARGUMENT_PIECE]
        yield {"index": index, "function": {"arguments": piece}}
