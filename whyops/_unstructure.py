"""The cattrs converter that gives the model records their wire form.

Fields become camelCase keys; unknown (None) fields are left out rather than sent as null.
:mod:`whyops.wire` imports this module on first use, which is on the flusher thread:
importing cattrs costs about as much as all of ``import whyops``, and neither that import
nor ``configure()`` should pay for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from whyops.models import ExceptionInfo, ThinkingBlock, TokenUsage

if TYPE_CHECKING:
    from cattrs.gen import AttributeOverride

__all__ = ["CONVERTER", "exception_content", "thinking_content", "usage_dict"]

CONVERTER = cattrs.Converter()


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def _unstructure_fn(cls: type, **overrides: AttributeOverride) -> Callable[[Any], dict[str, Any]]:
    """A generated ``cls -> dict`` with camelCase keys that omits fields left at default."""
    renamed: dict[str, Any] = {f.name: override(rename=_camel(f.name)) for f in attrs.fields(cls)}
    renamed.update(overrides)
    return make_dict_unstructure_fn(cls, CONVERTER, _cattrs_omit_if_default=True, **renamed)


#: ``{"promptTokens", "completionTokens", "totalTokens", "cacheReadTokens",
#: "cacheCreationTokens"}``, with only the counts that are known.
usage_dict: Callable[[TokenUsage], dict[str, int]] = _unstructure_fn(TokenUsage)

_visible_thinking = _unstructure_fn(
    ThinkingBlock,
    text=override(rename="thinking", omit_if_default=False, unstruct_hook=lambda t: t or ""),
    redacted_data=override(omit=True),
)
_redacted_thinking = _unstructure_fn(
    ThinkingBlock,
    text=override(omit=True),
    signature=override(omit=True),
    redacted_data=override(rename="data"),
)
#: ``{"type", "stack", "originSpanId"}``: a stack only in the span the exception was raised
#: in. ``message`` is left to the caller: on the wire it reads "<Type>: <message>".
exception_content: Callable[[ExceptionInfo], dict[str, Any]] = _unstructure_fn(
    ExceptionInfo, message=override(omit=True), traceback=override(rename="stack")
)


def thinking_content(block: ThinkingBlock) -> dict[str, Any]:
    """``{"type": "thinking", "thinking", "signature"}`` or ``{"type": "redacted_thinking",
    "data"}``."""
    if block.redacted_data is not None:
        return {"type": "redacted_thinking", **_redacted_thinking(block)}
    if block.signature == "":
        block = attrs.evolve(block, signature=None)
    return {"type": "thinking", **_visible_thinking(block)}


CONVERTER.register_unstructure_hook(TokenUsage, usage_dict)
CONVERTER.register_unstructure_hook(ThinkingBlock, thinking_content)
CONVERTER.register_unstructure_hook(ExceptionInfo, exception_content)
