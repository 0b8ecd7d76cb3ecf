"""``GET /api/stats`` over 30 days of events, against a plain SELECT of the same rows.

    python bench/bench_stats.py [--events N] [--rounds N] [--stores sqlite,postgres]

1. Generates ``--events`` events (200,000 by default; the reference run uses 1,000,000) over
   the 30 days before a fixed moment: traces of five agents for 300 users, each two model
   calls (three models, one without a price; cache and reasoning tokens), a tool call (one
   in twenty fails) and now and then an error, about 7 events per trace, in time order.
   They are validated and stored as the ingest route stores them (``validate_events``, then
   ``Store.ingest`` on the writer thread, priced by the shipped price table), in batches of
   1,000, on a SQLite file and on a PostgreSQL 15 database started for the run (tests/pg.py;
   ``ANALYZE`` after loading, as autovacuum would).
2. Starts a server on each store and measures, interleaved, ``--rounds`` times: the p50 of
   ``/api/stats`` for the 30 days (default bucket: 6h), the same ``groupBy=agent``, and the
   baseline: a plain ``SELECT`` of the columns the stats read, for the same rows (events and
   traces of the range), fetched into Python on a connection of its own.

Prints p50s and ratios (stats / SELECT) and writes ``bench/results/stats-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402

from tests import pg  # noqa: E402
from whyops.pricing import PriceTable  # noqa: E402
from whyops.server.run import start_in_thread  # noqa: E402
from whyops.server.settings import KeySpec, ServerSettings  # noqa: E402
from whyops.server.store import Store, bootstrap_keys  # noqa: E402
from whyops.server.timeutil import format_us  # noqa: E402
from whyops.server.validation import validate_events  # noqa: E402

KEY, PROJECT = "whyops_bench", "bench"
END_US = 1_800_000_000 * 1_000_000  # a fixed "now" (2027-01-15), so runs compare
DAY_US = 86_400 * 1_000_000
DAYS = 30
BATCH = 1000
IN_FLIGHT = 16
AGENTS = [f"agent-{name}" for name in ("support", "billing", "search", "triage", "ops")]
MODELS = [("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5"), ("acme", "acme-7b")]
TOOLS = ["lookup_order", "track_parcel", "issue_refund", "search_docs", "send_email"]
# The columns /api/stats reads, for the baseline SELECT.
EVENT_COLUMNS = (
    "ts_us, event_type, span_kind, agent_name, prompt_tokens, completion_tokens,"
    " total_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_usd,"
    " latency_ms"
)
TRACE_COLUMNS = "first_ts_us, agent_name, error_count"


def _model_call(trace: dict[str, Any], at_us: int, rng: random.Random) -> list[dict[str, Any]]:
    provider, model = rng.choice(MODELS)
    usage = {
        "promptTokens": rng.randrange(200, 4000),
        "completionTokens": rng.randrange(20, 800),
        "cacheReadTokens": rng.choice((0, 0, 1024)),
        "reasoningTokens": rng.choice((0, 0, 128)),
    }
    latency = round(rng.lognormvariate(6.5, 0.6))
    span = f"{trace['traceId']}-{at_us}"
    meta = {"model": model, "provider": provider}
    return [
        {**trace, "spanId": span, "spanKind": "llm", "eventType": "user_message",
         "timestamp": format_us(at_us), "content": {"messages": []}, "metadata": meta},
        {**trace, "spanId": span, "spanKind": "llm", "eventType": "llm_response",
         "timestamp": format_us(at_us + latency * 1000), "content": {"content": "ok"},
         "metadata": {**meta, "latencyMs": latency, "usage": usage}},
    ]  # fmt: skip


def _tool_call(trace: dict[str, Any], at_us: int, rng: random.Random) -> list[dict[str, Any]]:
    tool = rng.choice(TOOLS)
    latency = round(rng.lognormvariate(4.0, 1.0))
    failed = rng.random() < 0.05
    span = f"{trace['traceId']}-t{at_us}"
    done = {"tool": tool, "latencyMs": latency, "status": "error" if failed else "ok"}
    return [
        {**trace, "spanId": span, "spanKind": "tool", "spanName": tool,
         "eventType": "tool_call_request", "timestamp": format_us(at_us),
         "content": {"toolCalls": [{"name": tool, "arguments": {}}]}, "metadata": {"tool": tool}},
        {**trace, "spanId": span, "spanKind": "tool", "spanName": tool,
         "eventType": "tool_call_response", "timestamp": format_us(at_us + latency * 1000),
         "content": {"toolResults": {"ok": not failed}}, "metadata": done},
    ]  # fmt: skip


def trace_events(n: int, start_us: int, rng: random.Random) -> list[dict[str, Any]]:
    """One trace: model call, tool call, model call, and one time in 30 an error."""
    trace = {"traceId": f"bench-{n:08d}", "agentName": AGENTS[n % len(AGENTS)],
             "externalUserId": f"user-{rng.randrange(300)}"}  # fmt: skip
    events = _model_call(trace, start_us, rng)
    events += _tool_call(trace, start_us + 2_000_000, rng)
    events += _model_call(trace, start_us + 4_000_000, rng)
    if rng.random() < 1 / 30:
        events.append({**trace, "eventType": "error", "timestamp": format_us(start_us + 9_000_000),
                       "content": {"message": "gave up"}})  # fmt: skip
    return events


def load(db: str, events: int) -> int:
    """``events`` stored as the ingest route stores them; returns how many."""
    projects, _ = bootstrap_keys(db, [KeySpec(KEY, PROJECT)])
    project = next(iter(projects.values()))
    store = Store(db, PriceTable.load())
    rng = random.Random(7)
    traces = events // 6 + 1  # 6 events, and one time in 30 a seventh
    first_us = END_US - DAYS * DAY_US
    starts = sorted(rng.randrange(first_us, END_US - 60_000_000) for _ in range(traces))
    batch: list[dict[str, Any]] = []
    in_flight: deque[Future[Any]] = deque()
    stored = 0
    try:
        for n, start in enumerate(starts):
            batch += trace_events(n, start, rng)
            if len(batch) >= BATCH or n == traces - 1 or stored + len(batch) >= events:
                batch = batch[: events - stored]
                in_flight.append(_ingest(store, project.id, batch))
                stored, batch = stored + len(batch), []
                while len(in_flight) > IN_FLIGHT:  # several batches per commit, as servers do
                    in_flight.popleft().result()
            if stored >= events:
                break
        for future in in_flight:
            future.result()
    finally:
        store.close()
    return stored


def _ingest(store: Store, project_id: str, batch: list[dict[str, Any]]) -> Future[Any]:
    rows, issues = validate_events(batch, received_us=END_US)
    assert not issues, issues[:3]
    return store.ingest(project_id, rows)


def plain_select(db: str) -> Callable[[], int]:
    """The baseline: the same rows and columns, fetched on a connection of its own."""
    where = "project_id = (SELECT id FROM projects WHERE name = ?) AND {0} >= ? AND {0} < ?"
    params = (PROJECT, END_US - DAYS * DAY_US, END_US)
    queries = (
        f"SELECT {EVENT_COLUMNS} FROM events WHERE {where.format('ts_us')}",
        f"SELECT {TRACE_COLUMNS} FROM traces WHERE {where.format('first_ts_us')}",
    )
    if db.startswith("postgresql://"):
        import psycopg

        conn: Any = psycopg.connect(db, autocommit=True)
        queries = tuple(q.replace("?", "%s") for q in queries)
    else:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)

    def run() -> int:
        return sum(len(conn.execute(query, params).fetchall()) for query in queries)

    return run


def analyze(db: str) -> None:
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")


def measure(db: str, rounds: int) -> dict[str, Any]:
    settings = ServerSettings(port=0, db_path=db, api_keys=(f"{KEY}={PROJECT}",))
    running = start_in_thread(settings)
    client = httpx2.Client(
        base_url=running.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=600
    )
    window = {"from": format_us(END_US - DAYS * DAY_US), "to": format_us(END_US)}
    rows = plain_select(db)

    def stats(**extra: str) -> Callable[[], int]:
        def run() -> int:
            response = client.get("/api/stats", params={**window, **extra})
            assert response.status_code == 200, response.text
            return int(response.json()["totals"]["traces"])

        return run

    cases = {"stats": stats(), "stats_by_agent": stats(groupBy="agent"), "select": rows}
    times: dict[str, list[float]] = {name: [] for name in cases}
    try:
        for name, case in cases.items():
            case()  # warm the page cache and the server
        for _ in range(rounds):
            for name, case in cases.items():
                start = time.perf_counter()
                case()
                times[name].append(time.perf_counter() - start)
    finally:
        client.close()
        running.stop()
    p50 = {name: statistics.median(values) * 1000 for name, values in times.items()}
    return {"p50_ms": p50, "ratios": {n: p50[n] / p50["select"] for n in p50 if n != "select"}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--stores", default="sqlite,postgres")
    args = parser.parse_args()
    results: dict[str, Any] = {"events": args.events, "days": DAYS, "rounds": args.rounds}
    with tempfile.TemporaryDirectory() as directory:
        for store in args.stores.split(","):
            db = str(Path(directory, "stats.db")) if store == "sqlite" else pg.cluster().database()
            started = time.perf_counter()
            stored = load(db, args.events)
            analyze(db)
            loaded_s = time.perf_counter() - started
            print(f"{store}: {stored} events stored in {loaded_s:.1f} s", flush=True)
            results[store] = {"load_s": loaded_s, **measure(db, args.rounds)}
            _report(store, results[store])
    out = ROOT / "bench" / "results" / f"stats-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


def _report(store: str, result: dict[str, Any]) -> None:
    p50, ratios = result["p50_ms"], result["ratios"]
    print(f"  plain SELECT of the same rows  p50 {p50['select']:8.1f} ms")
    for name in ("stats", "stats_by_agent"):
        print(f"  /api/stats {name[6:] or '':12s}      p50 {p50[name]:8.1f} ms"
              f"   = {ratios[name]:.2f} x SELECT")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
