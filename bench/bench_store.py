"""Benchmark of the two stores, same run: ingest, reading one trace, proxy latency.

    python bench/bench_store.py [--quick] [--rounds N] [--no-fsync]

Every server is a real ``whyops serve`` subprocess (bench_server.Server): one on a SQLite
file, and two replicas on one PostgreSQL 15 database, started for the run from the server
binaries (tests/pg.py) with PostgreSQL's own durability settings (fsync on every commit).
``--no-fsync`` runs it as the tests do (``fsync=off``, ``full_page_writes=off``): the
durability class of the SQLite store (``synchronous=NORMAL``: a commit survives the process,
not the machine), to compare the two stores' own work rather than the disk's flush latency.

- Ingest: events/s in batches of 100 from 8 keep-alive connections (each its own trace), to
  the SQLite server, to one PostgreSQL replica, and spread over both replicas; the floors are
  a raw psycopg ``COPY`` of the same rows into the same PostgreSQL schema (and plain sqlite3
  ``executemany`` for SQLite), one transaction per 100 rows. Rounds are interleaved, so a
  noisy moment hits every side alike; the best round of each counts.
- Read: a 1,000-event trace as thread, span tree and graph (p50), on each store.
- Proxy: what the proxy adds to an OpenAI chat call (simulator direct vs. through the proxy,
  alternating; bench_proxy.scenario), on each store.

Prints a table of ratios and writes ``bench/results/store-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_proxy  # noqa: E402
import bench_server  # noqa: E402
import httpx2  # noqa: E402
from bench_server import KEY, Server, _plain_row, _worker, make_event, request_bytes  # noqa: E402

from tests import pg  # noqa: E402
from whyops.server.store.ingest import _INSERT_EVENT  # noqa: E402

GOAL_PG_OVER_SQLITE = 0.5
BATCH = 100
CONNECTIONS = 8
EVENT_COLUMNS = re.search(r"events \(([^)]*)\)", _INSERT_EVENT).group(1)  # type: ignore[union-attr]


async def _spread(ports: list[int], requests: list[list[bytes]]) -> tuple[float, list[int]]:
    """Each connection's requests to its replica (connections taken round-robin)."""
    statuses: list[int] = []
    start = time.perf_counter()
    await asyncio.gather(
        *(_worker(ports[i % len(ports)], share, statuses) for i, share in enumerate(requests))
    )
    return time.perf_counter() - start, statuses


def stored(db: str, traces: list[str]) -> int:
    query = "SELECT count(*) FROM events WHERE trace_id = ANY(%s)"
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db, autocommit=True) as conn:
            row = conn.execute(query, (traces,)).fetchone()
            return int(row[0]) if row else 0
    marks = ", ".join("?" * len(traces))
    with sqlite3.connect(db) as conn:
        count = f"SELECT count(*) FROM events WHERE trace_id IN ({marks})"
        return int(conn.execute(count, traces).fetchone()[0])


def bench_ingest(servers: list[Server], events: int) -> dict[str, Any]:
    """``events`` in batches of 100, one trace per connection, spread over ``servers``."""
    run = time.time_ns()
    traces = [f"ingest-{run}-{c}" for c in range(CONNECTIONS)]
    requests: list[list[bytes]] = [[] for _ in traces]
    for index, first in enumerate(range(0, events, BATCH)):
        connection = index % CONNECTIONS
        batch = [make_event(traces[connection], n) for n in range(first, first + BATCH)]
        requests[connection].append(request_bytes("/api/events/ingest", json.dumps(batch).encode()))
    cpu_before = sum(server.cpu_seconds() for server in servers)
    elapsed, statuses = asyncio.run(_spread([s.port for s in servers], requests))
    cpu = sum(server.cpu_seconds() for server in servers) - cpu_before
    assert statuses.count(202) == len(statuses), set(statuses)
    assert stored(servers[0].db, traces) == events
    return {"events": events, "seconds": elapsed, "events_per_s": events / elapsed,
            "server_cpu_us_per_event": cpu / events * 1e6}  # fmt: skip


def bench_copy(url: str, events: int) -> dict[str, Any]:
    """The floor: raw psycopg ``COPY`` of the same rows, one transaction per 100."""
    import psycopg

    run = time.time_ns()
    rows = [(f"{run}-{n}", *_plain_row(make_event(f"copy-{run}", n), n)[1:]) for n in range(events)]
    with psycopg.connect(url) as conn:
        start = time.perf_counter()
        for first in range(0, events, BATCH):
            with conn.cursor().copy(f"COPY events ({EVENT_COLUMNS}) FROM STDIN") as copy:
                for row in rows[first : first + BATCH]:
                    copy.write_row(row)
            conn.commit()
        elapsed = time.perf_counter() - start
    return {"events": events, "seconds": elapsed, "events_per_s": events / elapsed}


def bench_proxy_added(server: Server, calls: int) -> dict[str, dict[str, float]]:
    """What the proxy adds to an OpenAI chat call, whole answer and first streamed chunk."""
    base = f"http://127.0.0.1:{server.port}"
    headers = {**bench_proxy.OPENAI_HEADERS, "Authorization": f"Bearer {KEY}"}
    cases = {
        "whole": (bench_proxy.CHAT, bench_proxy.whole),
        "stream": ({**bench_proxy.CHAT, "stream": True}, bench_proxy.first_chunk),
    }
    route = "/v1/chat/completions"
    with httpx2.Client(timeout=30) as client:
        return {
            name: bench_proxy.scenario(
                client, base + "/simulator", base, route, body, headers, timer, calls
            )
            for name, (body, timer) in cases.items()
        }


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return max(runs, key=lambda run: run["events_per_s"])


def measure(folder: str, url: str, rounds: int, scale: int) -> dict[str, Any]:
    events = 30_000 // scale
    sqlite = Server(os.path.join(folder, "bench.db"), "--simulate")
    replicas = [Server(url, "--simulate"), Server(url, "--simulate")]
    sides = {"sqlite": [sqlite], "pg x1": replicas[:1], "pg x2": replicas}
    ingest: dict[str, list[dict[str, Any]]] = {name: [] for name in [*sides, "copy", "executemany"]}
    try:
        for _ in range(rounds):  # interleaved, so a noisy moment hits every side alike
            for name, servers in sides.items():
                ingest[name].append(bench_ingest(servers, events))
            ingest["copy"].append(bench_copy(url, events))
            ingest["executemany"].append(bench_server.bench_executemany(events, BATCH))
        stores = {"sqlite": sqlite, "pg x1": replicas[0]}
        repeat = 10 // scale + 1
        reads = {name: bench_server.bench_read(s, 1000, repeat) for name, s in stores.items()}
        proxy = {name: bench_proxy_added(s, 400 // scale) for name, s in stores.items()}
    finally:
        for server in [sqlite, *replicas]:
            server.stop()
    return {"ingest": {name: best(runs) for name, runs in ingest.items()}, "read": reads,
            "proxy": proxy, "rounds": rounds, "cpus": os.cpu_count(),
            "load_average": os.getloadavg()}  # fmt: skip


def report(results: dict[str, Any]) -> None:
    ingest, read, proxy = results["ingest"], results["read"], results["proxy"]
    eps = {name: run["events_per_s"] for name, run in ingest.items()}
    fsync = "on (every commit flushed)" if results["postgres_fsync"] else "off"
    print(f"best of {results['rounds']} interleaved rounds, {results['cpus']} CPUs,"
          f" PostgreSQL fsync {fsync}")  # fmt: skip
    print(f"{'ingest, batches of 100':34} {'events/s':>10} {'/ floor':>8} {'CPU us/event':>13}")
    for name in ("sqlite", "pg x1", "pg x2", "copy", "executemany"):
        floor = eps["executemany"] if name in ("sqlite", "executemany") else eps["copy"]
        cpu = ingest[name].get("server_cpu_us_per_event")
        cpu_text = f"{cpu:13.1f}" if cpu is not None else f"{'':13}"
        print(f"  {name:32} {eps[name]:>10,.0f} {eps[name] / floor:>8.2f} {cpu_text}")
    ratio = eps["pg x1"] / eps["sqlite"]
    verdict = "met" if ratio >= GOAL_PG_OVER_SQLITE else "MISSED"
    print(f"  {'pg x1 / sqlite':32} {ratio:>10.2f}   goal >= {GOAL_PG_OVER_SQLITE}: {verdict}")
    print(f"  {'pg x2 / pg x1':32} {eps['pg x2'] / eps['pg x1']:>10.2f}")
    print(f"{'read 1,000-event trace (p50 ms)':34} {'thread':>10} {'spans':>8} {'graph':>8}")
    for name, r in read.items():
        print(f"  {name:32} {r['thread']['p50_ms']:>10.1f} {r['spans']['p50_ms']:>8.1f}"
              f" {r['graph']['p50_ms']:>8.1f}")  # fmt: skip
    thread = read["pg x1"]["thread"]["p50_ms"] / read["sqlite"]["thread"]["p50_ms"]
    print(f"  {'pg x1 / sqlite (thread)':32} {thread:>10.2f}")
    print(f"{'proxy added (ms, p50/p99)':34} {'whole':>13} {'first chunk':>13}")
    for name, cases in proxy.items():
        whole, stream = cases["whole"], cases["stream"]
        print(f"  {name:32} {whole['added_p50_ms']:>6.2f}/{whole['added_p99_ms']:<6.2f}"
              f" {stream['added_p50_ms']:>6.2f}/{stream['added_p99_ms']:<6.2f}")  # fmt: skip
    out = ROOT / "bench" / "results" / f"store-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"results: {out.relative_to(ROOT)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smaller run, for smoke tests")
    parser.add_argument("--rounds", type=int, default=3, help="best of N, interleaved")
    parser.add_argument("--no-fsync", action="store_true", help="PostgreSQL with fsync=off")
    args = parser.parse_args()
    missing = pg.missing_reason()
    if missing:
        print(f"bench_store: PostgreSQL: {missing}", file=sys.stderr)
        return 2
    scale, rounds = (5, 1) if args.quick else (1, args.rounds)
    cluster = pg.Cluster(durable=not args.no_fsync)
    try:
        cluster.start()
        with tempfile.TemporaryDirectory() as folder:
            results = measure(folder, cluster.database("bench"), rounds, scale)
            report({**results, "postgres_fsync": not args.no_fsync})
    finally:
        cluster.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
