"""Provider usage objects -> WhyOps ``metadata.usage`` (spec §5.7).

OpenAI counts cached prompt tokens inside ``promptTokens``; Anthropic's
``input_tokens`` excludes them, so its ``totalTokens`` adds the cache counts.
Zero cache counts are omitted, as WhyOps does.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _positive(value: Any) -> int | None:
    number = _int(value)
    return number if number else None


def _drop_none(mapping: dict[str, int | None]) -> dict[str, int]:
    return {key: value for key, value in mapping.items() if value is not None}


def _details(usage: JSON, key: str) -> JSON:
    details = usage.get(key)
    return details if isinstance(details, dict) else {}


def openai_usage(usage: Any) -> dict[str, int] | None:
    """Chat (``prompt_tokens``), Responses (``input_tokens``) and embeddings usage."""
    if not isinstance(usage, dict):
        return None
    prompt = _int(usage.get("prompt_tokens", usage.get("input_tokens")))
    completion = _int(usage.get("completion_tokens", usage.get("output_tokens")))
    total = _int(usage.get("total_tokens"))
    if total is None and prompt is not None:
        total = prompt + (completion or 0)
    prompt_details = _details(usage, "prompt_tokens_details") or _details(
        usage, "input_tokens_details"
    )
    output_details = _details(usage, "completion_tokens_details") or _details(
        usage, "output_tokens_details"
    )
    return _drop_none(
        {
            "promptTokens": prompt,
            "completionTokens": completion,
            "totalTokens": total,
            "cacheReadTokens": _positive(prompt_details.get("cached_tokens")),
            "cacheCreationTokens": _positive(prompt_details.get("cache_write_tokens")),
            "reasoningTokens": _positive(output_details.get("reasoning_tokens")),
        }
    )


def anthropic_usage(usage: Any) -> dict[str, int] | None:
    """Messages usage (non-stream, or merged ``message_start`` + ``message_delta``)."""
    if not isinstance(usage, dict):
        return None
    prompt = _int(usage.get("input_tokens"))
    completion = _int(usage.get("output_tokens"))
    creation = _int(usage.get("cache_creation_input_tokens"))
    read = _int(usage.get("cache_read_input_tokens"))
    split = _details(usage, "cache_creation")
    total = sum(count or 0 for count in (prompt, completion, creation, read))
    return _drop_none(
        {
            "promptTokens": prompt,
            "completionTokens": completion,
            "totalTokens": total,
            "cacheCreationTokens": creation or None,
            "cacheReadTokens": read or None,
            "cacheWrite5mTokens": _positive(split.get("ephemeral_5m_input_tokens")),
            "cacheWrite1hTokens": _positive(split.get("ephemeral_1h_input_tokens")),
        }
    )


def merge_anthropic_usage(start: JSON, delta: Any) -> JSON:
    """``message_start`` usage updated with the cumulative counts of ``message_delta``."""
    if not isinstance(delta, dict):
        return start
    merged = dict(start)
    merged.update({key: value for key, value in delta.items() if value is not None})
    return merged
