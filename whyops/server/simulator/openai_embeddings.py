"""OpenAI `POST /v1/embeddings`: deterministic vectors, as floats or base64 float32.

A vector is the normalised sum of dense pseudo-random vectors, one per word and seeded by
it, so texts that share words are close (cosine similarity behaves as on real embeddings)
and equal texts are equal.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
from typing import Any

from . import catalog, errors, tokens, validation
from .conversation import Conversation, Turn

# The provider whose error bodies this module answers with.
PROVIDER = errors.OPENAI
WHOLE_TEXT_WEIGHT = 0.5
_WORD = re.compile(r"\w+")


def handle(body: dict[str, Any]) -> dict[str, Any]:
    model = validation.require_str(PROVIDER, body, "model")
    texts, counts = parse_input(body)
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise errors.invalid_field(PROVIDER, "encoding_format", "expected 'float' or 'base64'")
    dimensions = embedding_size(body, model)
    conversation = Conversation(model=model, turns=(Turn("user", text=texts[-1]),))
    validation.check_model_and_triggers(PROVIDER, model, conversation, stream=False)
    data = [
        {
            "object": "embedding",
            "index": index,
            "embedding": encode(embed(text, dimensions), encoding),
        }
        for index, text in enumerate(texts)
    ]
    usage = {"prompt_tokens": sum(counts), "total_tokens": sum(counts)}
    return {"object": "list", "data": data, "model": model, "usage": usage}


def embedding_size(body: dict[str, Any], model: str) -> int:
    largest = catalog.embedding_dimensions(model)
    dimensions = validation.optional_int(PROVIDER, body, "dimensions") or largest
    if dimensions > largest:
        raise errors.invalid_field(PROVIDER, "dimensions", f"must be at most {largest} for {model}")
    return dimensions


def parse_input(body: dict[str, Any]) -> tuple[list[str], list[int]]:
    """Texts and their token counts from a string, strings, a token array or token arrays."""
    if "input" not in body or body["input"] is None:
        raise errors.missing_field(PROVIDER, "input")
    raw = body["input"]
    items = [raw] if isinstance(raw, str) or _is_token_array(raw) else raw
    if not isinstance(items, list) or not items:
        raise errors.invalid_field(
            PROVIDER, "input", "expected a string, an array of strings or tokens"
        )
    texts, counts = [], []
    for index, item in enumerate(items):
        if isinstance(item, str):
            texts.append(item)
            counts.append(tokens.count_text(item))
        elif _is_token_array(item):
            texts.append(" ".join(str(token) for token in item))
            counts.append(len(item))
        else:
            raise errors.invalid_field(
                PROVIDER, f"input[{index}]", "expected a string or token array"
            )
    return texts, counts


def _is_token_array(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(token, int) and not isinstance(token, bool) for token in value)
    )


def embed(text: str, dimensions: int) -> list[float]:
    """A dense unit vector; values are exactly representable as float32."""
    vector = [0.0] * dimensions
    for word in [*_WORD.findall(text.lower()), f"\x00{text}"]:
        weight = WHOLE_TEXT_WEIGHT if word.startswith("\x00") else 1.0
        stream = hashlib.shake_256(word.encode()).digest(dimensions)
        vector = [
            value + weight * (byte - 127.5) for value, byte in zip(vector, stream, strict=True)
        ]
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    packed = struct.pack(f"<{dimensions}f", *(value / norm for value in vector))
    return list(struct.unpack(f"<{dimensions}f", packed))


def encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "float":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
