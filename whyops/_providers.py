"""Usage, thinking, model and provider from objects that provider SDKs return.

The reading itself is the wire package's (``whyops.wire.shape``, ``whyops.wire.usage``),
shared with the proxy. A response is recognised by its class (``anthropic.types.Message``,
OpenAI's ``ChatCompletion`` and ``Response``), looked up in ``sys.modules``: never
imported, and never by reading attributes of arbitrary objects (a lazy property, a
DataFrame column). Plain dicts are recognised by their ``object``/``type`` keys. Spans only
ask this of what LLM and embedding spans return (see ``Span._set_result``). Every function
returns None for anything else.
"""

from __future__ import annotations

from typing import Any

import attrs

from whyops.wire.records import ThinkingBlock, TokenUsage
from whyops.wire.shape import shape_of
from whyops.wire.usage import add_usage, usage_of

__all__ = ["ProviderFacts", "add_usage", "extract", "usage_from"]


@attrs.frozen(slots=True)
class ProviderFacts:
    """What a returned provider object says about the call that produced it."""

    usage: TokenUsage | None = None
    thinking: tuple[ThinkingBlock, ...] = ()
    model: str | None = None
    provider: str | None = None


def usage_from(usage: Any) -> TokenUsage | None:
    """A :class:`TokenUsage` from an OpenAI or Anthropic ``usage`` object or dict."""
    return None if usage is None else usage_of(usage)


def extract(obj: Any) -> ProviderFacts | None:
    """Facts about a returned provider response, or None when ``obj`` is not one.

    Runs on the caller's thread: the ``llm_response`` content (tool calls, text) is left to
    the encoder, on the flusher thread (``whyops.wire.encode``, through the same shape).
    """
    shape = shape_of(obj)
    if shape is None:
        return None
    return ProviderFacts(
        usage=shape.usage(obj),
        thinking=shape.thinking(obj),
        model=shape.model(obj),
        provider=shape.provider,
    )
