"""Every row of the shipped price table, checked by hand against the providers' price pages.

One fixed call per provider, with cache reads, cache writes and reasoning tokens, and for each
model the expected cost written out as arithmetic from the published per-million prices
(https://platform.openai.com/docs/pricing, https://platform.claude.com/docs/en/about-claude/pricing).

OpenAI's prompt count includes its cached tokens: 100,000 prompt tokens of which 40,000 were
read from the cache leave 60,000 at the input price. Anthropic's input count excludes cache
reads and writes: the 30,000 input tokens are all at the input price, and the 40,000 read and
20,000 + 10,000 written are priced on their own. Reasoning tokens (8,000) are inside the
20,000 output tokens of both, billed at the output price.
"""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from whyops.pricing import PriceTable

M = 1_000_000  # the prices are per million tokens

OPENAI_CALL = {
    "promptTokens": 100_000,
    "cacheReadTokens": 40_000,
    "completionTokens": 20_000,
    "reasoningTokens": 8_000,
    "totalTokens": 120_000,
}
ANTHROPIC_CALL = {
    "promptTokens": 30_000,
    "cacheReadTokens": 40_000,
    "cacheCreationTokens": 30_000,
    "cacheWrite5mTokens": 20_000,
    "cacheWrite1hTokens": 10_000,
    "completionTokens": 20_000,
    "reasoningTokens": 8_000,
    "totalTokens": 120_000,
}
CALLS = {"openai": OPENAI_CALL, "anthropic": ANTHROPIC_CALL}

# OpenAI: 60,000 fresh input + 40,000 cached input + 20,000 output (a model without a cache
# discount bills all 100,000 prompt tokens at the input price).
# Anthropic: 30,000 input + 40,000 cache reads + 20,000 5-minute writes + 10,000 1-hour writes
# + 20,000 output.
EXPECTED_USD = {
    ("openai", "gpt-5.5"): (60_000 * 5 + 40_000 * 0.5 + 20_000 * 30) / M,
    ("openai", "gpt-5.4"): (60_000 * 2.5 + 40_000 * 0.25 + 20_000 * 15) / M,
    ("openai", "gpt-5.4-mini"): (60_000 * 0.75 + 40_000 * 0.075 + 20_000 * 4.5) / M,
    ("openai", "gpt-5.4-nano"): (60_000 * 0.2 + 40_000 * 0.02 + 20_000 * 1.25) / M,
    ("openai", "gpt-5.2"): (60_000 * 1.75 + 40_000 * 0.175 + 20_000 * 14) / M,
    ("openai", "gpt-5.1"): (60_000 * 1.25 + 40_000 * 0.125 + 20_000 * 10) / M,
    ("openai", "gpt-5"): (60_000 * 1.25 + 40_000 * 0.125 + 20_000 * 10) / M,
    ("openai", "gpt-5-mini"): (60_000 * 0.25 + 40_000 * 0.025 + 20_000 * 2) / M,
    ("openai", "gpt-5-nano"): (60_000 * 0.05 + 40_000 * 0.005 + 20_000 * 0.4) / M,
    ("openai", "gpt-5-pro"): (100_000 * 15 + 20_000 * 120) / M,
    ("openai", "gpt-4.1"): (60_000 * 2 + 40_000 * 0.5 + 20_000 * 8) / M,
    ("openai", "gpt-4.1-mini"): (60_000 * 0.4 + 40_000 * 0.1 + 20_000 * 1.6) / M,
    ("openai", "gpt-4.1-nano"): (60_000 * 0.1 + 40_000 * 0.025 + 20_000 * 0.4) / M,
    ("openai", "gpt-4o"): (60_000 * 2.5 + 40_000 * 1.25 + 20_000 * 10) / M,
    ("openai", "gpt-4o-2024-05-13"): (100_000 * 5 + 20_000 * 15) / M,
    ("openai", "gpt-4o-mini"): (60_000 * 0.15 + 40_000 * 0.075 + 20_000 * 0.6) / M,
    ("openai", "o1"): (60_000 * 15 + 40_000 * 7.5 + 20_000 * 60) / M,
    ("openai", "o1-mini"): (60_000 * 1.1 + 40_000 * 0.55 + 20_000 * 4.4) / M,
    ("openai", "o1-pro"): (100_000 * 150 + 20_000 * 600) / M,
    ("openai", "o3"): (60_000 * 2 + 40_000 * 0.5 + 20_000 * 8) / M,
    ("openai", "o3-pro"): (100_000 * 20 + 20_000 * 80) / M,
    ("openai", "o3-mini"): (60_000 * 1.1 + 40_000 * 0.55 + 20_000 * 4.4) / M,
    ("openai", "o4-mini"): (60_000 * 1.1 + 40_000 * 0.275 + 20_000 * 4.4) / M,
    # Embeddings: no cache discount and no output tokens billed.
    ("openai", "text-embedding-3-small"): (100_000 * 0.02) / M,
    ("openai", "text-embedding-3-large"): (100_000 * 0.13) / M,
    ("openai", "text-embedding-ada-002"): (100_000 * 0.1) / M,
    # Fine-tuned models (inference prices).
    ("openai", "ft:gpt-4.1"): (60_000 * 3 + 40_000 * 0.75 + 20_000 * 12) / M,
    ("openai", "ft:gpt-4.1-mini"): (60_000 * 0.8 + 40_000 * 0.2 + 20_000 * 3.2) / M,
    ("openai", "ft:gpt-4.1-nano"): (60_000 * 0.2 + 40_000 * 0.05 + 20_000 * 0.8) / M,
    ("openai", "ft:gpt-4o"): (60_000 * 3.75 + 40_000 * 1.875 + 20_000 * 15) / M,
    ("openai", "ft:gpt-4o-mini"): (60_000 * 0.3 + 40_000 * 0.15 + 20_000 * 1.2) / M,
    # The simulator's models, priced as the models they imitate (gpt-4o-mini, o4-mini).
    ("openai", "sim-chat"): (60_000 * 0.15 + 40_000 * 0.075 + 20_000 * 0.6) / M,
    ("openai", "sim-reasoning"): (60_000 * 1.1 + 40_000 * 0.275 + 20_000 * 4.4) / M,
    ("anthropic", "claude-sonnet-5"): (
        30_000 * 3 + 40_000 * 0.3 + 20_000 * 3.75 + 10_000 * 6 + 20_000 * 15
    )
    / M,
    ("anthropic", "claude-opus-4-7"): (
        30_000 * 5 + 40_000 * 0.5 + 20_000 * 6.25 + 10_000 * 10 + 20_000 * 25
    )
    / M,
    ("anthropic", "claude-opus-4-6"): (
        30_000 * 5 + 40_000 * 0.5 + 20_000 * 6.25 + 10_000 * 10 + 20_000 * 25
    )
    / M,
    ("anthropic", "claude-sonnet-4-6"): (
        30_000 * 3 + 40_000 * 0.3 + 20_000 * 3.75 + 10_000 * 6 + 20_000 * 15
    )
    / M,
    ("anthropic", "claude-opus-4-5"): (
        30_000 * 5 + 40_000 * 0.5 + 20_000 * 6.25 + 10_000 * 10 + 20_000 * 25
    )
    / M,
    ("anthropic", "claude-sonnet-4-5"): (
        30_000 * 3 + 40_000 * 0.3 + 20_000 * 3.75 + 10_000 * 6 + 20_000 * 15
    )
    / M,
    ("anthropic", "claude-haiku-4-5"): (
        30_000 * 1 + 40_000 * 0.1 + 20_000 * 1.25 + 10_000 * 2 + 20_000 * 5
    )
    / M,
    ("anthropic", "claude-opus-4-1"): (
        30_000 * 15 + 40_000 * 1.5 + 20_000 * 18.75 + 10_000 * 30 + 20_000 * 75
    )
    / M,
    ("anthropic", "claude-opus-4"): (
        30_000 * 15 + 40_000 * 1.5 + 20_000 * 18.75 + 10_000 * 30 + 20_000 * 75
    )
    / M,
    ("anthropic", "claude-opus-4-0"): (
        30_000 * 15 + 40_000 * 1.5 + 20_000 * 18.75 + 10_000 * 30 + 20_000 * 75
    )
    / M,
    ("anthropic", "claude-sonnet-4"): (
        30_000 * 3 + 40_000 * 0.3 + 20_000 * 3.75 + 10_000 * 6 + 20_000 * 15
    )
    / M,
    ("anthropic", "claude-sonnet-4-0"): (
        30_000 * 3 + 40_000 * 0.3 + 20_000 * 3.75 + 10_000 * 6 + 20_000 * 15
    )
    / M,
    ("anthropic", "claude-3-7-sonnet"): (
        30_000 * 3 + 40_000 * 0.3 + 20_000 * 3.75 + 10_000 * 6 + 20_000 * 15
    )
    / M,
    ("anthropic", "claude-3-5-haiku"): (
        30_000 * 0.8 + 40_000 * 0.08 + 20_000 * 1 + 10_000 * 1.6 + 20_000 * 4
    )
    / M,
    ("anthropic", "claude-3-haiku"): (
        30_000 * 0.25 + 40_000 * 0.03 + 20_000 * 0.3 + 10_000 * 0.5 + 20_000 * 1.25
    )
    / M,
    # The simulator's Claude, priced as claude-haiku-4-5.
    ("anthropic", "sim-claude"): (
        30_000 * 1 + 40_000 * 0.1 + 20_000 * 1.25 + 10_000 * 2 + 20_000 * 5
    )
    / M,
}


def shipped_rows() -> list[dict[str, str]]:
    text = resources.files("whyops.pricing").joinpath("prices.csv").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load()


def test_every_shipped_row_has_a_hand_checked_cost() -> None:
    keys = [(row["provider"], row["model"]) for row in shipped_rows()]
    assert sorted(keys) == sorted(EXPECTED_USD)


@pytest.mark.parametrize(("provider", "model"), sorted(EXPECTED_USD))
def test_cost_of_the_fixed_call(table: PriceTable, provider: str, model: str) -> None:
    cost = table.cost(provider, model, CALLS[provider])
    assert cost is not None
    assert cost.usd == pytest.approx(EXPECTED_USD[(provider, model)], rel=1e-12)
    assert cost.version == table.version
    assert sum(cost.parts.values()) == pytest.approx(cost.usd, rel=1e-12)


@pytest.mark.parametrize("row", shipped_rows(), ids=lambda row: row["model"])
def test_every_row_is_dated_and_sourced(row: dict[str, str]) -> None:
    assert row["effective"] <= "2026-12-31"
    assert row["source"].startswith(
        ("https://platform.openai.com/", "https://platform.claude.com/")
    )
    assert row["per"] == "1000000"
    assert row["currency"] == "USD"
    # Reasoning is billed as output by both providers: never priced apart in the shipped table.
    assert row["reasoning"] == ""
    if row["provider"] == "anthropic":  # cache writes: 1.25x (5 minutes) and 2x (1 hour) input
        # (Haiku 3's page says $0.30 for 5-minute writes: 1.2x its $0.25, kept as published.)
        five_minutes = 0.3 / 0.25 if row["model"] == "claude-3-haiku" else 1.25
        assert float(row["cache_write_5m"]) == pytest.approx(five_minutes * float(row["input"]))
        assert float(row["cache_write_1h"]) == pytest.approx(2 * float(row["input"]))
    if row["batch_input"]:  # the Batch APIs: half price
        assert float(row["batch_input"]) == pytest.approx(0.5 * float(row["input"]))
        assert float(row["batch_output"]) == pytest.approx(0.5 * float(row["output"]))


def test_parts_of_an_anthropic_call(table: PriceTable) -> None:
    cost = table.cost("anthropic", "claude-sonnet-4-5", ANTHROPIC_CALL)
    assert cost is not None
    assert cost.parts == pytest.approx(
        {
            "input": 30_000 * 3 / M,
            "cacheRead": 40_000 * 0.3 / M,
            "cacheWrite5m": 20_000 * 3.75 / M,
            "cacheWrite1h": 10_000 * 6 / M,
            "output": 12_000 * 15 / M,
            "reasoning": 8_000 * 15 / M,  # shown apart, billed as output
        }
    )


def test_batch_prices(table: PriceTable) -> None:
    cost = table.cost("openai", "gpt-4o", OPENAI_CALL, batch=True)
    assert cost is not None
    # Batch: input and output at half price; cached input stays at its own price.
    assert cost.usd == pytest.approx((60_000 * 1.25 + 40_000 * 1.25 + 20_000 * 5) / M)
    haiku = table.cost("anthropic", "claude-haiku-4-5", ANTHROPIC_CALL, batch=True)
    assert haiku is not None
    assert haiku.usd == pytest.approx(
        (30_000 * 0.5 + 40_000 * 0.1 + 20_000 * 1.25 + 10_000 * 2 + 20_000 * 2.5) / M
    )
