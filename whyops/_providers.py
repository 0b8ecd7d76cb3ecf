"""Usage, thinking, model and provider from objects that provider SDKs return.

A response is recognised by its class (``anthropic.types.Message``, OpenAI's
``ChatCompletion`` and ``Response``), looked up in ``sys.modules``: never imported, and
never by reading attributes of arbitrary objects (a lazy property, a DataFrame column).
Plain dicts are recognised by their ``object``/``type`` keys. Spans only ask this of what
LLM and embedding spans return (see ``Span.set_result``). Every function returns
None/empty for anything else.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import attrs

from whyops.models import ThinkingBlock, TokenUsage

__all__ = ["ProviderFacts", "add_usage", "extract", "response_summary", "usage_from"]


@attrs.frozen(slots=True)
class ProviderFacts:
    """What a returned provider object says about the call that produced it."""

    usage: TokenUsage | None = None
    thinking: tuple[ThinkingBlock, ...] = ()
    model: str | None = None
    provider: str | None = None


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# (module, class name, kind): the SDK classes of the responses this module reads.
_RESPONSE_CLASSES = (
    ("anthropic.types", "Message", "anthropic"),
    ("anthropic.types.beta", "BetaMessage", "anthropic"),
    ("openai.types.chat", "ChatCompletion", "openai_chat"),
    ("openai.types.responses", "Response", "openai_responses"),
)


def _kind(obj: Any) -> str | None:
    """``anthropic``, ``openai_chat``, ``openai_responses`` or None."""
    if type(obj) is dict:
        return _dict_kind(obj)
    mro = type(obj).__mro__  # no isinstance: it may run the object's own __class__
    for module_name, class_name, kind in _RESPONSE_CLASSES:
        module = sys.modules.get(module_name)
        if module is not None and getattr(module, class_name, None) in mro:
            return kind
    return None


def _dict_kind(obj: dict[str, Any]) -> str | None:
    marker = obj.get("object")
    if type(marker) is not str:
        marker = None  # a user object's __eq__ must not run
    if marker == "chat.completion":
        return "openai_chat"
    if marker == "response":
        return "openai_responses"
    kind = obj.get("type")
    if type(kind) is str and kind == "message" and obj.get("content") is not None:
        return "anthropic"
    return None


def usage_from(usage: Any) -> TokenUsage | None:
    """A :class:`TokenUsage` from an OpenAI or Anthropic ``usage`` object or dict."""
    if usage is None:
        return None
    if isinstance(usage, TokenUsage):
        return usage
    if _get(usage, "cache_read_input_tokens") is not None or (
        _get(usage, "input_tokens") is not None and _get(usage, "total_tokens") is None
    ):
        return _anthropic_usage(usage)
    prompt = _int(_get(usage, "prompt_tokens"))
    completion = _int(_get(usage, "completion_tokens"))
    details = _get(usage, "prompt_tokens_details")
    if prompt is None:  # Responses API names
        prompt = _int(_get(usage, "input_tokens"))
        completion = _int(_get(usage, "output_tokens"))
        details = _get(usage, "input_tokens_details")
    cached = _int(_get(details, "cached_tokens")) if details is not None else None
    total = _int(_get(usage, "total_tokens"))
    if prompt is None and completion is None and total is None:
        return None
    return TokenUsage(prompt, completion, total, cached or None, None)


def _anthropic_usage(usage: Any) -> TokenUsage | None:
    prompt = _int(_get(usage, "input_tokens"))
    completion = _int(_get(usage, "output_tokens"))
    read = _int(_get(usage, "cache_read_input_tokens"))
    created = _int(_get(usage, "cache_creation_input_tokens"))
    parts = [n for n in (prompt, completion, read, created) if n is not None]
    if not parts:
        return None
    return TokenUsage(prompt, completion, sum(parts), read, created)


def _anthropic_thinking(message: Any) -> tuple[ThinkingBlock, ...]:
    blocks = []
    for block in _get(message, "content") or ():
        kind = _get(block, "type")
        if kind == "thinking":
            blocks.append(
                ThinkingBlock(text=_get(block, "thinking"), signature=_get(block, "signature"))
            )
        elif kind == "redacted_thinking":
            blocks.append(ThinkingBlock(redacted_data=_get(block, "data")))
    return tuple(blocks)


def _openai_reasoning(response: Any) -> tuple[ThinkingBlock, ...]:
    blocks = []
    for item in _get(response, "output") or ():
        if _get(item, "type") != "reasoning":
            continue
        texts = [_get(part, "text") for part in _get(item, "summary") or ()]
        text = "\n\n".join(t for t in texts if isinstance(t, str))
        if text:
            blocks.append(ThinkingBlock(text=text))
    return tuple(blocks)


def extract(obj: Any) -> ProviderFacts | None:
    """Facts about a returned provider response, or None when ``obj`` is not one."""
    kind = _kind(obj)
    if kind is None:
        return None
    model = _get(obj, "model")
    thinking: tuple[ThinkingBlock, ...] = ()
    if kind == "anthropic":
        thinking = _anthropic_thinking(obj)
    elif kind == "openai_responses":
        thinking = _openai_reasoning(obj)
    return ProviderFacts(
        usage=usage_from(_get(obj, "usage")),
        thinking=thinking,
        model=model if isinstance(model, str) else None,
        provider="anthropic" if kind == "anthropic" else "openai",
    )


def response_summary(obj: Any) -> dict[str, Any] | None:
    """``{"content", "toolCalls", "finishReason"}`` of a provider response, for the wire."""
    kind = _kind(obj)
    if kind == "openai_chat":
        return _chat_summary(obj)
    if kind == "anthropic":
        return _anthropic_summary(obj)
    if kind == "openai_responses":
        return _responses_summary(obj)
    return None


def _chat_summary(obj: Any) -> dict[str, Any]:
    choices = _get(obj, "choices") or []
    first = choices[0] if choices else None
    message = _get(first, "message") if first is not None else None
    calls = []
    for call in (_get(message, "tool_calls") or []) if message is not None else []:
        function = _get(call, "function")
        calls.append(
            {
                "id": _get(call, "id"),
                "function": {
                    "name": _get(function, "name"),
                    "arguments": _get(function, "arguments"),
                },
            }
        )
    return {
        "content": _get(message, "content") if message is not None else None,
        "toolCalls": calls,
        "finishReason": _get(first, "finish_reason") if first is not None else None,
    }


def _anthropic_summary(obj: Any) -> dict[str, Any]:
    texts, calls = [], []
    for block in _get(obj, "content") or ():
        kind = _get(block, "type")
        if kind == "text":
            texts.append(_get(block, "text") or "")
        elif kind == "tool_use":
            # WhyOps tool calls carry their arguments as a JSON string, as OpenAI's do.
            arguments = _get(block, "input")
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments, ensure_ascii=False, default=str)
            calls.append(
                {
                    "id": _get(block, "id"),
                    "function": {"name": _get(block, "name"), "arguments": arguments},
                }
            )
    return {
        "content": "".join(texts) or None,
        "toolCalls": calls,
        "finishReason": _get(obj, "stop_reason"),
    }


def _responses_summary(obj: Any) -> dict[str, Any]:
    texts, calls = [], []
    for item in _get(obj, "output") or ():
        kind = _get(item, "type")
        if kind == "message":
            for part in _get(item, "content") or ():
                if _get(part, "type") == "output_text":
                    texts.append(_get(part, "text") or "")
        elif kind == "function_call":
            calls.append(
                {
                    "id": _get(item, "call_id"),
                    "function": {"name": _get(item, "name"), "arguments": _get(item, "arguments")},
                }
            )
    return {
        "content": "".join(texts) or None,
        "toolCalls": calls,
        "finishReason": _get(obj, "status"),
    }


def add_usage(a: TokenUsage, b: TokenUsage) -> TokenUsage:
    """Counts of two calls summed (a count unknown in both stays unknown)."""

    def add(x: int | None, y: int | None) -> int | None:
        return None if x is None and y is None else (x or 0) + (y or 0)

    return TokenUsage(
        add(a.prompt_tokens, b.prompt_tokens),
        add(a.completion_tokens, b.completion_tokens),
        add(a.total_tokens, b.total_tokens),
        add(a.cache_read_tokens, b.cache_read_tokens),
        add(a.cache_creation_tokens, b.cache_creation_tokens),
    )
