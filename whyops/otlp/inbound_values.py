"""Reading attribute values defensively: JSON-safe data, counts, names, JSON held in strings.

Attribute values come from :func:`whyops.otlp.attributes.attribute_dict` (str, int, float, bool,
bytes, list, dict, None). What a WhyOps event may hold is stricter: JSON without NaN, bytes or
nesting past the server's limit. Every reader here returns such data and never raises.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from whyops.otlp.attributes import MAX_DEPTH

#: Nesting kept when JSON text inside an attribute is parsed (the same bound as AnyValue's).
MAX_JSON_DEPTH = MAX_DEPTH
#: Types whose values are JSON data as they are (a float may be NaN: it is not one of them).
_AS_IS = frozenset({str, int, bool, type(None)})
#: The longest name (agent, model, provider, tool) a WhyOps event takes.
MAX_NAME = 255


def clean(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON data: bytes as base64 text, NaN and infinities as their text, tuples
    as lists, keys as text; parts nested past :data:`MAX_JSON_DEPTH` become ``None``."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else str(value)
    if depth >= MAX_JSON_DEPTH:
        return None
    if kind is dict or isinstance(value, Mapping):  # most items are text or numbers: kept inline
        return {
            key if type(key) is str else str(key): item
            if type(item) in _AS_IS
            else clean(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [item if type(item) in _AS_IS else clean(item, depth + 1) for item in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def _no_constant(name: str) -> str:
    return name  # NaN, Infinity: kept as their text


def _depth(value: Any) -> int:
    """How deep lists and dicts nest in parsed JSON (iterative: any depth is safe)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
        else:
            deepest = max(deepest, level)
            continue
        deepest = max(deepest, level + 1)
    return deepest


_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def parse_json(text: Any) -> Any:
    """JSON held in a string, parsed; anything else (or text that is not JSON, or nests past
    :data:`MAX_JSON_DEPTH`) as it is."""
    if not isinstance(text, str) or text.lstrip()[:1] not in ("{", "["):
        return text
    brackets = text.count("[") + text.count("{")  # at most this deep: most texts stop here
    if brackets > MAX_JSON_DEPTH and _bracket_depth(text):
        return text
    try:
        value = _DECODER.decode(text)
    except (ValueError, RecursionError):
        return text
    if brackets > MAX_JSON_DEPTH and _depth(value) > MAX_JSON_DEPTH:
        return text
    return text if _SURROGATE_ESCAPE.search(text) and _lone_surrogate(value) else value


#: A ``\\uD800``-``\\uDFFF`` escape: JSON text that may decode to a lone surrogate, which no
#: stored text may hold (a pair is fine: it decodes to one character).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _lone_surrogate(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _bracket_depth(text: str) -> bool:
    """Whether brackets (strings aside or not) could nest past the limit: a cheap test that
    keeps ``json.loads`` from recursing through a hostile text."""
    level = 0
    for char in text:
        if char in "[{":
            level += 1
            if level > MAX_JSON_DEPTH:
                return True
        elif char in "]}":
            level -= 1
    return False


def json_value(value: Any) -> Any:
    """An attribute (already :func:`clean`) that may hold structured data or its JSON text,
    as JSON data (parsed JSON is: its constants are kept as their text)."""
    return parse_json(value)


def listed(value: Any) -> list[Any]:
    """``value`` when it is a list, else an empty one (a field of the wrong type holds nothing)."""
    return value if isinstance(value, list) else []


def nested(holder: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``holder[key]`` when it is an object, else ``holder`` itself (a call's ``function``
    object, or the call when it is flat)."""
    value = holder.get(key)
    return value if isinstance(value, Mapping) else holder


def first(attrs: Mapping[str, Any], keys: Iterable[str], *, empty: bool = False) -> Any:
    """The value of the first of ``keys`` that ``attrs`` holds (not None; not "" either
    unless ``empty``: a name or an id is never empty, a tool's result may be)."""
    for key in keys:
        value = attrs.get(key)
        if value is not None and (empty or value != ""):
            return value
    return None


def name(value: Any, limit: int = MAX_NAME) -> str | None:
    """A usable name: non-empty text (a number as its text), cut to ``limit`` characters."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        value = str(value)
    if isinstance(value, str) and value.strip():
        return value[:limit]
    return None


def count(value: Any) -> int | None:
    """A token count: a non-negative int (or its text); anything else is unknown."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and 0 <= value < 2**53 else None


def text_of(value: Any) -> str:
    """A value as text: itself when it is a string, else its compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(clean(value), ensure_ascii=False, separators=(",", ":"))


def indexed(attrs: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Flattened list attributes (``prefix.0.role``, ``prefix.0.content``, ``prefix.1.role``)
    as a list of ``{"role": …, "content": …}`` dicts, in index order."""
    head = prefix + "."
    found: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if not key.startswith(head):
            continue
        index, _, rest = key[len(head) :].partition(".")
        if index.isdigit() and rest and len(index) < 7:
            found.setdefault(int(index), {})[rest] = value
    return [found[index] for index in sorted(found)]
