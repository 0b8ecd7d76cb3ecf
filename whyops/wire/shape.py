"""Provider answers -> the parts of WhyOps events: ``llm_response`` content, thinking, usage.

One :class:`Shape` per kind of answer (OpenAI chat completion, OpenAI Responses response,
Anthropic message) says where its text, tool calls, thinking and usage live; the SDK reads
the objects its traced calls return through it, the proxy the JSON it forwards (whole
answers, and the answers its stream states rebuild). Answers are parsed JSON or the SDKs'
response objects (read as described in ``whyops.wire._read``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import attrs

from whyops.wire._read import field, is_record, items, text
from whyops.wire.records import ThinkingBlock, TokenUsage
from whyops.wire.usage import anthropic_usage, openai_usage

__all__ = [
    "ANTHROPIC",
    "CHAT",
    "RESPONSES",
    "Answer",
    "Shape",
    "shape_of",
    "thinking_content",
    "tool_call",
]

JSON = dict[str, Any]
Thinking = tuple[ThinkingBlock, ...]


@attrs.frozen(slots=True)
class Answer:
    """What a provider answer says: its ``llm_response`` content, thinking, usage, model."""

    content: JSON
    thinking: Thinking
    usage: TokenUsage | None
    model: str | None
    provider: str


@attrs.frozen(slots=True)
class Shape:
    """Where one kind of provider answer keeps what WhyOps records."""

    provider: str
    #: The ``llm_response`` content: ``content``, ``toolCalls``, ``finishReason``, ``refusal``,
    #: ``annotations``, each left out when the answer has none.
    content: Callable[[Any], JSON]
    thinking: Callable[[Any], Thinking]
    read_usage: Callable[[Any], TokenUsage | None]

    def usage(self, answer: Any) -> TokenUsage | None:
        return self.read_usage(field(answer, "usage"))

    def model(self, answer: Any) -> str | None:
        model = field(answer, "model")
        return model if isinstance(model, str) and model else None

    def answer(self, answer: Any) -> Answer:
        return Answer(
            self.content(answer),
            self.thinking(answer),
            self.usage(answer),
            self.model(answer),
            self.provider,
        )


def tool_call(call_id: Any, name: Any, arguments: Any) -> JSON:
    """A tool call in the one WhyOps shape (OpenAI's): arguments as a JSON string."""
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False, default=str)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def thinking_content(block: ThinkingBlock) -> JSON:
    """The ``llm_thinking`` content of one thinking block."""
    if block.redacted_data is not None:
        return {"type": "redacted_thinking", "data": block.redacted_data}
    content = {"type": "thinking", "thinking": block.text or ""}
    if block.signature:
        content["signature"] = block.signature
    return content


def _present(content: JSON) -> JSON:
    return {key: value for key, value in content.items() if value is not None}


def _given(value: Any, default: Any) -> Any:
    return default if value is None else value


def _signature(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# -- OpenAI chat completions -------------------------------------------------------------


def _first_message(completion: Any) -> tuple[Any, Any]:
    """(choice, message) of the recorded choice, the first."""
    choices = items(completion, "choices")
    choice = choices[0] if choices else None
    return choice, field(choice, "message")


def _chat_tool_call(call: Any) -> JSON:
    # A custom tool's call holds {"name", "input"} under "custom" instead of "function".
    function = field(call, "function")
    if function is None:
        function = field(call, "custom")
    arguments = field(function, "arguments")
    if arguments is None:
        arguments = field(function, "input")
    return tool_call(field(call, "id"), field(function, "name"), _given(arguments, ""))


def _chat_content(completion: Any) -> JSON:
    choice, message = _first_message(completion)
    calls = [_chat_tool_call(c) for c in items(message, "tool_calls") if is_record(c)]
    return _present(
        {
            "content": field(message, "content"),
            "toolCalls": calls or None,
            "finishReason": field(choice, "finish_reason"),
            "refusal": field(message, "refusal"),
            "annotations": field(message, "annotations") or None,
        }
    )


def _chat_thinking(completion: Any) -> Thinking:
    """Visible reasoning of OpenAI-compatible servers (DeepSeek, vLLM, OpenRouter)."""
    _, message = _first_message(completion)
    reasoning = field(message, "reasoning_content") or field(message, "reasoning")
    return (ThinkingBlock(text=reasoning),) if isinstance(reasoning, str) and reasoning else ()


# -- OpenAI Responses ----------------------------------------------------------------------

_RESPONSES_CALLS = ("function_call", "custom_tool_call")


def _responses_content(response: Any) -> JSON:
    texts: list[str] = []
    refusals: list[str] = []
    calls: list[JSON] = []
    for item in items(response, "output"):
        kind = field(item, "type")
        if kind == "message":
            for part in items(item, "content"):
                part_kind = field(part, "type")
                if part_kind == "output_text":
                    texts.append(text(field(part, "text")))
                elif part_kind == "refusal":
                    refusals.append(text(field(part, "refusal")))
        elif kind in _RESPONSES_CALLS:
            arguments = field(item, "arguments")
            if arguments is None:
                arguments = field(item, "input")  # custom tool calls
            call_id = field(item, "call_id") or field(item, "id")
            calls.append(tool_call(call_id, field(item, "name"), _given(arguments, "")))
    return _present(
        {
            "content": "".join(texts) if texts else None,
            "toolCalls": calls or None,
            "finishReason": field(response, "status"),
            "refusal": "".join(refusals) or None,
        }
    )


def _reasoning_block(item: Any) -> ThinkingBlock | None:
    """A reasoning item: its summary (or text) signed by its encrypted blob, else the blob."""
    parts = [*items(item, "summary"), *items(item, "content")]
    pieces = [text(field(part, "text")) for part in parts]
    joined = "\n\n".join(piece for piece in pieces if piece)
    encrypted = _signature(field(item, "encrypted_content"))
    if joined:
        return ThinkingBlock(text=joined, signature=encrypted)
    return ThinkingBlock(redacted_data=encrypted) if encrypted else None


def _responses_thinking(response: Any) -> Thinking:
    blocks = (
        _reasoning_block(item)
        for item in items(response, "output")
        if field(item, "type") == "reasoning"
    )
    return tuple(block for block in blocks if block is not None)


# -- Anthropic messages ------------------------------------------------------------------

_TOOL_USE = ("tool_use", "server_tool_use", "mcp_tool_use")


def _anthropic_content(message: Any) -> JSON:
    texts: list[str] = []
    calls: list[JSON] = []
    for block in items(message, "content"):
        kind = field(block, "type")
        if kind == "text":
            texts.append(text(field(block, "text")))
        elif kind in _TOOL_USE:
            arguments = _given(field(block, "input"), {})
            calls.append(tool_call(field(block, "id"), field(block, "name"), arguments))
    return _present(
        {
            "content": "".join(texts) if texts else None,
            "toolCalls": calls or None,
            "finishReason": field(message, "stop_reason"),
        }
    )


def _anthropic_thinking(message: Any) -> Thinking:
    blocks = []
    for block in items(message, "content"):
        kind = field(block, "type")
        if kind == "thinking":
            signature = _signature(field(block, "signature"))
            blocks.append(ThinkingBlock(text=text(field(block, "thinking")), signature=signature))
        elif kind == "redacted_thinking":
            blocks.append(ThinkingBlock(redacted_data=text(field(block, "data"))))
    return tuple(blocks)


CHAT = Shape("openai", _chat_content, _chat_thinking, openai_usage)
RESPONSES = Shape("openai", _responses_content, _responses_thinking, openai_usage)
ANTHROPIC = Shape("anthropic", _anthropic_content, _anthropic_thinking, anthropic_usage)

# (module, class name, shape): the SDK response classes, subclasses included.
_SDK_CLASSES = (
    ("anthropic.types", "Message", ANTHROPIC),
    ("anthropic.types.beta", "BetaMessage", ANTHROPIC),
    ("openai.types.chat", "ChatCompletion", CHAT),
    ("openai.types.responses", "Response", RESPONSES),
)


def shape_of(obj: Any) -> Shape | None:
    """The shape of a provider answer, or None when ``obj`` is not one.

    An SDK response is recognised by its class, looked up in ``sys.modules`` (an SDK is never
    imported, and other objects are never read: a lazy property, a DataFrame column). A plain
    dict by its ``object``/``type`` markers.
    """
    if type(obj) is dict:
        return _dict_shape(obj)
    mro = type(obj).__mro__  # no isinstance: it may run the object's own __class__
    for module_name, class_name, shape in _SDK_CLASSES:
        module = sys.modules.get(module_name)
        if module is not None and getattr(module, class_name, None) in mro:
            return shape
    return None


def _dict_shape(answer: JSON) -> Shape | None:
    marker = answer.get("object")
    if type(marker) is str:  # a user object's __eq__ must not run
        if marker == "chat.completion":
            return CHAT
        if marker == "response":
            return RESPONSES
    kind = answer.get("type")
    if type(kind) is str and kind == "message" and answer.get("content") is not None:
        return ANTHROPIC
    return None
