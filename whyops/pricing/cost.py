"""What one call cost: its token counts times a price row (see docs/cost.md for the formula).

The providers count a prompt differently: OpenAI's ``prompt_tokens`` (``input_tokens`` in
the Responses API) includes the cached and cache-written tokens, Anthropic's ``input_tokens``
excludes both. The wire ``usage`` keeps each provider's count as it was reported, and its
``totalTokens`` follows the same convention (OpenAI: prompt + completion; Anthropic: input +
cache reads + cache writes + output), which tells the two apart when the provider does not.
Both providers count reasoning (thinking) tokens inside the output count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from whyops.wire.usage import MAX_TOKENS, PROMPT_EXCLUDES_CACHE, USAGE_KEYS

if TYPE_CHECKING:
    from whyops.pricing.table import Price

__all__ = ["PARTS", "Cost", "Counts", "Rates", "compute", "cost_usd", "counts_of_usage", "rates"]


class Cost(NamedTuple):
    """A call's cost in USD, the price-table version that priced it, and its parts in USD
    (``input``, ``cacheRead``, ``cacheWrite5m``, ``cacheWrite1h``, ``output``, ``reasoning``)."""

    usd: float
    version: str
    parts: dict[str, float]


class Counts(NamedTuple):
    """One call's token counts as reported (None: not reported), in the order of the wire
    layer's ``USAGE_KEYS``."""

    prompt: int | None = None
    completion: int | None = None
    total: int | None = None
    cache_read: int | None = None
    cache_creation: int | None = None
    write_5m: int | None = None
    write_1h: int | None = None
    reasoning: int | None = None


def counts_of_usage(usage: Any) -> Counts | None:
    """The counts of a wire ``usage`` dict, read as the server's token columns are (an alias
    only when the main key is absent); None when it holds none."""
    if type(usage) is not dict:
        return None
    counts: list[int | None] = []
    for _, keys in USAGE_KEYS:
        key = next((key for key in keys if usage.get(key) is not None), keys[0])
        value = usage.get(key)
        counts.append(value if type(value) is int and 0 <= value <= MAX_TOKENS else None)
    found = Counts(*counts)
    # A reasoning count alone has nothing to price (it is part of the output count); the
    # ingest's ``has_tokens`` agrees.
    return found if any(n is not None for n in found._replace(reasoning=None)) else None


def prompt_includes_cache(
    provider: str, prompt: int | None, completion: int | None, total: int | None, cached: int
) -> bool:
    """Whether ``prompt`` includes the ``cached`` tokens (read or written): told by the total
    when the two conventions give different totals, else by the provider's convention (the
    wire layer's :data:`PROMPT_EXCLUDES_CACHE`; any other provider counts as OpenAI does)."""
    if cached and total is not None and prompt is not None:
        plain = prompt + (completion or 0)
        if total == plain:
            return True
        if total == plain + cached:
            return False
    return provider not in PROMPT_EXCLUDES_CACHE


# The parts of a call, in the order of split_tokens() and rates().
PARTS = ("input", "cacheRead", "cacheWrite5m", "cacheWrite1h", "output", "reasoning")


def split_tokens(provider: str, counts: Sequence[int | None]) -> tuple[int, ...]:
    """A call's ``counts`` (a :class:`Counts`, or a plain tuple in its order on the ingest's
    path) by what they are billed as (:data:`PARTS`): fresh input, cache reads, 5-minute and
    1-hour cache writes, output other than reasoning, reasoning."""
    prompt, completion, total, cache_read, cache_creation, write_5m, write_1h, reasoning = counts
    read = cache_read or 0
    long_lived = write_1h or 0
    # Cache writes not split by lifetime are 5-minute ones (Anthropic's default).
    short_lived = max(cache_creation or 0, (write_5m or 0) + long_lived) - long_lived
    fresh = prompt or 0
    cached = read + short_lived + long_lived
    if cached and prompt_includes_cache(provider, prompt, completion, total, cached):
        fresh = max(fresh - cached, 0)
    output = completion or 0
    thinking = min(reasoning or 0, output)
    return fresh, read, short_lived, long_lived, output - thinking, thinking


Rates = tuple[float, float, float, float, float, float]


def rates(price: Price, *, batch: bool = False) -> Rates:
    """The price of each of :data:`PARTS` per ``price.per`` tokens: a cache or reasoning
    price left empty falls back to the input (cache writes: the 5-minute write) or output
    price; ``batch`` takes the batch input and output prices where the row has them."""
    input_price, output_price = price.input, price.output
    if batch:
        input_price = _or(price.batch_input, input_price)
        output_price = _or(price.batch_output, output_price)
    write_5m = _or(price.cache_write_5m, input_price)
    return (
        input_price,
        _or(price.cached_input, input_price),
        write_5m,
        _or(price.cache_write_1h, write_5m),
        output_price,
        _or(price.reasoning, output_price),  # billed as output unless priced apart
    )


def compute(price: Price, counts: Counts, version: str, *, batch: bool = False) -> Cost:
    """The cost of ``counts`` at ``price``, with its parts (formula: docs/cost.md)."""
    tokens = split_tokens(price.provider, counts)
    parts = {
        name: n * rate / price.per
        for name, n, rate in zip(PARTS, tokens, rates(price, batch=batch), strict=True)
        if n
    }
    return Cost(sum(parts.values()), version, parts)


def cost_usd(price: Price, r: Rates, counts: Sequence[int | None]) -> float:
    """:func:`compute`'s total alone, at ``r = rates(price)``, without the parts: the
    ingest's path, once per call (``counts`` as :func:`split_tokens` takes them)."""
    prompt, completion, _, cache_read, cache_creation, write_5m, write_1h, reasoning = counts
    if not (cache_read or cache_creation or write_5m or write_1h or reasoning):
        # Nothing cached and no reasoning (most calls): input and output only.
        return ((prompt or 0) * r[0] + (completion or 0) * r[4]) / price.per
    fresh, read, short_lived, long_lived, output, thinking = split_tokens(price.provider, counts)
    return (
        fresh * r[0] + read * r[1] + short_lived * r[2] + long_lived * r[3] + output * r[4]
        + thinking * r[5]
    ) / price.per  # fmt: skip


def _or(value: float | None, default: float) -> float:
    return default if value is None else value
