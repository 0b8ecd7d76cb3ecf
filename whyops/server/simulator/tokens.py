"""Deterministic token counting: about four characters a token, like English text in BPE.

Cache rules (stateless, so the same request always reports the same counts):
- OpenAI caches the request's prefix (system/developer text, instructions and tool schemas)
  automatically once it reaches `OPENAI_CACHE_MIN_TOKENS`, in blocks of
  `OPENAI_CACHE_BLOCK` tokens: the first call of a conversation writes it, calls that already
  carry an assistant turn read it.
- Anthropic caches up to the last `cache_control` breakpoint: the first call of a
  conversation creates it; later calls read the first breakpoint's prefix and create the rest.
"""

from __future__ import annotations

import json
import re
from typing import Any

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4
REQUEST_OVERHEAD = 3
OPENAI_CACHE_MIN_TOKENS = 256
OPENAI_CACHE_BLOCK = 64
_CHUNK = re.compile(r"\S+\s*|\s+")


def count_text(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def count_json(value: Any) -> int:
    if not value:
        return 0
    return count_text(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str))


def openai_cached_prefix(prefix_tokens: int) -> int:
    if prefix_tokens < OPENAI_CACHE_MIN_TOKENS:
        return 0
    return prefix_tokens // OPENAI_CACHE_BLOCK * OPENAI_CACHE_BLOCK


def stream_pieces(text: str, words_per_piece: int = 3) -> list[str]:
    """Split text into small pieces that join back to exactly the same text."""
    words = _CHUNK.findall(text)
    return [
        "".join(words[start : start + words_per_piece])
        for start in range(0, len(words), words_per_piece)
    ] or ([text] if text else [])
