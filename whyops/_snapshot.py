"""Snapshots of captured values, taken on the caller's thread: bounded in time and memory.

A snapshot freezes what the limits will keep of a value as it is at call time: builtin
containers (and their subclasses: ``defaultdict``, ``OrderedDict``, ``Counter``, list
subclasses, tuples holding lists) are copied level by level, at most ``max_items`` items
each (``itertools.islice``: a 10M-key dict costs what a 200-key one does), down to
``max_depth``, and at most ``_ITEM_BUDGET`` items in all. Strings past
``max_string_length`` are cut here (subclasses of ``str`` and ``bytes`` too), so a span
never keeps a 100 MB argument alive, and bytes past it become ``<bytes len=N>``. Other
objects are kept by reference and turned into JSON on the flusher thread
(:mod:`whyops._capture`).

While copying, a snapshot adds up a cheap estimate of the bytes it keeps (string and
bytes lengths plus a fixed cost per item): the span's ``approx_bytes``, which the export
queue's byte budget counts. User code a snapshot runs (``__len__``, ``items`` of a dict
subclass) that raises anything, ``BaseException`` included, spoils only that value.
"""

from __future__ import annotations

import operator
from collections import deque
from itertools import islice
from typing import Any

import attrs

from whyops._config import Limits

__all__ = [
    "Cut",
    "Snapshot",
    "Truncated",
    "bytes_text",
    "cut_text",
    "exception_bytes",
    "freeze",
    "snapshot",
    "type_name",
]

# Costs an estimate counts per value beyond its text: the object headers of a small value
# and of a container slot. Rough on purpose: the estimate must cost next to nothing.
_LEAF_BYTES = 32
_ITEM_BYTES = 16
_REFERENCE_BYTES = 64  # an object kept by reference: converted (and cut) on the flusher
# Items copied in all by one snapshot: past it, containers are kept by reference.
_ITEM_BUDGET = 2_000
_LEAVES = frozenset({int, float, bool, type(None), complex})
_BYTES = frozenset({bytes, bytearray, memoryview})


@attrs.frozen(slots=True)
class Truncated:
    """The first items of a container too large to copy whole on the caller's thread."""

    items: list[Any] | dict[Any, Any]
    original_size: int


@attrs.frozen(slots=True)
class Cut:
    """The first characters of a string too long to keep whole (one copy of them)."""

    head: str
    original_size: int

    def text(self) -> str:
        """What the wire shows: the head and how many characters were left out."""
        return f"{self.head}…[truncated {self.original_size - len(self.head)} chars]"


def cut_text(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` characters and how many more there were."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[truncated {len(text) - limit} chars]"


def bytes_text(size: int) -> str:
    """What the wire shows of a bytes-like value: its length only."""
    return f"<bytes len={size}>"


class Snapshot:
    """One or more values frozen under the same limits; ``size`` sums their estimates."""

    __slots__ = ("budget", "max_chars", "max_depth", "max_items", "size")

    def __init__(self, limits: Limits) -> None:
        self.max_chars = limits.max_string_length
        self.max_items = limits.max_items
        self.max_depth = limits.max_depth
        self.budget = _ITEM_BUDGET
        self.size = 0

    def take(self, value: Any) -> Any:
        """The frozen form of ``value``; never raises."""
        try:
            return self._value(value, 0)
        except BaseException:  # user code (a __len__, an items()) must not reach the caller
            self.size += _LEAF_BYTES
            return f"<unrepresentable {type_name(value)}>"

    def _value(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            return self._text(value)
        if kind in _LEAVES:
            self.size += _LEAF_BYTES
            return value
        if kind in _BYTES:
            return self._bytes(value)
        if depth >= self.max_depth or self.budget <= 0:
            self.size += _REFERENCE_BYTES
            return value
        # issubclass on the type, not isinstance: isinstance may read a user __class__.
        if issubclass(kind, dict):
            return self._mapping(value, depth)
        if issubclass(kind, (list, tuple, deque)):
            return self._sequence(value, depth)
        if issubclass(kind, (set, frozenset)):
            return self._set(value, depth)
        if issubclass(kind, BaseException):
            self.size += exception_bytes(value)
            return value
        if issubclass(kind, (str, bytes, bytearray)):  # subclasses: kept as they are unless big
            return self._big_subclass(value, kind)
        self.size += _REFERENCE_BYTES
        return value

    def _big_subclass(self, value: Any, kind: type) -> Any:
        """A str/bytes subclass (a ``StrEnum``, say) kept by reference while it is within the
        string limit, cut like its base class past it: never a whole 100 MB value alive."""
        base = str if issubclass(kind, str) else bytes
        size = base.__len__(value)
        if size <= self.max_chars:
            self.size += size + _REFERENCE_BYTES
            return value
        self.size += _LEAF_BYTES
        if base is bytes:
            return bytes_text(size)
        self.size += self.max_chars
        return Cut(str.__getitem__(value, slice(0, self.max_chars)), size)

    def _text(self, value: str) -> str | Cut:
        size = len(value)
        if size <= self.max_chars:
            self.size += size + _LEAF_BYTES
            return value
        self.size += self.max_chars + _LEAF_BYTES
        return Cut(value[: self.max_chars], size)

    def _bytes(self, value: Any) -> Any:
        size = value.nbytes if type(value) is memoryview else len(value)
        self.size += _LEAF_BYTES
        if size > self.max_chars or type(value) is memoryview:
            return bytes_text(size)  # never keep (or pin) a big buffer
        self.size += size
        return bytes(value) if type(value) is bytearray else value

    def _mapping(self, value: Any, depth: int) -> Any:
        size = dict.__len__(value)
        taken = min(size, self.max_items)
        self.budget -= taken
        self.size += _ITEM_BYTES * 2 * taken
        items = value.items() if type(value) is not dict else dict.items(value)
        copy = {key: self._value(item, depth + 1) for key, item in islice(items, taken)}
        return copy if size <= taken else Truncated(copy, size)

    def _sequence(self, value: Any, depth: int) -> Any:
        size = len(value)
        taken = min(size, self.max_items)
        self.budget -= taken
        self.size += _ITEM_BYTES * taken
        copy = list(value) if size <= taken else list(islice(value, taken))
        for index, item in enumerate(copy):  # what most items are is settled without a call
            kind = type(item)
            if kind in _LEAVES:
                continue
            if kind is str and len(item) <= self.max_chars:
                self.size += len(item)
                continue
            copy[index] = self._value(item, depth + 1)
        if size > taken:
            return Truncated(copy, size)
        if type(value) is tuple and all(map(operator.is_, copy, value)):
            return value  # nothing mutable inside: the tuple itself is the snapshot
        return copy

    def _set(self, value: Any, depth: int) -> Any:
        size = len(value)
        taken = min(size, self.max_items)
        self.budget -= taken
        self.size += _ITEM_BYTES * taken
        copy = [self._value(item, depth + 1) for item in islice(value, taken)]
        return copy if size <= taken else Truncated(copy, size)


def exception_bytes(exc: BaseException) -> int:
    """The text an exception kept by reference holds: its string arguments."""
    try:
        args = BaseException.__dict__["args"].__get__(exc)  # no user property on the way
        return _REFERENCE_BYTES + sum(len(a) for a in args if type(a) in (str, bytes))
    except BaseException:
        return _REFERENCE_BYTES


def type_name(value: Any) -> str:
    """The name of ``value``'s type, whatever its class does."""
    try:
        return str(type(value).__qualname__)
    except BaseException:
        return "object"


def snapshot(value: Any, limits: Limits) -> Any:
    """The frozen form of one value (see :class:`Snapshot`)."""
    return Snapshot(limits).take(value)


def freeze(value: Any, limits: Limits) -> tuple[Any, int]:
    """The frozen form of one value and its size estimate.

    A small flat list or dict of numbers and short strings (the usual argument) is copied
    in one call, without the walk.
    """
    kind = type(value)
    if kind is list or kind is dict:
        size = len(value)
        if size <= limits.max_items:
            copy = value.copy()
            size *= _ITEM_BYTES * 2
            max_chars = limits.max_string_length
            for item in copy if kind is list else copy.values():
                item_kind = type(item)
                if item_kind in _LEAVES:
                    continue
                if item_kind is not str or len(item) > max_chars:
                    break
                size += len(item)
            else:
                return copy, size
    taker = Snapshot(limits)
    return taker.take(value), taker.size
