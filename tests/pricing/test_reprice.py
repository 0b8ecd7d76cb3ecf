"""``whyops reprice`` on SQLite and PostgreSQL: stored calls priced again on purpose, in
batches, within a time range, with the trace sums following; what changed is printed."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import Api, new_trace
from tests.server.test_cost_ingest import query_rows
from whyops.cli import main
from whyops.pricing import PriceTable
from whyops.server.run import RunningServer

M = 1_000_000
HEADER = (
    "provider,model,input,output,cached_input,cache_write_5m,cache_write_1h,reasoning,"
    "batch_input,batch_output,per,currency,effective,source"
)
NEW_PRICES = "\n".join([
    HEADER,
    "openai,gpt-4o,3,12,1.5,,,,,,1000000,USD,2026-12-01,https://example.invalid/new",
    "acme,house-model,1,2,,,,,,,1000000,USD,2026-12-01,https://example.invalid/house",
])  # fmt: skip
USAGE = {"promptTokens": 1000, "cacheReadTokens": 400, "completionTokens": 500,
         "totalTokens": 1500}  # fmt: skip
OLD_GPT4O = (600 * 2.5 + 400 * 1.25 + 500 * 10) / M
NEW_GPT4O = (600 * 3 + 400 * 1.5 + 500 * 12) / M
HOUSE = (1000 * 1 + 500 * 2) / M  # no cache price: the cached tokens at the input price


def _call(trace: str, model: str, provider: str, day: int) -> dict[str, Any]:
    return {"eventType": "llm_response", "traceId": trace, "agentName": "reprice-agent",
            "timestamp": f"2026-11-{day:02d}T12:00:00.000000Z",
            "metadata": {"model": model, "provider": provider, "usage": USAGE}}  # fmt: skip


def _costs(db: str, trace: str) -> list[tuple[Any, ...]]:
    query = "SELECT model, cost_usd, price_version FROM events WHERE trace_id = ? ORDER BY ts_us"
    return query_rows(db, query, trace)


def _trace(db: str, trace: str) -> tuple[Any, ...]:
    return query_rows(db, "SELECT cost_usd, unpriced_calls FROM traces WHERE trace_id = ?", trace)[
        0
    ]


@pytest.fixture
def seeded(fresh_server: RunningServer) -> tuple[str, str]:
    trace = new_trace()
    api = Api(fresh_server)
    batch = [_call(trace, "gpt-4o", "openai", 1), _call(trace, "house-model", "acme", 2),
             _call(trace, "gpt-4o", "openai", 5)]  # fmt: skip
    assert api.ingest(batch).status_code == 202
    api.close()
    return fresh_server.db_path, trace


def test_reprice_a_time_range_then_all(
    seeded: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, trace = seeded
    old = PriceTable.load().version
    assert _costs(db, trace) == [("gpt-4o", pytest.approx(OLD_GPT4O), old),
                                 ("house-model", None, None),
                                 ("gpt-4o", pytest.approx(OLD_GPT4O), old)]  # fmt: skip
    assert _trace(db, trace) == (pytest.approx(2 * OLD_GPT4O), 1)
    prices = tmp_path / "new-prices.csv"
    prices.write_text(NEW_PRICES + "\n", encoding="utf-8")
    new = PriceTable.load(str(prices)).version
    # Only the last call is in the range; the trace's sums follow its events.
    args = ["reprice", "--db", db, "--prices", str(prices), "--from", "2026-11-04T00:00:00Z"]
    assert main(args) == 0
    assert _costs(db, trace) == [("gpt-4o", pytest.approx(OLD_GPT4O), old),
                                 ("house-model", None, None),
                                 ("gpt-4o", pytest.approx(NEW_GPT4O), new)]  # fmt: skip
    assert _trace(db, trace) == (pytest.approx(OLD_GPT4O + NEW_GPT4O), 1)
    out = capsys.readouterr().out
    assert f"price version {new}: 1 LLM calls read, 1 changed, 1 trace sums set" in out
    assert f"{OLD_GPT4O:.6f}" in out and f"{NEW_GPT4O:.6f}" in out
    # Everything, one call per transaction.
    assert main(["reprice", "--db", db, "--prices", str(prices), "--batch", "1", "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert (outcome["priceVersion"], outcome["calls"], outcome["changed"]) == (new, 3, 2)
    house = next(m for m in outcome["models"] if m["model"] == "house-model")
    assert (house["changed"], house["beforeUsd"], house["unpriced"]) == (1, 0, 0)
    assert house["afterUsd"] == pytest.approx(HOUSE)
    assert _costs(db, trace) == [("gpt-4o", pytest.approx(NEW_GPT4O), new),
                                 ("house-model", pytest.approx(HOUSE), new),
                                 ("gpt-4o", pytest.approx(NEW_GPT4O), new)]  # fmt: skip
    assert _trace(db, trace) == (pytest.approx(2 * NEW_GPT4O + HOUSE), 0)
    # Again: nothing changes.
    assert main(["reprice", "--db", db, "--prices", str(prices)]) == 0
    assert "3 LLM calls read, 0 changed" in capsys.readouterr().out
    # Back to the shipped prices: the house model has no price again, never a zero.
    assert main(["reprice", "--db", db]) == 0
    assert _costs(db, trace)[1] == ("house-model", None, None)
    assert _trace(db, trace) == (pytest.approx(2 * OLD_GPT4O), 1)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--from", "2026-11-05T00:00:00Z", "--to", "2026-11-01T00:00:00Z"], "--to must be later"),
        (["--from", "yesterday"], "--from 'yesterday': expected an ISO 8601 time"),
        (["--batch", "0"], "--batch"),
        (["--prices", "/nonexistent/prices.csv"], "/nonexistent/prices.csv"),
    ],
)
def test_bad_arguments(
    seeded: tuple[str, str], extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db, _ = seeded
    assert main(["reprice", "--db", db, *extra]) == 2
    assert message in capsys.readouterr().err


def test_missing_database_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.db"
    assert main(["reprice", "--db", str(missing)]) == 2
    assert "no such database file" in capsys.readouterr().err
    assert not missing.exists()  # never a new, empty database


def test_unusable_databases_fail_clearly(
    tmp_path: Path, refused_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_database = tmp_path / "notes.db"
    not_a_database.write_text("not a database\n", encoding="utf-8")
    assert main(["reprice", "--db", str(not_a_database)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"whyops reprice: --db {not_a_database} is not a SQLite database")
    assert "Traceback" not in err
    refused = refused_url.replace("http://", "postgresql://") + "/whyops"
    assert main(["reprice", "--db", refused]) == 2
    err = capsys.readouterr().err
    assert err.startswith("whyops reprice: --db postgresql://127.0.0.1:") and "refused" in err


# Each trace's sums as its events give them, beside the sums the trace row holds.
_SUMS_AGREE = """
SELECT t.trace_id, t.cost_usd, t.unpriced_calls, t.llm_calls,
    (SELECT sum(e.cost_usd) FROM events e WHERE e.project_id = t.project_id
        AND e.trace_id = t.trace_id),
    (SELECT count(*) FROM events e WHERE e.project_id = t.project_id
        AND e.trace_id = t.trace_id AND e.cost_usd IS NULL),
    (SELECT count(*) FROM events e WHERE e.project_id = t.project_id
        AND e.trace_id = t.trace_id)
FROM traces t"""


def test_reprice_while_the_server_writes(fresh_server: RunningServer, tmp_path: Path) -> None:
    """Calls keep arriving in the traces being repriced: afterwards every trace's cost and
    unpriced count are still exactly the sums of its events."""
    traces = [new_trace() for _ in range(3)]
    prices = tmp_path / "new-prices.csv"
    prices.write_text(NEW_PRICES + "\n", encoding="utf-8")
    seed = Api(fresh_server)
    for day, trace in enumerate(traces, 1):
        calls = [_call(trace, model, provider, day) for model, provider in
                 [("gpt-4o", "openai"), ("house-model", "acme")] * 10]  # fmt: skip
        assert seed.ingest(calls).status_code == 202
    seed.close()
    stop, written = threading.Event(), [0]

    def keep_writing() -> None:
        api = Api(fresh_server)
        while not stop.is_set():
            trace = traces[written[0] % len(traces)]
            batch = [_call(trace, "gpt-4o", "openai", 9), _call(trace, "house-model", "acme", 9)]
            assert api.ingest(batch).status_code == 202
            written[0] += 1
        api.close()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        while written[0] < 3:  # the server is busy before the first batch is read
            stop.wait(0.01)
        db = fresh_server.db_path
        assert main(["reprice", "--db", db, "--prices", str(prices), "--batch", "2"]) == 0
        during = written[0]
    finally:
        stop.set()
        writer.join(60)
    assert during >= 3 and written[0] > 3
    rows = query_rows(db, _SUMS_AGREE)
    assert len(rows) == len(traces)
    for _, cost, unpriced, calls, cost_sum, unpriced_sum, events in rows:
        assert cost == pytest.approx(cost_sum, rel=1e-9)
        assert (unpriced, calls) == (unpriced_sum, events)
