"""OTLP/JSON request bodies → the OTLP/JSON dict, checked field by field (see
:mod:`whyops.otlp.proto`): hex ids, 64-bit integers as numbers or strings, enums as numbers
or names, both spellings of field names (proto3 JSON), unknown fields ignored, ``null`` as
the default. Every problem is an :class:`~whyops.otlp.proto.OtlpDecodeError` naming its path.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from whyops.otlp.proto import MAX_NESTING, OtlpDecodeError

__all__ = ["decode_json"]

Dict = dict[str, Any]
_HEX = re.compile("[0-9a-fA-F]*")

Check = Callable[[Any, str], Any]


def decode_json(body: bytes) -> Dict:
    """The OTLP/JSON dict of a JSON request body."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise OtlpDecodeError(f"not valid JSON: {exc}") from None
    try:
        return _message(data, "", _REQUEST)
    except RecursionError:
        raise OtlpDecodeError("AnyValue nested too deeply") from None


def _where(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _message(data: Any, path: str, fields: tuple[tuple[str, str, Check], ...]) -> Dict:
    """``data`` (a JSON object, or null) checked against ``fields`` (name, alias, check)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise OtlpDecodeError(f"{path or 'body'}: must be an object")
    out = {}
    for name, alias, check in fields:
        raw = data.get(name)
        if raw is None and alias:
            raw = data.get(alias)
        out[name] = check(raw, _where(path, name))
    return out


def _repeated(item: Check) -> Check:
    def check(raw: Any, path: str) -> list[Any]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise OtlpDecodeError(f"{path}: must be an array")
        return [item(value, f"{path}[{n}]") for n, value in enumerate(raw)]

    return check


def _object(fields_of: Callable[[], tuple[tuple[str, str, Check], ...]]) -> Check:
    def check(raw: Any, path: str) -> Dict:
        return _message(raw, path, fields_of())

    return check


def _string(raw: Any, path: str) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise OtlpDecodeError(f"{path}: must be a string")
    return raw


def _hex_id(raw: Any, path: str) -> str:
    text = _string(raw, path)
    if len(text) % 2 or not _HEX.fullmatch(text):
        raise OtlpDecodeError(f"{path}: not hex")
    return text.lower()


def _integer(raw: Any, path: str, low: int, high: int) -> int:
    if raw is None:
        return 0
    value: Any = raw
    if isinstance(raw, str):
        try:
            value = int(raw.strip())
        except ValueError:
            raise OtlpDecodeError(f"{path}: not an integer") from None
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    if isinstance(value, bool) or not isinstance(value, int):
        raise OtlpDecodeError(f"{path}: not an integer")
    if not low <= value <= high:
        raise OtlpDecodeError(f"{path}: out of range")
    return value


def _uint64(raw: Any, path: str) -> int:
    return _integer(raw, path, 0, 2**64 - 1)


def _int64(raw: Any, path: str) -> int:
    return _integer(raw, path, -(2**63), 2**63 - 1)


def _enum(names: Mapping[str, int]) -> Check:
    """An enum: its number (unknown numbers kept, as protobuf does) or its name."""

    def check(raw: Any, path: str) -> int:
        if isinstance(raw, str) and not raw.strip().lstrip("-").isdigit():
            if raw not in names:
                raise OtlpDecodeError(f"{path}: unknown value {raw[:100]!r}")
            return names[raw]
        return _integer(raw, path, -(2**31), 2**31 - 1)

    return check


def _double(raw: Any, path: str) -> float:
    if isinstance(raw, str) and raw in ("NaN", "Infinity", "-Infinity"):
        return float(raw.replace("Infinity", "inf"))
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise OtlpDecodeError(f"{path}: not a number")
    return float(raw)


def _bool(raw: Any, path: str) -> bool:
    if not isinstance(raw, bool):
        raise OtlpDecodeError(f"{path}: not a boolean")
    return raw


def _base64(raw: Any, path: str) -> str:
    text = _string(raw, path).replace("-", "+").replace("_", "/").rstrip("=")
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise OtlpDecodeError(f"{path}: not base64") from None
    return base64.b64encode(decoded).decode("ascii")


def _any_value(raw: Any, path: str, depth: int = 0) -> Dict:
    if type(raw) is dict and len(raw) == 1:  # the usual value: one well-typed scalar
        ((key, item),) = raw.items()
        if type(item) is _PLAIN.get(key) and (
            key != "intValue" or _INT64_MIN <= raw[key] <= _INT64_MAX
        ):
            return {key: item}
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise OtlpDecodeError(f"{path}: must be an object")
    present = [
        (key, name) for key, names in _ANY_KEYS for name in names if raw.get(name) is not None
    ]
    if not present:
        return {}
    if len(present) > 1:
        raise OtlpDecodeError(f"{path}: more than one of {', '.join(n for _, n in present)}")
    key, name = present[0]
    inner, item = _where(path, key), raw[name]
    if key in _SCALARS:
        return {key: _SCALARS[key](item, inner)}
    if depth >= MAX_NESTING:
        raise OtlpDecodeError(f"{inner}: AnyValue nested deeper than {MAX_NESTING} levels")
    if not isinstance(item, dict):
        raise OtlpDecodeError(f"{inner}: must be an object")
    items, inner = _list(item.get("values"), f"{inner}.values"), f"{inner}.values"
    if key == "arrayValue":
        return {key: {"values": [_any_value(v, f"{inner}[{n}]", depth + 1) for n, v in items]}}
    return {key: {"values": [_key_value(v, f"{inner}[{n}]", depth + 1) for n, v in items]}}


def _list(raw: Any, path: str) -> list[tuple[int, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise OtlpDecodeError(f"{path}: must be an array")
    return list(enumerate(raw))


def _key_value(raw: Any, path: str, depth: int = 0) -> Dict:
    if not isinstance(raw, dict):
        raise OtlpDecodeError(f"{path}: must be an object")
    key = raw.get("key")
    return {
        "key": key if type(key) is str else _string(key, f"{path}.key"),
        "value": _any_value(raw.get("value"), f"{path}.value", depth),
    }


_SCALARS: dict[str, Check] = {
    "stringValue": _string,
    "boolValue": _bool,
    "intValue": _int64,
    "doubleValue": _double,
    "bytesValue": _base64,
}
# Each AnyValue key and the names a JSON body may give it (proto3 JSON: both spellings).
#: Scalars whose JSON form is already their value (checked first, without the general walk).
_PLAIN = {"stringValue": str, "boolValue": bool, "doubleValue": float, "intValue": int}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_ANY_KEYS = tuple(
    (key, (key, re.sub("([A-Z])", r"_\1", key).lower()))
    for key in (*_SCALARS, "arrayValue", "kvlistValue")
)
_SPAN_KINDS = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
_STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_ATTRIBUTES = ("attributes", "", _repeated(_key_value))
_STATUS = (("code", "", _enum(_STATUS_CODES)), ("message", "", _string))
_EVENT = (("timeUnixNano", "time_unix_nano", _uint64), ("name", "", _string), _ATTRIBUTES)
_LINK = (("traceId", "trace_id", _hex_id), ("spanId", "span_id", _hex_id), _ATTRIBUTES)
_SPAN = (
    ("traceId", "trace_id", _hex_id),
    ("spanId", "span_id", _hex_id),
    ("parentSpanId", "parent_span_id", _hex_id),
    ("name", "", _string),
    ("kind", "", _enum(_SPAN_KINDS)),
    ("startTimeUnixNano", "start_time_unix_nano", _uint64),
    ("endTimeUnixNano", "end_time_unix_nano", _uint64),
    _ATTRIBUTES,
    ("events", "", _repeated(_object(lambda: _EVENT))),
    ("links", "", _repeated(_object(lambda: _LINK))),
    ("status", "", _object(lambda: _STATUS)),
)
_SCOPE = (("name", "", _string), ("version", "", _string))
_SCOPE_SPANS = (
    ("scope", "", _object(lambda: _SCOPE)),
    ("spans", "", _repeated(_object(lambda: _SPAN))),
)
_RESOURCE_SPANS = (
    ("resource", "", _object(lambda: (_ATTRIBUTES,))),
    ("scopeSpans", "scope_spans", _repeated(_object(lambda: _SCOPE_SPANS))),
)
_REQUEST = (("resourceSpans", "resource_spans", _repeated(_object(lambda: _RESOURCE_SPANS))),)
