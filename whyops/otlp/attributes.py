"""OTLP attributes (``[{"key", "value": AnyValue}]`` of the OTLP/JSON dict) ↔ Python values.

``AnyValue`` → ``str``/``int``/``float``/``bool``/``bytes``/``list``/``dict`` (``None`` for an
empty one), and back. Nesting is kept to :data:`MAX_DEPTH` levels both ways: deeper parts
are cut (read: ``None``; written: their JSON text), so a hostile body cannot make a reader
recurse without end.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MAX_DEPTH", "any_value", "attribute_dict", "key_values", "python_value", "value_depth"]

#: Nesting levels of AnyValue kept (a scalar is one level; each array or kvlist adds one).
MAX_DEPTH = 32
_INT64 = (-(2**63), 2**63 - 1)
KV = dict[str, Any]


def attribute_dict(kvs: Iterable[Mapping[str, Any]] | None) -> dict[str, Any]:
    """``{key: python value}`` of a list of KVs; of duplicate keys the later one wins."""
    return {kv.get("key", ""): python_value(kv.get("value"), 1) for kv in kvs or ()}


def python_value(value: Mapping[str, Any] | None, depth: int = 1) -> Any:
    """One AnyValue as a Python value (levels past :data:`MAX_DEPTH` read as ``None``)."""
    if not value or depth > MAX_DEPTH:
        return None
    key, item = next(iter(value.items()))
    if key == "arrayValue":
        return [python_value(v, depth + 1) for v in (item or {}).get("values") or ()]
    if key == "kvlistValue":
        values = (item or {}).get("values") or ()
        return {kv.get("key", ""): python_value(kv.get("value"), depth + 1) for kv in values}
    if key == "bytesValue":
        try:
            return base64.b64decode(item)
        except (binascii.Error, ValueError, TypeError):
            return None
    return item


def value_depth(value: Mapping[str, Any] | None) -> int:
    """How many levels an AnyValue nests: 1 for a scalar or an empty value, +1 per
    array or kvlist around it."""
    if not value:
        return 1
    key, item = next(iter(value.items()))
    if key == "arrayValue":
        children = [value_depth(v) for v in (item or {}).get("values") or ()]
    elif key == "kvlistValue":
        children = [value_depth(kv.get("value")) for kv in (item or {}).get("values") or ()]
    else:
        return 1
    return 1 + max(children, default=1)


def key_values(mapping: Mapping[Any, Any], depth: int = 1) -> list[KV]:
    """KVs of a mapping (its values at nesting level ``depth``): ``None`` values are left
    out; keys become text."""
    # Text values (most of them) skip the call: this runs for every attribute exported.
    return [
        {
            "key": str(key),
            "value": {"stringValue": value} if type(value) is str else any_value(value, depth),
        }
        for key, value in mapping.items()
        if value is not None
    ]


def any_value(value: Any, depth: int = 1) -> dict[str, Any]:
    """One Python value as an AnyValue: mapping → kvlist, list/tuple → array, bytes →
    base64, anything else (or anything past :data:`MAX_DEPTH`) → its JSON text."""
    kind = type(value)
    if kind is str:
        return {"stringValue": value}
    if kind is bool:
        return {"boolValue": value}
    if kind is int and _INT64[0] <= value <= _INT64[1]:
        return {"intValue": value}
    if kind is float:
        return {"doubleValue": value}
    if value is None:
        return {}
    if depth < MAX_DEPTH and isinstance(value, Mapping):
        return {"kvlistValue": {"values": key_values(value, depth + 1)}}
    if depth < MAX_DEPTH and isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v, depth + 1) for v in value]}}
    if isinstance(value, (bytes, bytearray)):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    return {"stringValue": _json_text(value)}


def _json_text(value: Any) -> str:
    """JSON text of a JSON value (a list nested too deep, a big int); else its ``str``."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        try:
            return str(value)
        except Exception:
            return f"<{type(value).__name__}>"
