"""Reshaping OpenAI chat stream chunks (pure): usage the client did not ask for, the signature.

The proxy asks upstream for usage on every streamed chat call
(``stream_options.include_usage``); a client that did not ask must see the
stream it would have got: no usage-only chunk and no ``"usage": null`` field.
Chunks are edited as bytes where that is exact, so everything else stays as
the provider sent it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from whyops.server.proxy.sse import encode_frame

JSON = dict[str, Any]

# `"usage": null` with the comma that joins it to its neighbours. A JSON string cannot hold an
# unescaped quote, so this only ever matches a key; it is used when it matches exactly once.
_NULL_USAGE = re.compile(rb'(,\s*)?"usage"\s*:\s*null(\s*,)?')
_COMPACT_NULL_USAGE = b'"usage":null'


def asks_for_usage(body: JSON) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def with_usage_requested(body: JSON) -> JSON:
    """``body`` asking for streamed usage: a copy when it has to change."""
    options = body.get("stream_options")
    if body.get("stream") is not True or asks_for_usage(body):
        return body
    if options is not None and not isinstance(options, dict):
        return body  # the upstream answers a malformed option as it would without the proxy
    return {**body, "stream_options": {**(options or {}), "include_usage": True}}


def is_usage_only(chunk: JSON) -> bool:
    """The extra last chunk of a stream asked for usage: no choices, the counts."""
    return chunk.get("choices") == [] and isinstance(chunk.get("usage"), dict)


def without_null_usage(chunk: JSON, raw: bytes) -> bytes:
    """The frame ``raw`` of ``chunk`` without its top-level ``"usage": null``."""
    if "usage" not in chunk or chunk["usage"] is not None:
        return raw
    if raw.count(b'"usage"') == 1:  # one usage key; in compact JSON, a plain byte edit
        for field in (b"," + _COMPACT_NULL_USAGE, _COMPACT_NULL_USAGE + b",", _COMPACT_NULL_USAGE):
            if field in raw:
                return raw.replace(field, b"", 1)
    found = _NULL_USAGE.findall(raw)
    if len(found) == 1:
        return _NULL_USAGE.sub(_join, raw)
    return encode_chunk({key: value for key, value in chunk.items() if key != "usage"})


def _join(match: re.Match[bytes]) -> bytes:
    """A comma stays when the removed field sat between two others."""
    return b"," if match.group(1) and match.group(2) else b""


def signature_chunk(finish: JSON, index: int, text: str, keep_usage: bool) -> bytes:
    """A content chunk shaped like ``finish`` (the chunk that ends the answer) carrying ``text``.

    Its ``choices`` hold only the signed choice, with no finish reason or logprobs; a
    ``usage`` field becomes null (or goes, when the client did not ask for usage).
    """
    choice = dict(finish["choices"][index])
    choice.update(delta={"content": text}, finish_reason=None)
    if "logprobs" in choice:
        choice["logprobs"] = None
    shaped: JSON = {}
    for key, value in finish.items():
        if key == "choices":
            shaped[key] = [choice]
        elif key != "usage":
            shaped[key] = value
        elif keep_usage:
            shaped[key] = None
    return encode_chunk(shaped)


def with_text_appended(finish: JSON, index: int, text: str, keep_usage: bool) -> bytes:
    """``finish`` (which carries content of its own) with ``text`` after that content."""
    choices = list(finish["choices"])
    choice = choices[index]
    delta = choice["delta"]
    choices[index] = {**choice, "delta": {**delta, "content": delta["content"] + text}}
    shaped = {**finish, "choices": choices}
    if not keep_usage and "usage" in shaped and shaped["usage"] is None:
        del shaped["usage"]
    return encode_chunk(shaped)


def encode_chunk(chunk: JSON) -> bytes:
    return encode_frame(json.dumps(chunk, ensure_ascii=False, separators=(",", ":")))
