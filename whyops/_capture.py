"""Captured values as JSON-safe data, made on the flusher thread.

On the caller's thread, :func:`whyops._snapshot.snapshot` freezes what the limits keep of
a value. Everything it kept by reference is turned into JSON-safe data here by
:func:`to_json_safe`, which never raises: whatever user code it runs (``__repr__``,
``__str__``, properties) raises, ``BaseException`` included, spoils only that value.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import math
import re
import uuid
from collections import deque
from collections.abc import Mapping
from decimal import Decimal
from itertools import islice
from pathlib import PurePath
from typing import Any

import attrs

from whyops._config import DEFAULT_LIMITS, Limits
from whyops._exception_capture import raw_message
from whyops._snapshot import Cut, Truncated, cut_text, snapshot

__all__ = ["REDACTED", "Truncated", "snapshot", "to_json_safe"]

REDACTED = "[redacted]"
CYCLE = "<cycle>"

_SECRET_KEY = re.compile(
    r"(?:^|_)(?:api_?key|apikey|x_api_key|secret|secret_key|client_secret|access_key|"
    r"private_key|password|passwd|passphrase|authorization|auth|auth_token|token|"
    r"access_token|refresh_token|id_token|bearer|cookie|set_cookie|credentials?|"
    r"session_?id|session_token)$"
)
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_SECRET_VALUE = re.compile(
    r"(?:Bearer\s+\S{8,}|sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{20,}|gh[pousr]_[A-Za-z0-9]{30,})"
)


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a credential (``api_key``, ``Authorization``, ...)."""
    normal = _CAMEL.sub(r"\1_\2", key).lower().replace("-", "_").replace(" ", "_")
    return _SECRET_KEY.search(normal) is not None


def _safe_repr(value: Any, limits: Limits) -> str:
    try:
        text = repr(value)
    except BaseException:
        return f"<unrepresentable {_type_name(value)}>"
    if not isinstance(text, str):
        return f"<unrepresentable {_type_name(value)}>"
    return _cut(text, limits.max_string_length)


def _type_name(value: Any) -> str:
    try:
        return str(type(value).__qualname__)
    except BaseException:
        return "object"


_cut = cut_text


_SCALARS = frozenset({float, bool, type(None)})
# Ints past 64 bits become text: JSON readers lose their precision anyway, and ``json``
# refuses to write ints longer than ``sys.get_int_max_str_digits()`` (4300 by default).
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
_BIG_INT_TEXT_BITS = 2_000  # ~600 digits: under the lowest digit limit Python allows


def _int(value: int) -> int | str:
    if _INT_MIN <= value <= _INT_MAX:
        return value
    bits = value.bit_length()
    return str(value) if bits <= _BIG_INT_TEXT_BITS else f"<int: {bits} bits>"


class _Converter:
    """One conversion: remembers the containers on the current path to spot cycles.

    Paths (for the redaction hook) are only built when there is a hook.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.hook = limits.redact
        self.path_ids: set[int] = set()

    def convert(self, value: Any, depth: int, path: tuple[Any, ...]) -> Any:
        try:  # per element: one bad leaf must not blank its whole container
            out = self._convert(value, depth, path)
        except RecursionError:
            raise
        except BaseException:  # user code: even a KeyboardInterrupt spoils only this value
            out = f"<unrepresentable {_type_name(value)}>"
        if self.hook is not None and (out is None or isinstance(out, (str, int, float, bool))):
            try:
                out = self.hook(path, out)
            except BaseException:
                out = REDACTED
        return out

    def _convert(self, value: Any, depth: int, path: tuple[Any, ...]) -> Any:
        kind = type(value)
        if kind is str:
            return self._string(value)
        if kind is int:
            return _int(value)
        if kind in _SCALARS:
            return value if kind is not float or math.isfinite(value) else str(value)
        if kind is Cut:  # cut when snapshotted
            return value.text()
        if isinstance(value, enum.Enum):
            value = value.value
        if isinstance(value, str):
            return self._string(str(value))
        if isinstance(value, (bool, int)):
            return value if isinstance(value, bool) else _int(int(value))
        if isinstance(value, float):
            return float(value) if math.isfinite(value) else str(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return f"<bytes len={len(value)}>"
        if depth > self.limits.max_depth:
            return f"<max depth: {_type_name(value)}>"
        if id(value) in self.path_ids:
            return CYCLE
        self.path_ids.add(id(value))
        try:
            return self._container(value, depth, path)
        finally:
            self.path_ids.discard(id(value))

    def _string(self, value: str) -> str:
        if self.limits.mask_secrets and 8 < len(value) < 512 and _SECRET_VALUE.fullmatch(value):
            return REDACTED
        return _cut(value, self.limits.max_string_length)

    def _container(self, value: Any, depth: int, path: tuple[Any, ...]) -> Any:
        kind = type(value)
        if kind is dict:
            return self._mapping(value, len(value), depth, path)
        if kind is list or kind is tuple:
            return self._sequence(value, depth, path)
        if kind is Truncated:
            return self._truncated(value, depth, path)
        if isinstance(value, Mapping):
            return self._mapping(value, len(value), depth, path)
        if isinstance(value, (list, tuple, set, frozenset, deque)):
            return self._sequence(value, depth, path)
        return self._object(value, depth, path)

    def _truncated(self, value: Truncated, depth: int, path: tuple[Any, ...]) -> Any:
        if isinstance(value.items, dict):
            return self._mapping(value.items, value.original_size, depth, path)
        return self._sequence(value.items, depth, path, value.original_size)

    def _mapping(self, value: Any, size: int, depth: int, path: tuple[Any, ...]) -> Any:
        out: dict[str, Any] = {}
        limits = self.limits
        mask, hooked = limits.mask_secrets, self.hook is not None
        # islice: a huge mapping is never listed whole (the GIL would stall the caller).
        for key, item in islice(value.items(), limits.max_items):
            name = key if type(key) is str else self._key(key)
            if mask and item is not None and is_secret_key(name):
                out[name] = REDACTED
            else:
                out[name] = self.convert(item, depth + 1, (*path, name) if hooked else path)
        if size > limits.max_items and "…" not in out:
            out["…"] = f"[truncated, {size - limits.max_items} more keys of {size}]"
        return out

    def _key(self, key: Any) -> str:
        if isinstance(key, enum.Enum):
            key = key.value
        return key if isinstance(key, str) else _safe_repr(key, self.limits)

    def _sequence(
        self, value: Any, depth: int, path: tuple[Any, ...], size: int | None = None
    ) -> list[Any]:
        limit = self.limits.max_items
        hooked = self.hook is not None
        items = []
        for index, item in enumerate(value):
            if index >= limit:
                break
            items.append(self.convert(item, depth + 1, (*path, index) if hooked else path))
        total = len(value) if size is None else size
        if total > limit:
            items.append(f"…[truncated, {total - limit} items]")
        return items

    def _object(self, value: Any, depth: int, path: tuple[Any, ...]) -> Any:
        if isinstance(value, BaseException):
            return _exception_text(value, self.limits.max_string_length)
        plain = _plain_form(value)
        if plain is _NO_FORM:
            return _safe_repr(value, self.limits)
        if type(plain) is str:  # str() of an object: as long as it likes, so cut here
            return self._string(plain)
        return self.convert(plain, depth + 1, path)


_NO_FORM = object()


def _exception_text(exc: BaseException, limit: int) -> str:
    """``Type: message`` with the message cut to ``limit`` before it is copied."""
    message = raw_message(exc)
    text = f"{type(exc).__name__}: {message[:limit]}"
    if len(message) <= limit:
        return text
    return f"{text}…[truncated {len(message) - limit} chars]"


def _plain_form(value: Any) -> Any:
    """A builtin equivalent of a well-known object type, or ``_NO_FORM``."""
    try:
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
            return value.isoformat()
        if isinstance(value, (uuid.UUID, Decimal, PurePath, datetime.timedelta)):
            return str(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
        if attrs.has(type(value)):
            return {f.name: getattr(value, f.name, None) for f in attrs.fields(type(value))}
        dump = getattr(type(value), "model_dump", None)
        if callable(dump):
            return value.model_dump()
    except BaseException:
        return _NO_FORM
    return _NO_FORM


_FAST_LEAVES = frozenset({bool, type(None)})


def _already_plain(value: Any, limits: Limits, depth: int = 0) -> bool:
    """True when ``value`` is small, plain JSON that conversion would return unchanged.

    The common case on the flusher (a few ints and short strings) then costs one loop
    instead of a full conversion. Plain loops: measurably faster than ``all()`` here.
    """
    kind = type(value)
    if kind is int:
        return _INT_MIN <= value <= _INT_MAX
    if kind in _FAST_LEAVES:
        return True
    if kind is str:
        return len(value) <= 8 or (
            len(value) <= limits.max_string_length
            and not (limits.mask_secrets and len(value) < 512 and _SECRET_VALUE.fullmatch(value))
        )
    if depth >= 2 or (kind is not dict and kind is not list) or len(value) > limits.max_items:
        return False
    # Ints, bools and None are answered inline: no call per item for the usual values.
    if kind is list:
        for item in value:
            if type(item) is int:
                if not _INT_MIN <= item <= _INT_MAX:
                    return False
            elif type(item) not in _FAST_LEAVES and not _already_plain(item, limits, depth + 1):
                return False
        return True
    mask = limits.mask_secrets
    for key, item in list(value.items()):
        if type(key) is not str or (mask and is_secret_key(key)):
            return False
        if type(item) is int:
            if not _INT_MIN <= item <= _INT_MAX:
                return False
        elif type(item) not in _FAST_LEAVES and not _already_plain(item, limits, depth + 1):
            return False
    return True


def to_json_safe(value: Any, limits: Limits = DEFAULT_LIMITS, path: tuple[Any, ...] = ()) -> Any:
    """A JSON-serialisable copy of ``value`` within ``limits``; never raises."""
    try:
        if limits.redact is None and _already_plain(value, limits):
            return value
    except BaseException:
        pass
    try:
        return _Converter(limits).convert(value, 0, path)
    except RecursionError:
        return "<too deep>"
    except BaseException:
        return f"<unrepresentable {_type_name(value)}>"
