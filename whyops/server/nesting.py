"""The one nesting limit: how deep stored JSON may go, checked on its text.

Ingest refuses ``content``, ``metadata`` and tool-call ``arguments`` (JSON inside a string,
which the graph view parses) nested deeper than :data:`MAX_NESTING` levels of arrays and
objects. Readers check again before parsing what is stored, so a row written before the limit
(or straight into the file) still renders: as its JSON text, a string, instead of a 500.

Every check starts with bounds that are free for ordinary values: a text of at most ``n``
characters, or with at most ``n`` opening brackets, cannot nest deeper than ``n`` (well formed or
not: an ``arguments`` string need not be JSON). Only texts past both bounds are scanned.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

MAX_NESTING = 100
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def text_depth(text: str) -> int:
    """How deep the arrays and objects of the JSON ``text`` nest (brackets in strings aside)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def too_deep(text: str, limit: int = MAX_NESTING) -> bool:
    """Whether the JSON ``text`` nests deeper than ``limit``."""
    if len(text) <= limit or text.count("[") + text.count("{") <= limit:
        return False
    return text_depth(text) > limit


def body_too_deep(raw: bytes, limit: int = MAX_NESTING) -> bool:
    """Whether a UTF-8 JSON body nests deeper than ``limit``: decoded only past the bounds."""
    if len(raw) <= limit or raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    return text_depth(raw.decode("utf-8", "replace")) > limit


def load_stored(text: str | None) -> Any:
    """Stored JSON text, parsed; its text (a string) when it nests past the limit or does not
    parse, so a row the limit would refuse today still renders."""
    if text is None:
        return None
    if too_deep(text):
        return text
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def splice_stored(text: str | None) -> str:
    """Stored JSON text as it goes into a response unparsed: itself, or (past the limit) the
    JSON string of it, as :func:`load_stored` renders it."""
    if text is None:
        return "null"
    return json.dumps(text, ensure_ascii=False) if too_deep(text) else text


def deep_arguments(content: Any) -> str | None:
    """The path (``"toolCalls.0.function.arguments"``) of the first tool-call ``arguments``
    string in ``content`` that nests past the limit, or None."""
    if not isinstance(content, dict):
        return None
    for key in ("toolCalls", "tool_calls"):
        calls = content.get(key)
        if not isinstance(calls, list):
            continue
        for index, call in enumerate(calls):
            if not isinstance(call, dict):
                continue
            function = call.get("function")
            for where, holder in ((".function", function), ("", call)):
                arguments = holder.get("arguments") if isinstance(holder, dict) else None
                if isinstance(arguments, str) and too_deep(arguments):
                    return f"{key}.{index}{where}.arguments"
    return None
