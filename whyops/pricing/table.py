"""The price table: the shipped ``prices.csv``, then an override file's rows (``--prices``).

One row per (provider, model). A model id the table does not hold is resolved by
:func:`model_candidates` (dated snapshots, routing prefixes, fine-tuned ids); an id that still
matches nothing has no price: :meth:`PriceTable.price` answers None, never a zero.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import math
import re
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Any, NamedTuple

from whyops.pricing.cost import Cost, Rates, compute, counts_of_usage, rates

__all__ = ["COLUMNS", "Price", "PriceTable", "model_candidates"]

# The file's columns, in order (a file may list them in any order; ``note`` may be left out).
COLUMNS = (
    "provider", "model", "input", "output", "cached_input", "cache_write_5m", "cache_write_1h",
    "reasoning", "batch_input", "batch_output", "per", "currency", "effective", "source", "note",
)  # fmt: skip
_OPTIONAL_COLUMNS = frozenset({"note"})
_REQUIRED_PRICES = ("input", "output")
_OPTIONAL_PRICES = (
    "cached_input", "cache_write_5m", "cache_write_1h", "reasoning", "batch_input", "batch_output",
)  # fmt: skip
_CURRENCIES = frozenset({"USD"})
_SHIPPED = "prices.csv"
# Resolved (provider, model) lookups kept; past it the cache starts over (bounded memory).
_MAX_CACHED = 10_000

# A snapshot date at the end of a model id: gpt-4o-2024-08-06, claude-sonnet-4-5-20250929.
_DATED = re.compile(r"^(?P<base>.+?)-(?:\d{4}-\d{2}-\d{2}|\d{8})$")
_LATEST = "-latest"
_FINE_TUNED = "ft:"


class Price(NamedTuple):
    """One row: prices in ``currency`` per ``per`` tokens (None: not priced separately)."""

    provider: str
    model: str
    input: float
    output: float
    cached_input: float | None
    cache_write_5m: float | None
    cache_write_1h: float | None
    reasoning: float | None
    batch_input: float | None
    batch_output: float | None
    per: int
    currency: str
    effective: str
    source: str
    note: str


def model_candidates(model: str) -> Iterator[str]:
    """The ids a model id is looked up by, in order; the first one the table holds wins.

    1. the id as given; 2. without a routing prefix (``openai/gpt-4o`` -> ``gpt-4o``);
    3. a fine-tuned id without its owner and suffix (``ft:gpt-4o-mini:org::id`` ->
    ``ft:gpt-4o-mini``); 4. each of those without ``-latest`` or a snapshot date
    (``gpt-4o-2024-08-06`` -> ``gpt-4o``, ``claude-sonnet-4-5-20250929`` -> ``claude-sonnet-4-5``).
    An exact row always wins, so a snapshot priced differently gets a row of its own.
    """
    names = list(dict.fromkeys(_bare_names(model)))
    undated = (_undated(name) for name in names)
    yield from dict.fromkeys([*names, *(name for name in undated if name)])


def _bare_names(model: str) -> Iterator[str]:
    yield model
    bare = model.rsplit("/", 1)[-1]
    yield bare
    if bare.startswith(_FINE_TUNED):
        yield _FINE_TUNED + bare[len(_FINE_TUNED) :].split(":", 1)[0]


def _undated(name: str) -> str | None:
    if name.endswith(_LATEST):
        return name[: -len(_LATEST)]
    match = _DATED.match(name)
    return match.group("base") if match else None


class PriceTable:
    """Prices by (provider, model); :attr:`version` names exactly the rows loaded."""

    def __init__(self, rows: Mapping[tuple[str, str], Price], version: str) -> None:
        self.rows = dict(rows)
        self.version = version
        self._providers_of: dict[str, list[str]] = {}
        for provider, model in self.rows:
            self._providers_of.setdefault(model, []).append(provider)
        self._known_providers = frozenset(provider for provider, _ in self.rows)
        self._resolved: dict[tuple[str | None, str], tuple[Price, Rates] | None] = {}

    @classmethod
    def load(cls, override_path: str | None = None) -> PriceTable:
        """The shipped rows, then ``override_path``'s rows replacing or adding (provider,
        model) rows. A bad file raises ValueError naming the file, line and column."""
        shipped = resources.files("whyops.pricing").joinpath(_SHIPPED).read_bytes()
        texts = [(_SHIPPED, shipped)]
        if override_path is not None:
            try:
                with open(override_path, "rb") as file:
                    texts.append((override_path, file.read()))
            except OSError as exc:
                raise ValueError(f"--prices {override_path}: {exc.strerror or exc}") from exc
        rows: dict[tuple[str, str], Price] = {}
        for name, data in texts:
            rows.update(parse_prices(name, data))
        return cls(rows, _version(rows.values(), [data for _, data in texts]))

    def price(self, provider: str | None, model: str | None) -> Price | None:
        """The row pricing ``model`` called through ``provider``, or None (no price).

        A provider the table does not list (None, ``unknown``, a cloud reseller) prices by
        the model alone, when exactly one provider lists it."""
        found = self.priced(provider, model)
        return None if found is None else found[0]

    def priced(self, provider: str | None, model: str | None) -> tuple[Price, Rates] | None:
        """:meth:`price` with its per-part prices (``cost.rates``), both remembered."""
        if not model:
            return None
        key = (provider, model)
        try:
            return self._resolved[key]
        except KeyError:
            pass
        price = self._find(provider.lower() if provider else None, model)
        found = None if price is None else (price, rates(price))
        if len(self._resolved) >= _MAX_CACHED:
            self._resolved.clear()
        self._resolved[key] = found
        return found

    def _find(self, provider: str | None, model: str) -> Price | None:
        for candidate in model_candidates(model):
            providers = self._providers_of.get(candidate)
            if not providers:
                continue
            if provider in providers:
                return self.rows[(provider, candidate)]
            if len(providers) == 1 and provider not in self._known_providers:
                return self.rows[(providers[0], candidate)]
        return None

    def cost(
        self, provider: str | None, model: str | None, usage: Any, *, batch: bool = False
    ) -> Cost | None:
        """What a call with the wire ``usage`` dict cost, or None (no price, or no usage).

        ``batch``: priced at the batch rates where the row has them."""
        price = self.price(provider, model)
        counts = counts_of_usage(usage)
        if price is None or counts is None:
            return None
        return compute(price, counts, self.version, batch=batch)


def parse_prices(name: str, data: bytes) -> dict[tuple[str, str], Price]:
    """The rows of one price file; ValueError naming ``name``, the line and the column."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name}: not UTF-8 text (byte {exc.start})") from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{name}: empty file (expected a header line: {','.join(COLUMNS)})")
        columns = _header(name, header)
        rows: dict[tuple[str, str], Price] = {}
        for fields in reader:
            line = reader.line_num
            if not any(field.strip() for field in fields):
                continue
            price = _row(name, line, columns, fields)
            if (price.provider, price.model) in rows:
                raise ValueError(
                    f"{name}, line {line}, column model: {price.provider} {price.model}"
                    " is listed twice"
                )
            rows[(price.provider, price.model)] = price
    except csv.Error as exc:
        raise ValueError(f"{name}, line {reader.line_num}: {exc}") from exc
    return rows


def _header(name: str, header: list[str]) -> list[str]:
    columns = [column.strip() for column in header]
    for index, column in enumerate(columns, 1):
        if column not in COLUMNS:
            raise ValueError(f"{name}, line 1, column {index}: unknown column {column!r}")
        if columns.index(column) != index - 1:
            raise ValueError(f"{name}, line 1, column {index}: {column!r} appears twice")
    missing = [c for c in COLUMNS if c not in columns and c not in _OPTIONAL_COLUMNS]
    if missing:
        raise ValueError(f"{name}, line 1: missing column(s) {', '.join(missing)}")
    return columns


def _row(name: str, line: int, columns: list[str], fields: list[str]) -> Price:
    if len(fields) != len(columns):
        raise ValueError(
            f"{name}, line {line}: {len(fields)} fields, the header has {len(columns)}"
        )
    values = dict(zip(columns, (field.strip() for field in fields), strict=True))

    def fail(column: str, problem: str) -> ValueError:
        return ValueError(f"{name}, line {line}, column {column}: {problem}")

    for column in ("provider", "model"):
        if not values[column] or len(values[column]) > 255:
            raise fail(column, "must be 1 to 255 characters")
    prices = {c: _amount(values[c], c, fail, required=True) for c in _REQUIRED_PRICES}
    prices |= {c: _amount(values[c], c, fail, required=False) for c in _OPTIONAL_PRICES}
    per = values["per"]
    if not per.isdigit() or not 0 < int(per) <= 10**9:
        raise fail("per", f"expected a whole number of tokens (e.g. 1000000), got {per!r}")
    if values["currency"] not in _CURRENCIES:
        raise fail("currency", f"only USD is supported, got {values['currency']!r}")
    effective = values["effective"]
    try:
        datetime.date.fromisoformat(effective)
    except ValueError:
        raise fail("effective", f"expected a date YYYY-MM-DD, got {effective!r}") from None
    if not values["source"]:
        raise fail("source", "must name where the price comes from (a URL)")
    return Price(
        provider=values["provider"].lower(),
        model=values["model"],
        per=int(per),
        currency=values["currency"],
        effective=values["effective"],
        source=values["source"],
        note=values.get("note", ""),
        **prices,  # type: ignore[arg-type]
    )


def _amount(text: str, column: str, fail: Any, *, required: bool) -> float | None:
    if not text:
        if required:
            raise fail(column, "a price is required")
        return None
    try:
        value = float(text)
    except ValueError:
        raise fail(column, f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or not 0 <= value <= 1e9:
        raise fail(column, f"expected a price from 0 to 1e9, got {text!r}")
    return value


def _version(rows: Any, texts: list[bytes]) -> str:
    """The newest effective date, then a hash of every file read: two tables with the same
    version price every call the same."""
    newest = max((row.effective for row in rows), default="0000-00-00")
    digest = hashlib.sha256()
    for data in texts:
        digest.update(hashlib.sha256(data).digest())
    return f"{newest}+{digest.hexdigest()[:8]}"
