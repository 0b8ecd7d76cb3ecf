"""Build tool-call arguments that fit a tool's JSON schema from conversation facts."""

from __future__ import annotations

from typing import Any

import attrs

from .conversation import as_dict, as_list
from .facts import Facts

Defs = dict[str, Any]
_MISSING: Any = object()
MAX_DEPTH = 3
_TEXT_NAMES = ("reason", "note", "message", "comment", "description", "details", "summary")
_QUERY_NAMES = ("query", "q", "search", "text", "prompt", "question", "keywords", "term")
_AMOUNT_NAMES = ("amount", "total", "price", "value", "sum")
_PLACE_NAMES = ("city", "location", "place", "destination", "address", "country")


def build_arguments(
    schema: dict[str, Any], facts: Facts, *, complete: bool = False
) -> dict[str, Any]:
    """Arguments fitting `schema`, as a model would write them.

    Required properties always get a value. Optional ones get one when a fact fits them, and
    all of them do when `complete` (structured output, where models fill every field) or when
    the object requires nothing (`required: []`: an empty object would say nothing). `$ref`s
    into the schema's `$defs` (as pydantic writes them) are followed.
    """
    defs = {**as_dict(schema.get("definitions")), **as_dict(schema.get("$defs"))}
    return _object(_resolve(schema, defs), facts, _Fill(0, defs, complete))


@attrs.frozen
class _Fill:
    """Where the builder is: nesting depth, the schema's definitions, fill every property."""

    depth: int
    defs: Defs
    complete: bool

    def deeper(self) -> _Fill:
        return attrs.evolve(self, depth=self.depth + 1)


def _object(schema: dict[str, Any], facts: Facts, fill: _Fill) -> dict[str, Any]:
    properties = as_dict(schema.get("properties"))
    required = [name for name in as_list(schema.get("required")) if isinstance(name, str)]
    fill_all = fill.complete or not required
    arguments: dict[str, Any] = {}
    for name in [*required, *(n for n in properties if n not in required)]:
        spec = _resolve(as_dict(properties.get(name)), fill.defs)
        value = _value_from_facts(name, spec, facts)
        if value is _MISSING and (fill_all or name in required):
            value = _default_for(spec, facts, fill)
        if value is not _MISSING:
            arguments[name] = value
    return arguments


def _resolve(spec: dict[str, Any], defs: Defs, hops: int = 0) -> dict[str, Any]:
    """Follow `$ref` and take the first non-null `anyOf`/`oneOf`/`allOf` option."""
    if hops > 8:
        return spec
    ref = spec.get("$ref")
    if isinstance(ref, str):
        target = as_dict(defs.get(ref.rsplit("/", 1)[-1]))
        merged = {**target, **{k: v for k, v in spec.items() if k != "$ref"}}
        return _resolve(merged, defs, hops + 1)
    if "type" in spec:
        return spec
    for key in ("anyOf", "oneOf", "allOf"):
        options = [as_dict(o) for o in as_list(spec.get(key)) if as_dict(o).get("type") != "null"]
        if options:
            rest = {k: v for k, v in spec.items() if k != key}
            return _resolve({**rest, **options[0]}, defs, hops + 1)
    return spec


def _types(spec: dict[str, Any]) -> list[str]:
    kind = spec.get("type")
    if isinstance(kind, list):
        return [k for k in kind if k != "null"] or ["string"]
    return [kind] if isinstance(kind, str) else ["string"]


def _value_from_facts(name: str, spec: dict[str, Any], facts: Facts) -> Any:
    lowered = name.lower()
    if _types(spec)[0] == "object":
        return _MISSING
    if isinstance(spec.get("enum"), list) and spec["enum"]:
        return _pick_enum(spec["enum"], facts)
    if name in facts.result_fields and lowered not in _TEXT_NAMES:
        return _coerce(facts.result_fields[name], spec)
    for matcher in _MATCHERS:
        value = matcher(lowered, facts)
        if value is not _MISSING and value is not None:
            return _coerce(value, spec)
    return _MISSING


def _order_value(lowered: str, facts: Facts) -> Any:
    if "order" in lowered or lowered in ("id", "number", "reference", "ref"):
        return facts.order_id
    return _MISSING


def _email_value(lowered: str, facts: Facts) -> Any:
    return facts.email if "email" in lowered else _MISSING


def _amount_value(lowered: str, facts: Facts) -> Any:
    if not any(word in lowered for word in _AMOUNT_NAMES):
        return _MISSING
    if facts.amount is not None:
        return facts.amount
    for key in ("amount", "total", "price", "order_total", "total_amount"):
        if isinstance(facts.result_fields.get(key), (int, float)):
            return facts.result_fields[key]
    return None


def _text_value(lowered: str, facts: Facts) -> Any:
    if any(word in lowered for word in _TEXT_NAMES):
        return _snippet(facts.user_text) or None
    if lowered in _QUERY_NAMES:
        return facts.order_id or _snippet(facts.user_text) or None
    return _MISSING


def _place_value(lowered: str, facts: Facts) -> Any:
    return facts.place if lowered in _PLACE_NAMES else _MISSING


_MATCHERS = (_order_value, _email_value, _amount_value, _text_value, _place_value)


def _pick_enum(options: list[Any], facts: Facts) -> Any:
    text = facts.user_text.lower()
    for option in options:
        if isinstance(option, str) and option.lower() in text:
            return option
    return options[0]


def _default_for(spec: dict[str, Any], facts: Facts, fill: _Fill) -> Any:
    kind = _types(spec)[0]
    if "default" in spec:
        return spec["default"]
    if "const" in spec:
        return spec["const"]
    if kind in ("integer", "number"):
        number = facts.numbers[0] if facts.numbers else 1
        return int(number) if kind == "integer" else float(number)
    if kind == "boolean":
        return True
    if kind == "array":
        item = _resolve(as_dict(spec.get("items")), fill.defs)
        return [_default_for(item, facts, fill.deeper())] if fill.depth < MAX_DEPTH else []
    if kind == "object":
        return _object(spec, facts, fill.deeper()) if fill.depth < MAX_DEPTH else {}
    if kind == "null":
        return None
    return _snippet(facts.user_text) or "unknown"


def _coerce(value: Any, spec: dict[str, Any]) -> Any:
    kind = _types(spec)[0]
    try:
        if kind == "integer":
            return int(float(str(value).lstrip("#").split("-")[-1]))
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "string" and not isinstance(value, str):
        return str(value)
    if kind == "array" and not isinstance(value, list):
        return [value]
    return value


def _snippet(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
