"""Argument checks for the trace builder: cheap, and every error names the parameter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from whyops.wire.records import TokenUsage
from whyops.wire.usage import usage_wire

#: Every wire usage counter (``promptTokens``, ``cacheReadTokens``, ``reasoningTokens``, ...):
#: the keys the wire writes for a usage that knows every count.
USAGE_KEYS = frozenset(
    usage_wire(TokenUsage(**dict.fromkeys((f.name for f in attrs.fields(TokenUsage)), 1)))
)


def text(name: str, value: object, *, max_len: int = 0, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a string, got {type(value).__name__}")
    if not value and not allow_empty:
        raise ValueError(f"{name}: must not be empty")
    if max_len and len(value) > max_len:
        raise ValueError(f"{name}: {len(value)} characters, at most {max_len} allowed")
    return value


def integer(name: str, value: object, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {value}")
    return value


def number(name: str, value: object) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name}: must be >= 0, got {value}")
    return value


def optional_mapping(name: str, value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"{name}: expected a dict, got {type(value).__name__}")
    return dict(value)


def mapping_or_list(name: str, value: object) -> dict[str, Any] | list[Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return list(value)
    raise TypeError(f"{name}: expected a dict or a list, got {type(value).__name__}")


def list_of_mappings(name: str, value: object, *, required_key: str = "") -> list[Any]:
    # ``type(...) is`` first: the usual lists and dicts skip the slower ABC checks.
    if type(value) is not list and (
        isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence)
    ):
        raise TypeError(f"{name}: expected a list of dicts, got {type(value).__name__}")
    items = list(value)
    for index, item in enumerate(items):
        if type(item) is not dict and not isinstance(item, Mapping):
            raise TypeError(f"{name}[{index}]: expected a dict, got {type(item).__name__}")
        if required_key and not isinstance(item.get(required_key), str):
            raise ValueError(f"{name}[{index}].{required_key}: required, a string")
    return items


def usage(name: str, value: object) -> dict[str, Any]:
    """Token usage in WhyOps' camelCase keys; a misspelt key would be silently ignored."""
    if type(value) is not dict and not isinstance(value, Mapping):
        raise TypeError(f"{name}: expected a dict of token counts, got {type(value).__name__}")
    for key, count in value.items():
        if key not in USAGE_KEYS:
            raise ValueError(
                f"{name}.{key}: unknown; expected one of {', '.join(sorted(USAGE_KEYS))}"
            )
        if type(count) is not int or count < 0:  # the usual count needs no call
            integer(f"{name}.{key}", count)
    return dict(value)


def json_value(name: str, value: object) -> Any:
    """Any JSON-like value; containers are copied one level deep."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(
        f"{name}: expected a JSON value (dict, list, str, number), got {type(value).__name__}"
    )
