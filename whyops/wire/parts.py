"""The cattrs converter that gives the records' parts their wire form.

Token usage and thinking blocks have theirs in :mod:`whyops.wire.usage` and
:mod:`whyops.wire.shape` (the proxy writes them too); the converter registers those, and
generates the ``error`` content of an :class:`ExceptionInfo`: fields become camelCase keys,
unknown (None) fields are left out rather than sent as null. :mod:`whyops.wire.encode`
imports this module on first use, which is on the flusher thread: importing cattrs costs
about as much as all of ``import whyops``, and neither that import nor ``configure()``
should pay for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from whyops.wire.records import ExceptionInfo, ThinkingBlock, TokenUsage
from whyops.wire.shape import thinking_content
from whyops.wire.usage import usage_wire

if TYPE_CHECKING:
    from cattrs.gen import AttributeOverride

__all__ = ["CONVERTER", "exception_content"]

CONVERTER = cattrs.Converter()


def _camel(name: str) -> str:
    # Only the first letter of each part is raised (``title()`` would turn ``5m`` into ``5M``).
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def _unstructure_fn(cls: type, **overrides: AttributeOverride) -> Callable[[Any], dict[str, Any]]:
    """A generated ``cls -> dict`` with camelCase keys that omits fields left at default."""
    renamed: dict[str, Any] = {f.name: override(rename=_camel(f.name)) for f in attrs.fields(cls)}
    renamed.update(overrides)
    return make_dict_unstructure_fn(cls, CONVERTER, _cattrs_omit_if_default=True, **renamed)


#: ``{"type", "stack", "originSpanId"}``: a stack only in the span the exception was raised
#: in. ``message`` is left to the caller: on the wire it reads "<Type>: <message>".
exception_content: Callable[[ExceptionInfo], dict[str, Any]] = _unstructure_fn(
    ExceptionInfo, message=override(omit=True), traceback=override(rename="stack")
)


CONVERTER.register_unstructure_hook(TokenUsage, usage_wire)
CONVERTER.register_unstructure_hook(ThinkingBlock, thinking_content)
CONVERTER.register_unstructure_hook(ExceptionInfo, exception_content)
