"""Anthropic `POST /v1/messages`: request parsing and response payloads (pure)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import attrs

from . import brain, catalog, errors, ids, message_threads, phrases, sse, tokens, validation
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
PROVIDER = errors.ANTHROPIC
MIN_THINKING_BUDGET = 1024
REDACTED_TOKENS = 16
ARGUMENT_PIECE = 16


@attrs.frozen
class Answer:
    seed: str
    model: str
    reply: Reply
    stop_reason: str
    stop_sequence: str | None
    usage: dict[str, Any]


def handle(body: dict[str, Any]) -> dict[str, Any] | Iterator[bytes]:
    """The whole message, or (for `stream: true`) the SSE frames to send."""
    # Checked before a thread's history joins it.
    validation.require_list(PROVIDER, body, "messages")
    body, threaded = message_threads.resolve(body)
    model = validation.require_str(PROVIDER, body, "model")
    messages = validation.require_list(PROVIDER, body, "messages")
    max_tokens = validation.optional_int(PROVIDER, body, "max_tokens")
    if max_tokens is None:
        raise errors.missing_field(PROVIDER, "max_tokens")
    stream = validation.optional_bool(PROVIDER, body, "stream")
    conversation = parse_conversation(body, model, messages, max_tokens)
    validation.check_model_and_triggers(PROVIDER, model, conversation, stream)
    answer = build_answer(body, conversation, max_tokens)
    if threaded:
        message_threads.hold(body, message_id(answer), content_blocks(answer))
    if not stream:
        return message_payload(answer)
    fail = phrases.wants_stream_error(catalog.base_name(model), conversation.last_user_text)
    return message_frames(answer, fail_midway=fail)


def count_tokens(body: dict[str, Any]) -> dict[str, Any]:
    """`POST /v1/messages/count_tokens`: the input tokens `messages.create` would report."""
    model = validation.require_str(PROVIDER, body, "model")
    validation.require_list(PROVIDER, body, "messages")
    catalog.check_model(PROVIDER, model)
    total, _, _, _ = cache_counts(body)
    return {"input_tokens": total}


def parse_conversation(
    body: dict[str, Any], model: str, messages: list[Any], max_tokens: int
) -> Conversation:
    turns: list[Turn] = []
    for index, message in enumerate(messages):
        field = f"messages.{index}"
        message = validation.require_dict(PROVIDER, message, field)
        if message.get("role") not in ("user", "assistant"):
            raise errors.invalid_field(PROVIDER, f"{field}.role", "expected 'user' or 'assistant'")
        if not isinstance(message.get("content"), (str, list)):
            raise errors.invalid_field(
                PROVIDER, f"{field}.content", "expected a string or a list of blocks"
            )
        turns.extend(_turns(message))
    choice = as_dict(body.get("tool_choice"))
    return Conversation(
        model=model,
        system=_blocks_text(body.get("system")),
        turns=tuple(turns),
        tools=parse_tools(body),
        tool_choice=parse_tool_choice(choice),
        thinking=thinking_enabled(body, max_tokens),
        parallel_tool_calls=not choice.get("disable_parallel_tool_use", False),
        output_schema=output_schema(body),
    )


def output_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of structured output: `output_config.format` (or the beta's
    `output_format`) of type `json_schema`."""
    spec = as_dict(as_dict(body.get("output_config")).get("format")) or as_dict(
        body.get("output_format")
    )
    return as_dict(spec.get("schema")) if spec.get("type") == "json_schema" else None


def thinking_enabled(body: dict[str, Any], max_tokens: int) -> bool:
    thinking = body.get("thinking")
    if thinking is None:
        return False
    thinking = validation.require_dict(PROVIDER, thinking, "thinking")
    kind = thinking.get("type")
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < MIN_THINKING_BUDGET:
            raise errors.invalid_field(
                PROVIDER,
                "thinking.enabled.budget_tokens",
                f"must be an integer >= {MIN_THINKING_BUDGET}",
            )
        if budget >= max_tokens:
            raise errors.invalid_field(
                PROVIDER, "max_tokens", "must be greater than thinking.budget_tokens"
            )
        return True
    if kind not in ("disabled", "adaptive"):
        raise errors.invalid_field(
            PROVIDER, "thinking.type", "expected 'enabled', 'adaptive' or 'disabled'"
        )
    return kind == "adaptive"


def _blocks_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = [block.get("text", "") for block in content if isinstance(block, dict)]
    return "\n".join(text for text in texts if isinstance(text, str))


def _turns(message: dict[str, Any]) -> list[Turn]:
    content = message.get("content")
    if message["role"] == "assistant":
        blocks = content if isinstance(content, list) else []
        calls = tuple(
            ToolCall(str(b.get("name", "")), as_dict(b.get("input")), str(b.get("id", "")))
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "tool_use"
        )
        text = content if isinstance(content, str) else _text_of(blocks)
        return [Turn("assistant", text=text, tool_calls=calls)]
    blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
    results = tuple(
        ToolResult(
            str(b.get("tool_use_id", "")), _blocks_text(b.get("content")), bool(b.get("is_error"))
        )
        for b in blocks
        if isinstance(b, dict) and b.get("type") == "tool_result"
    )
    text = _text_of(blocks)
    turns = [Turn("tool", results=results)] if results else []
    return turns + ([Turn("user", text=text)] if text or not results else [])


def _text_of(blocks: list[Any]) -> str:
    return "\n".join(
        b["text"]
        for b in blocks
        if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    )


def parse_tools(body: dict[str, Any]) -> tuple[Tool, ...]:
    return tuple(
        Tool(
            name=str(tool.get("name", "")),
            description=str(tool.get("description") or ""),
            schema=as_dict(tool.get("input_schema")),
        )
        for tool in validation.optional_list(PROVIDER, body, "tools")
        if isinstance(tool, dict) and tool.get("type") in (None, "custom")
    )


def parse_tool_choice(choice: dict[str, Any]) -> ToolChoice:
    kind = str(choice.get("type")) if isinstance(choice.get("type"), str) else "auto"
    if kind == "tool" and isinstance(choice.get("name"), str):
        return ToolChoice(FORCE_ANY, choice["name"])
    return ToolChoice({"none": FORCE_NONE, "any": FORCE_ANY}.get(kind, FORCE_AUTO))


def build_answer(body: dict[str, Any], conversation: Conversation, max_tokens: int) -> Answer:
    seed = ids.request_seed("messages", body)
    reply, truncated = brain.limit_reply(brain.decide(conversation), max_tokens)
    reply, stop_sequence = _apply_stop_sequences(reply, body.get("stop_sequences"))
    calls = tuple(
        attrs.evolve(call, id=ids.derive_id(seed, "toolu_", str(index)))
        for index, call in enumerate(reply.tool_calls)
    )
    reply = attrs.evolve(reply, tool_calls=calls)
    stop = "max_tokens" if truncated else "stop_sequence" if stop_sequence else None
    stop = stop or ("tool_use" if calls else "end_turn")
    return Answer(seed, str(body["model"]), reply, stop, stop_sequence, usage(body, reply))


def _apply_stop_sequences(reply: Reply, sequences: Any) -> tuple[Reply, str | None]:
    if not isinstance(sequences, list) or reply.tool_calls:
        return reply, None
    found = [(reply.text.find(s), s) for s in sequences if isinstance(s, str) and s in reply.text]
    if not found:
        return reply, None
    position, sequence = min(found)
    return attrs.evolve(reply, text=reply.text[:position]), sequence


def usage(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    total, read, created, ttl = cache_counts(body)
    output = tokens.count_text(reply.thinking) + tokens.count_text(reply.text)
    output += sum(
        tokens.count_text(c.name) + tokens.count_json(c.arguments) for c in reply.tool_calls
    )
    output += REDACTED_TOKENS if reply.redacted_thinking else 0
    return {
        "input_tokens": total - read - created,
        "output_tokens": max(output, 1),
        "cache_creation_input_tokens": created,
        "cache_read_input_tokens": read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": 0 if ttl == "1h" else created,
            "ephemeral_1h_input_tokens": created if ttl == "1h" else 0,
        },
        "service_tier": "standard",
    }


def cache_counts(body: dict[str, Any]) -> tuple[int, int, int, str]:
    """(total input, cache read, cache created, ttl) from the `cache_control` breakpoints."""
    total, breakpoints = tokens.REQUEST_OVERHEAD, []
    for size, marker in _segments(body):
        total += size
        if isinstance(marker, dict):
            breakpoints.append((total, str(marker.get("ttl", "5m"))))
    if not breakpoints:
        return total, 0, 0, "5m"
    messages = as_list(body.get("messages"))
    has_history = any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages)
    first, last = breakpoints[0][0], breakpoints[-1][0]
    read = first if has_history else 0
    return total, read, last - read, breakpoints[-1][1]


def _segments(body: dict[str, Any]) -> Iterator[tuple[int, Any]]:
    """Token sizes in cache order (tools, system, messages) with their cache markers."""
    for tool in as_list(body.get("tools")):
        if isinstance(tool, dict):
            yield tokens.count_json(_unmarked(tool)), tool.get("cache_control")
    system = body.get("system")
    for block in system if isinstance(system, list) else [system] if system else []:
        if isinstance(block, dict):
            yield tokens.count_text(str(block.get("text", ""))), block.get("cache_control")
        else:
            yield tokens.count_text(str(block)), None
    for message in as_list(body.get("messages")):
        content = message.get("content") if isinstance(message, dict) else None
        yield tokens.MESSAGE_OVERHEAD, None
        for block in content if isinstance(content, list) else [content]:
            if isinstance(block, dict):
                yield tokens.count_json(_unmarked(block)), block.get("cache_control")
            else:
                yield tokens.count_text(str(block or "")), None


def _unmarked(block: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in block.items() if key != "cache_control"}


def content_blocks(answer: Answer) -> list[dict[str, Any]]:
    reply, blocks = answer.reply, list[dict[str, Any]]()
    if reply.thinking:
        signature = ids.derive_signature(answer.seed, reply.thinking)
        blocks.append({"type": "thinking", "thinking": reply.thinking, "signature": signature})
    if reply.redacted_thinking:
        blocks.append(
            {"type": "redacted_thinking", "data": ids.derive_signature(answer.seed, "redacted")}
        )
    if reply.text or not reply.tool_calls:
        blocks.append({"type": "text", "text": reply.text})
    for call in reply.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
        )
    return blocks


def message_id(answer: Answer) -> str:
    return ids.derive_id(answer.seed, "msg_")


def message_payload(answer: Answer, *, streaming: bool = False) -> dict[str, Any]:
    return {
        "id": message_id(answer),
        "type": "message",
        "role": "assistant",
        "model": answer.model,
        "content": [] if streaming else content_blocks(answer),
        "stop_reason": None if streaming else answer.stop_reason,
        "stop_sequence": None if streaming else answer.stop_sequence,
        "usage": {**answer.usage, "output_tokens": 1} if streaming else answer.usage,
    }


def message_frames(answer: Answer, *, fail_midway: bool = False) -> Iterator[bytes]:
    """message_start, each block's start/deltas/stop (a ping after the first), then the end."""
    yield sse.event_frame(
        {"type": "message_start", "message": message_payload(answer, streaming=True)}
    )
    for index, block in enumerate(content_blocks(answer)):
        start = {**block, **_EMPTY_START.get(block["type"], {})}
        yield sse.event_frame(
            {"type": "content_block_start", "index": index, "content_block": start}
        )
        if index == 0:
            yield sse.event_frame({"type": "ping"})
        for count, delta in enumerate(_block_deltas(block)):
            yield sse.event_frame({"type": "content_block_delta", "index": index, "delta": delta})
            if fail_midway and count == 0:
                yield sse.event_frame(errors.anthropic_stream_error())
                return
        yield sse.event_frame({"type": "content_block_stop", "index": index})
    usage = {key: answer.usage[key] for key in _DELTA_USAGE_KEYS}
    delta = {"stop_reason": answer.stop_reason, "stop_sequence": answer.stop_sequence}
    yield sse.event_frame({"type": "message_delta", "delta": delta, "usage": usage})
    yield sse.event_frame({"type": "message_stop"})


_EMPTY_START: dict[str, dict[str, Any]] = {
    "thinking": {"thinking": "", "signature": ""},
    "text": {"text": ""},
    "tool_use": {"input": {}},
}
_DELTA_USAGE_KEYS = (
    "output_tokens",
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


def _block_deltas(block: dict[str, Any]) -> Iterator[dict[str, Any]]:
    kind = block["type"]
    if kind == "thinking":
        for piece in tokens.stream_pieces(block["thinking"]):
            yield {"type": "thinking_delta", "thinking": piece}
        yield {"type": "signature_delta", "signature": block["signature"]}
    elif kind == "text":
        for piece in tokens.stream_pieces(block["text"]):
            yield {"type": "text_delta", "text": piece}
    elif kind == "tool_use":
        arguments = json.dumps(block["input"], ensure_ascii=False)
        for start in range(0, len(arguments), ARGUMENT_PIECE):
            yield {
                "type": "input_json_delta",
                "partial_json": arguments[start : start + ARGUMENT_PIECE],
            }
