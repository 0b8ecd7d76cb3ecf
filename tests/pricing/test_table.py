"""The price table: model id resolution, override files, versions, bad files, the formula per
provider's way of counting, and real provider usage through ``whyops.wire.usage``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whyops.pricing import PriceTable
from whyops.pricing.cost import Counts, compute, cost_usd, prompt_includes_cache
from whyops.pricing.table import COLUMNS, model_candidates
from whyops.wire.usage import anthropic_usage, openai_usage, usage_wire

M = 1_000_000
HEADER = ",".join(COLUMNS)


def price_file(tmp_path: Path, *rows: str, header: str = HEADER) -> str:
    path = tmp_path / "prices.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


def row(provider: str, model: str, input_: str = "1", output: str = "2", **fields: str) -> str:
    values = {
        "provider": provider, "model": model, "input": input_, "output": output,
        "per": "1000000", "currency": "USD", "effective": "2026-12-01",
        "source": "https://example.invalid/prices", **fields,
    }  # fmt: skip
    return ",".join(values.get(column, "") for column in COLUMNS)


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load()


@pytest.mark.parametrize(
    ("provider", "model", "row_model"),
    [
        ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
        ("openai", "gpt-4o-2024-11-20", "gpt-4o"),
        ("openai", "gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),  # its own row wins
        ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openai", "gpt-5-2025-08-07", "gpt-5"),
        ("openai", "o3-2025-04-16", "o3"),
        ("openai", "openai/gpt-4.1", "gpt-4.1"),
        ("openai", "ft:gpt-4o-mini:org::id", "ft:gpt-4o-mini"),
        ("openai", "ft:gpt-4o-mini-2024-07-18:acme:support:9xYz", "ft:gpt-4o-mini"),
        ("anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("anthropic", "claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("anthropic", "claude-opus-4-20250514", "claude-opus-4"),
        ("anthropic", "claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("ANTHROPIC", "claude-3-7-sonnet-20250219", "claude-3-7-sonnet"),
        # A provider the table does not list prices by the model alone.
        ("unknown", "gpt-4o-mini", "gpt-4o-mini"),
        (None, "claude-opus-4-7", "claude-opus-4-7"),
        ("aws.bedrock", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
    ],
)
def test_model_ids_resolve(
    table: PriceTable, provider: str | None, model: str, row_model: str
) -> None:
    price = table.price(provider, model)
    assert price is not None
    assert price.model == row_model


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "gpt-9-ultra"),
        ("openai", "claude-sonnet-4-5"),  # a listed provider that does not sell it
        ("anthropic", "gpt-4o"),
        ("openai", ""),
        ("openai", None),
        ("openai", "gpt-4o-2024-13"),  # not a date
        ("openai", "ft:mystery:org::id"),
    ],
)
def test_unknown_models_have_no_price(table: PriceTable, provider: str, model: str | None) -> None:
    assert table.price(provider, model) is None
    assert table.cost(provider, model, {"promptTokens": 10, "completionTokens": 2}) is None


def test_no_usage_no_cost(table: PriceTable) -> None:
    assert table.cost("openai", "gpt-4o", {}) is None
    assert table.cost("openai", "gpt-4o", None) is None
    assert table.cost("openai", "gpt-4o", {"promptTokens": "12", "x": True}) is None
    # A reasoning count alone is part of an output count never reported: nothing to price.
    assert table.cost("openai", "o3", {"reasoningTokens": 50}) is None
    # An alias counts only when its main key is absent, as in the server's token columns.
    cost = table.cost("openai", "gpt-4o", {"promptTokens": "12", "inputTokens": 1000})
    assert cost is None
    cost = table.cost("openai", "gpt-4o", {"inputTokens": 1000})
    assert cost is not None and cost.usd == pytest.approx(1000 * 2.5 / M)


def test_candidates_order() -> None:
    assert list(model_candidates("openai/gpt-4o-2024-08-06")) == [
        "openai/gpt-4o-2024-08-06",
        "gpt-4o-2024-08-06",
        "openai/gpt-4o",
        "gpt-4o",
    ]


def test_override_replaces_and_adds(tmp_path: Path) -> None:
    shipped = PriceTable.load()
    path = price_file(
        tmp_path,
        row("openai", "gpt-4o", "3", "12", cached_input="1.5"),
        row("openai", "ft:gpt-4o-mini:acme::abc123", "0.5", "2"),
        row("acme-cloud", "house-model", "0.1", "0.2"),
    )
    table = PriceTable.load(path)
    assert table.version != shipped.version
    assert table.version == PriceTable.load(path).version  # the same files, the same version
    assert table.version.startswith("2026-12-01+")
    usage = {"promptTokens": 1000, "cacheReadTokens": 400, "completionTokens": 100}
    gpt4o = table.cost("openai", "gpt-4o-2024-08-06", usage)
    assert gpt4o is not None
    assert gpt4o.usd == pytest.approx((600 * 3 + 400 * 1.5 + 100 * 12) / M)
    tuned = table.cost("openai", "ft:gpt-4o-mini:acme::abc123", {"promptTokens": 1000})
    assert tuned is not None and tuned.usd == pytest.approx(1000 * 0.5 / M)
    other = table.cost("openai", "ft:gpt-4o-mini:other::zzz", {"promptTokens": 1000})
    assert other is not None and other.usd == pytest.approx(1000 * 0.3 / M)  # shipped ft row
    house = table.cost("acme-cloud", "house-model", {"promptTokens": 1000})
    assert house is not None and house.usd == pytest.approx(1000 * 0.1 / M)
    assert table.price("openai", "gpt-4.1") == shipped.price("openai", "gpt-4.1")


def test_reasoning_priced_apart_and_the_note_column_optional(tmp_path: Path) -> None:
    header = ",".join(c for c in COLUMNS if c != "note")
    line = row("openai", "thinker", "1", "4", reasoning="8").rsplit(",", 1)[0]
    table = PriceTable.load(price_file(tmp_path, line, header=header))
    usage = {"promptTokens": 1000, "completionTokens": 500, "reasoningTokens": 200}
    cost = table.cost("openai", "thinker", usage)
    assert cost is not None
    assert cost.parts == pytest.approx({"input": 1000 / M, "output": 300 * 4 / M,
                                        "reasoning": 200 * 8 / M})  # fmt: skip


def test_model_listed_by_two_providers_needs_the_provider(tmp_path: Path) -> None:
    table = PriceTable.load(price_file(tmp_path, row("acme", "gpt-4o", "9", "9")))
    assert table.price("unknown", "gpt-4o") is None  # ambiguous: no price rather than a guess
    assert table.price("acme", "gpt-4o").input == 9  # type: ignore[union-attr]
    assert table.price("openai", "gpt-4o").input == 2.5  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("", "empty file"),
        ("provider,model\n", "line 1: missing column(s) input"),
        (HEADER + ",colour\n", "line 1, column 16: unknown column 'colour'"),
        (HEADER.replace("output", "input") + "\n", "column 4: 'input' appears twice"),
        (HEADER + "\n" + row("openai", "x", "one"), "line 2, column input: expected a number"),
        (HEADER + "\n" + row("openai", "x", "-1"), "line 2, column input: expected a price"),
        (HEADER + "\n" + row("openai", "x", "nan"), "line 2, column input: expected a price"),
        (HEADER + "\n" + row("openai", "x", ""), "line 2, column input: a price is required"),
        (HEADER + "\n" + row("openai", "x", output="inf"), "line 2, column output"),
        (HEADER + "\n" + row("openai", "x", cached_input="1,5"), "line 2: 16 fields"),
        (HEADER + "\n" + row("", "x"), "line 2, column provider"),
        (HEADER + "\n\n" + row("openai", "x", per="0"), "line 3, column per"),
        (HEADER + "\n" + row("openai", "x", currency="EUR"), "line 2, column currency"),
        (HEADER + "\n" + row("openai", "x", effective="2026-13-01"), "line 2, column effective"),
        (HEADER + "\n" + row("openai", "x", source=""), "line 2, column source"),
        (HEADER + "\n" + row("openai", "x") + "\n" + row("openai", "x"), "line 3, column model"),
        (HEADER + '\n"openai,x', "line 2"),
    ],
)
def test_bad_files_name_file_line_and_column(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.csv") as raised:
        PriceTable.load(str(path))
    assert where in str(raised.value)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"nothere\.csv"):
        PriceTable.load(str(tmp_path / "nothere.csv"))
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match=r"binary\.csv: not UTF-8"):
        PriceTable.load(str(binary))


GOOD_ROW = row("openai", "gpt-4o", "3", "12", cached_input="1.5")


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    position=st.integers(min_value=0, max_value=len(HEADER) + len(GOOD_ROW) + 1),
    inserted=st.text(alphabet=st.sampled_from(list(',"\n\r x1.-e\x00é;')), max_size=6),
    cut=st.integers(min_value=0, max_value=4),
)
def test_fuzzed_files_load_or_fail_clearly(position: int, inserted: str, cut: int) -> None:
    text = HEADER + "\n" + GOOD_ROW + "\n"
    text = text[:position] + inserted + text[position + cut :]
    _load_text(text)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(data=st.binary(max_size=300))
def test_fuzzed_bytes_load_or_fail_clearly(data: bytes) -> None:
    _load_bytes(HEADER.encode() + b"\n" + data)


def _load_text(text: str) -> None:
    _load_bytes(text.encode("utf-8"))


def _load_bytes(data: bytes) -> None:
    import tempfile

    with tempfile.NamedTemporaryFile(suffix="-fuzz.csv") as file:
        file.write(data)
        file.flush()
        try:
            table = PriceTable.load(file.name)
        except ValueError as exc:
            assert str(exc).startswith(file.name), exc
            return
        for (provider, model), price in table.rows.items():
            assert price.input >= 0 and price.output >= 0
            cost = table.cost(provider, model, {"promptTokens": 10, "completionTokens": 5})
            assert cost is not None and cost.usd >= 0


def test_prompt_conventions() -> None:
    # 500 tokens read from or written to the cache, 50 output; 1,050 in all.
    # (provider, prompt, completion, total, cached)
    assert prompt_includes_cache("anthropic", 1000, 50, 1050, 500) is True  # total = p + c
    assert prompt_includes_cache("openai", 500, 50, 1050, 500) is False  # total = p + c + cached
    # Without a total: the provider's convention (unlisted providers count as OpenAI does).
    assert prompt_includes_cache("openai", 1000, 50, None, 500) is True
    assert prompt_includes_cache("anthropic", 1000, 50, None, 500) is False
    assert prompt_includes_cache("gcp.vertex_ai", 1000, 50, None, 500) is True


_COUNT = st.one_of(st.none(), st.integers(min_value=0, max_value=10**7))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    index=st.integers(min_value=0),
    counts=st.tuples(*[_COUNT] * 8),
    consistent_total=st.booleans(),
)
def test_ingest_path_equals_the_full_formula(
    table: PriceTable, index: int, counts: tuple[int | None, ...], consistent_total: bool
) -> None:
    """``cost_usd`` (the ingest's shortcut) and ``compute`` (with parts) agree on any counts."""
    key = sorted(table.rows)[index % len(table.rows)]
    price, rates = table.priced(*key)  # type: ignore[misc]
    if consistent_total and counts[0] is not None:
        counts = (counts[0], counts[1], counts[0] + (counts[1] or 0), *counts[3:])
    full = compute(price, Counts(*counts), table.version)
    assert cost_usd(price, rates, counts) == pytest.approx(full.usd, rel=1e-12, abs=1e-15)
    assert full.usd >= 0
    assert all(part >= 0 for part in full.parts.values())


def test_aliases_of_the_wire_usage(table: PriceTable) -> None:
    aliased = {"inputTokens": 1000, "outputTokens": 100, "cacheWriteTokens": 200}
    cost = table.cost("anthropic", "claude-haiku-4-5", aliased)
    assert cost is not None
    # No split by lifetime: the writes are 5-minute ones, Anthropic's default.
    assert cost.usd == pytest.approx((1000 * 1 + 200 * 1.25 + 100 * 5) / M)


# Real provider usage (whyops-spec providers reference) through the SDK's and the proxy's
# mapping (whyops.wire.usage), then priced; the expected cost written out by hand.
@pytest.mark.parametrize(
    ("provider", "model", "provider_usage", "expected_usd"),
    [
        pytest.param(
            "openai", "gpt-4o",
            {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17,
             "prompt_tokens_details": {"cached_tokens": 8, "audio_tokens": 0},
             "completion_tokens_details": {"reasoning_tokens": 2}},
            # 4 fresh + 8 cached prompt tokens, 5 output (2 of them reasoning)
            (4 * 2.5 + 8 * 1.25 + 5 * 10) / M,
            id="openai-chat",
        ),
        pytest.param(
            "openai", "o4-mini",
            {"input_tokens": 100, "output_tokens": 30, "total_tokens": 130,
             "input_tokens_details": {"cached_tokens": 40, "cache_write_tokens": 20},
             "output_tokens_details": {"reasoning_tokens": 10}},
            # 40 fresh + 20 written (no cache-write price: billed as input) + 40 cached; 30 out
            (40 * 1.1 + 20 * 1.1 + 40 * 0.275 + 30 * 4.4) / M,
            id="openai-responses",
        ),
        pytest.param(
            "openai", "text-embedding-3-small",
            {"object": "list", "prompt_tokens": 8, "total_tokens": 8},
            8 * 0.02 / M,
            id="openai-embeddings",
        ),
        pytest.param(
            "anthropic", "claude-sonnet-4-5-20250929",
            {"input_tokens": 10, "output_tokens": 7, "cache_creation_input_tokens": 100,
             "cache_read_input_tokens": 200,
             "cache_creation": {"ephemeral_5m_input_tokens": 60, "ephemeral_1h_input_tokens": 40}},
            # input_tokens excludes the cache: 10 at input, 200 read, 60 + 40 written, 7 output
            (10 * 3 + 200 * 0.3 + 60 * 3.75 + 40 * 6 + 7 * 15) / M,
            id="anthropic-messages",
        ),
    ],
)  # fmt: skip
def test_provider_usage(
    table: PriceTable, provider: str, model: str, provider_usage: dict[str, Any],
    expected_usd: float,
) -> None:  # fmt: skip
    mapper = anthropic_usage if provider == "anthropic" else openai_usage
    usage = mapper(provider_usage)
    assert usage is not None
    cost = table.cost(provider, model, usage_wire(usage))
    assert cost is not None
    assert cost.usd == pytest.approx(expected_usd)


def test_spec_manual_event_example(table: PriceTable) -> None:
    # WhyOps' documented manual event: 1200 + cacheRead 8200 + cacheCreation 300 + 240 = 9940.
    usage = {"promptTokens": 1200, "cacheReadTokens": 8200, "cacheCreationTokens": 300,
             "completionTokens": 240, "totalTokens": 9940}  # fmt: skip
    cost = table.cost("anthropic", "claude-sonnet-4-5", usage)
    assert cost is not None
    assert cost.usd == pytest.approx((1200 * 3 + 8200 * 0.3 + 300 * 3.75 + 240 * 15) / M)
