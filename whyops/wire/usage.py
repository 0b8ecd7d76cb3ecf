"""Provider token counts -> :class:`TokenUsage` -> the WhyOps ``usage`` object (spec §5.7).

The one mapping, used by the SDK (returned SDK objects, ``span.record_usage``) and the proxy
(parsed JSON). OpenAI counts cached prompt tokens inside ``promptTokens``; Anthropic's
``input_tokens`` excludes them, so its ``totalTokens`` adds the cache counts. Cache and
reasoning counts of zero are left out, as WhyOps does.
"""

from __future__ import annotations

from typing import Any

from whyops.wire._read import count, field, is_record
from whyops.wire.records import TokenUsage

__all__ = [
    "MAX_TOKENS",
    "PROMPT_EXCLUDES_CACHE",
    "USAGE_KEYS",
    "add_usage",
    "anthropic_usage",
    "merge_anthropic_usage",
    "openai_usage",
    "usage_of",
    "usage_wire",
]

# (TokenUsage field, wire key, whether a zero is recorded).
_WIRE_KEYS = (
    ("prompt_tokens", "promptTokens", True),
    ("completion_tokens", "completionTokens", True),
    ("total_tokens", "totalTokens", True),
    ("cache_read_tokens", "cacheReadTokens", False),
    ("cache_creation_tokens", "cacheCreationTokens", False),
    ("reasoning_tokens", "reasoningTokens", False),
    ("cache_write_5m_tokens", "cacheWrite5mTokens", False),
    ("cache_write_1h_tokens", "cacheWrite1hTokens", False),
)

#: The largest count the server reads from a wire ``usage`` (a larger one is not counted):
#: keeps per-trace sums far inside 64-bit integers.
MAX_TOKENS = 2**40

#: Each count (a :class:`TokenUsage` field) and the wire ``usage`` keys it is read from, the
#: main key first: WhyOps' other SDKs send the later ones, read only when the main key is
#: absent (WhyOps' ``a || b``). The server's token columns and the pricing read through this.
USAGE_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("prompt_tokens", ("promptTokens", "inputTokens")),
    ("completion_tokens", ("completionTokens", "outputTokens")),
    ("total_tokens", ("totalTokens",)),
    ("cache_read_tokens", ("cacheReadTokens",)),
    ("cache_creation_tokens", ("cacheCreationTokens", "cacheWriteTokens")),
    ("cache_write_5m_tokens", ("cacheWrite5mTokens",)),
    ("cache_write_1h_tokens", ("cacheWrite1hTokens",)),
    ("reasoning_tokens", ("reasoningTokens",)),
)


def usage_wire(usage: TokenUsage) -> dict[str, int]:
    """The WhyOps ``usage`` object: the known counts, camelCase."""
    wire = {}
    for name, key, keep_zero in _WIRE_KEYS:
        value = getattr(usage, name)
        if value is not None and (keep_zero or value):
            wire[key] = value
    return wire


def _positive(value: Any) -> int | None:
    number = count(value)
    return number if number else None


def _either(usage: Any, chat_name: str, responses_name: str) -> int | None:
    """A count under its chat completions name, else under its Responses name."""
    found = count(field(usage, chat_name))
    return found if found is not None else count(field(usage, responses_name))


def _details(usage: Any, chat_name: str, responses_name: str) -> Any:
    """The first non-empty ``*_details`` object (parsed JSON may carry an empty one)."""
    details = field(usage, chat_name)
    if _filled(details):
        return details
    details = field(usage, responses_name)
    return details if _filled(details) else None


def _filled(details: Any) -> bool:
    return is_record(details) and not (isinstance(details, dict) and not details)


def openai_usage(usage: Any) -> TokenUsage | None:
    """Chat (``prompt_tokens``), Responses (``input_tokens``) and embeddings usage."""
    if not is_record(usage):
        return None
    prompt = _either(usage, "prompt_tokens", "input_tokens")
    completion = _either(usage, "completion_tokens", "output_tokens")
    total = count(field(usage, "total_tokens"))
    if total is None and prompt is not None:
        total = prompt + (completion or 0)
    prompt_details = _details(usage, "prompt_tokens_details", "input_tokens_details")
    output_details = _details(usage, "completion_tokens_details", "output_tokens_details")
    read = _positive(field(prompt_details, "cached_tokens"))
    written = _positive(field(prompt_details, "cache_write_tokens"))
    reasoning = _positive(field(output_details, "reasoning_tokens"))
    if total is None and completion is None and not (read or written or reasoning):
        return None  # (no total means no prompt count either)
    return TokenUsage(prompt, completion, total, read, written, reasoning_tokens=reasoning)


def anthropic_usage(usage: Any) -> TokenUsage | None:
    """Messages usage (a whole answer, or merged ``message_start`` + ``message_delta``)."""
    if not is_record(usage):
        return None
    prompt = count(field(usage, "input_tokens"))
    completion = count(field(usage, "output_tokens"))
    read = count(field(usage, "cache_read_input_tokens"))
    created = count(field(usage, "cache_creation_input_tokens"))
    known = [n for n in (prompt, completion, read, created) if n is not None]
    if not known:
        return None
    split = field(usage, "cache_creation")
    return TokenUsage(
        prompt,
        completion,
        sum(known),
        read or None,
        created or None,
        cache_write_5m_tokens=_positive(field(split, "ephemeral_5m_input_tokens")),
        cache_write_1h_tokens=_positive(field(split, "ephemeral_1h_input_tokens")),
    )


def usage_of(usage: Any) -> TokenUsage | None:
    """A :class:`TokenUsage` from a usage of either provider, told apart by its field names."""
    if type(usage) is TokenUsage:
        return usage
    module = type(usage).__module__
    if type(module) is str:  # an SDK's usage object: its package says whose (no probing)
        sdk_mapper = _SDK_MAPPERS.get(module.partition(".")[0])
        if sdk_mapper is not None:
            return sdk_mapper(usage)
    anthropic = (
        field(usage, "cache_read_input_tokens") is not None
        or field(usage, "cache_creation_input_tokens") is not None
        or (field(usage, "input_tokens") is not None and field(usage, "total_tokens") is None)
    )
    return anthropic_usage(usage) if anthropic else openai_usage(usage)


_SDK_MAPPERS = {"anthropic": anthropic_usage, "openai": openai_usage}

#: Providers (``provider`` as WhyOps records it) whose prompt count leaves the cache reads and
#: writes out, so that their usage is read by :func:`anthropic_usage`; every other provider's
#: includes them, as OpenAI's and the OpenTelemetry GenAI ``gen_ai.usage.input_tokens`` do.
PROMPT_EXCLUDES_CACHE = frozenset({"anthropic"})


def merge_anthropic_usage(start: dict[str, Any], delta: Any) -> dict[str, Any]:
    """``message_start`` usage updated with the cumulative counts of ``message_delta``."""
    if not isinstance(delta, dict):
        return start
    merged = dict(start)
    merged.update({key: value for key, value in delta.items() if value is not None})
    return merged


def add_usage(a: TokenUsage, b: TokenUsage) -> TokenUsage:
    """Counts of two calls summed (a count unknown in both stays unknown).

    Spelled out field by field: it runs on the caller's thread (``span.record_usage``).
    """
    return TokenUsage(
        _add(a.prompt_tokens, b.prompt_tokens),
        _add(a.completion_tokens, b.completion_tokens),
        _add(a.total_tokens, b.total_tokens),
        _add(a.cache_read_tokens, b.cache_read_tokens),
        _add(a.cache_creation_tokens, b.cache_creation_tokens),
        reasoning_tokens=_add(a.reasoning_tokens, b.reasoning_tokens),
        cache_write_5m_tokens=_add(a.cache_write_5m_tokens, b.cache_write_5m_tokens),
        cache_write_1h_tokens=_add(a.cache_write_1h_tokens, b.cache_write_1h_tokens),
    )


def _add(x: int | None, y: int | None) -> int | None:
    if x is None:
        return y
    return x if y is None else x + y
