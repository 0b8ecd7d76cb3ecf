"""Reading provider answers defensively: parsed JSON or the SDKs' response objects.

A provider's JSON is not trusted to have the documented shape (a count may be a string, a
list may be missing), and an SDK object is read only by the field names the providers
document, by attribute, never by calling anything else on it.
"""

from __future__ import annotations

import functools
from typing import Any

# JSON values that are not objects: a field is never read off them (by type: no subclass
# of these holds a provider's field, and ``type()`` cannot run an object's own code).
_LEAVES = frozenset({type(None), str, bytes, int, float, bool, list, tuple})
_ABSENT = object()


def field(obj: Any, name: str) -> Any:
    """``obj[name]`` of a dict, ``obj.name`` of an SDK object, None for anything else.

    Never raises: a field is data, and an object whose reading fails has none.
    """
    kind = type(obj)
    if kind is dict:
        return obj.get(name)
    if kind in _LEAVES:
        return None
    try:
        if getattr(kind, "__pydantic_fields__", None) is not None:
            found = obj.__dict__.get(name, _ABSENT)  # a declared field: the common case
            return found if found is not _ABSENT else _undeclared(obj, name)
        return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    except Exception:
        return None


def _undeclared(model: Any, name: str) -> Any:
    """A pydantic (v2) model's field that is not declared: one the provider sent beyond the
    SDK's (in ``__pydantic_extra__``), or a property.

    Declared fields are read from the model's ``__dict__`` and these from where they live,
    rather than by ``getattr``: a field the answer lacks would cost ``getattr`` a raised and
    caught AttributeError (microseconds), on the caller's thread.
    """
    extra = model.__pydantic_extra__
    if type(extra) is dict and name in extra:
        return extra[name]
    kind: type = type(model)
    if name in _class_attributes(kind):
        return getattr(model, name, None)  # a property or class attribute: as getattr reads it
    return None


@functools.lru_cache(maxsize=256)
def _class_attributes(kind: type) -> frozenset[str]:
    return frozenset(name for klass in kind.__mro__ for name in vars(klass))


def is_record(obj: Any) -> bool:
    """Whether ``obj`` may hold named fields (a dict or an SDK object)."""
    return type(obj) not in _LEAVES


def items(obj: Any, name: str) -> list[Any]:
    """The list in ``obj``'s field ``name``, or empty."""
    value = field(obj, name)
    return value if isinstance(value, list) else []


def count(value: Any) -> int | None:
    """A token count: an int (not a bool, nor an int subclass's own code), else unknown."""
    return value if type(value) is int else None


def text(value: Any) -> str:
    """A text piece: a str, else empty."""
    return value if isinstance(value, str) else ""
