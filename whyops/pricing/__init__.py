"""Model prices and what a call cost: ``PriceTable.load(path).cost(provider, model, usage)``.

Pure (the standard library and ``whyops.wire``): the server loads it, the SDK never does.
"""

from __future__ import annotations

from whyops.pricing.cost import Cost, Counts
from whyops.pricing.table import Price, PriceTable

__all__ = ["Cost", "Counts", "Price", "PriceTable"]
