"""Benchmark of ``whyops serve``: ingest throughput and reading one trace.

    python bench/bench_server.py [--quick]

The server runs as a real subprocess on 127.0.0.1 with a real SQLite file; the load comes from
this process through a minimal keep-alive HTTP/1.1 client (so the client's own cost stays small
next to the server's). The baseline is plain ``sqlite3`` ``executemany`` of the same rows into
the same schema, one transaction per 100 rows, in the same run: machines are noisy, ratios are
what count. Prints a table and writes ``bench/results/server-<time>.json``.

``--baseline-tree PATH`` also runs the ingest rounds against a server started from another
checkout (interleaved with this one's, same machine, same moment) and reports this tree's rate
over that one's. ``--held`` measures how many idle half-sent requests the server holds before
a new client is refused, and whether ``/api/health`` still answers meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from whyops.server.store.ingest import _INSERT_EVENT  # noqa: E402
from whyops.server.store.schema import migrate  # noqa: E402

KEY = "whyops_bench"
GOALS = {"batch100_eps": 20_000, "single_eps": 1_500, "ratio": 1 / 3, "read_ms": 50.0}


def make_event(trace: str, n: int) -> dict[str, Any]:
    """A realistic mid-sized event: an LLM answer with usage, as the SDK sends it."""
    return {
        "eventType": "llm_response",
        "traceId": trace,
        "agentName": "bench-agent",
        "spanId": f"{n:016x}",
        "parentSpanId": "0" * 16,
        "spanKind": "llm",
        "spanName": "chat",
        "timestamp": "2026-11-27T07:03:48.123456Z",
        "idempotencyKey": f"{trace}:{n}",
        "content": {"content": "The order ships on Monday. " * 4, "finishReason": "stop"},
        "metadata": {
            "model": "gpt-4o-mini",
            "provider": "openai",
            "latencyMs": 812,
            "usage": {"promptTokens": 1200, "completionTokens": 240, "totalTokens": 1440},
        },
    }


def request_bytes(path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = re.search(rb"(?i)content-length: *(\d+)", head)
    await reader.readexactly(int(length.group(1)) if length else 0)
    return status


async def _worker(port: int, requests: list[bytes], statuses: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for raw in requests:
        writer.write(raw)
        statuses.append(await _read_response(reader))
    writer.close()


async def _load(port: int, requests: list[bytes], connections: int) -> tuple[float, list[int]]:
    statuses: list[int] = []
    shares = [requests[i::connections] for i in range(connections)]
    start = time.perf_counter()
    await asyncio.gather(*(_worker(port, share, statuses) for share in shares))
    return time.perf_counter() - start, statuses


class Server:
    def __init__(self, db: str, *args: str, tree: Path = ROOT) -> None:
        command = [sys.executable, "-m", "whyops.server.run", "--port", "0", "--db", db,
                   "--api-key", KEY, "--log-level", "warning", *args]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(tree)}
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=tree,
                                        env=env)  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        self.port = int(re.search(r":(\d+) ", line).group(1))  # type: ignore[union-attr]
        self.db = db
        for _ in range(500):
            try:
                asyncio.run(_load(self.port, [b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"], 1))
                return
            except OSError:
                time.sleep(0.02)

    def cpu_seconds(self) -> float:
        """CPU time the server process used so far (Linux; 0 elsewhere)."""
        try:
            with open(f"/proc/{self.process.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def bench_ingest(server: Server, events: int, batch: int, connections: int) -> dict[str, Any]:
    trace = f"ingest-{batch}-{time.time_ns()}"
    requests = []
    for start in range(0, events, batch):
        items = [make_event(trace, n) for n in range(start, min(start + batch, events))]
        body = items if batch > 1 else items[0]
        requests.append(request_bytes("/api/events/ingest", json.dumps(body).encode()))
    cpu_before = server.cpu_seconds()
    elapsed, statuses = asyncio.run(_load(server.port, requests, connections))
    cpu = server.cpu_seconds() - cpu_before
    conn = sqlite3.connect(server.db)
    stored = conn.execute("SELECT count(*) FROM events WHERE trace_id = ?", (trace,)).fetchone()[0]
    conn.close()
    assert statuses.count(202) == len(requests), set(statuses)
    assert stored == events, (stored, events)
    return {"events": events, "batch": batch, "connections": connections,
            "seconds": elapsed, "events_per_s": events / elapsed,
            "requests_per_s": len(requests) / elapsed,
            # robust against a busy machine: what one fully available core would sustain
            "server_cpu_us_per_event": cpu / events * 1e6,
            "events_per_server_cpu_s": events / cpu if cpu else None}  # fmt: skip


def bench_executemany(events: int, batch: int) -> dict[str, Any]:
    """Plain sqlite3: the same rows and schema, one commit per ``batch``.

    The connection is plain: WAL and synchronous=NORMAL like the server, and SQLite's own
    automatic checkpoints (the server checkpoints on a thread of its own instead; both copy
    the same pages back into the database).
    """
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(os.path.join(tmp, "plain.db"), isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn)
        rows = [_plain_row(make_event("plain", n), n) for n in range(events)]
        start = time.perf_counter()
        for first in range(0, events, batch):
            conn.execute("BEGIN")
            conn.executemany(_INSERT_EVENT, rows[first : first + batch])
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
        conn.close()
    return {"events": events, "batch": batch, "seconds": elapsed, "events_per_s": events / elapsed}


def _plain_row(event: dict[str, Any], n: int) -> tuple[Any, ...]:
    meta, usage = event["metadata"], event["metadata"]["usage"]
    return (
        f"id-{n}", "project", event["traceId"], n + 1, n or None, event["spanId"],
        event["parentSpanId"], "llm", "chat", None, event["eventType"], event["timestamp"],
        1795763028123456, event["agentName"], None, event["idempotencyKey"],
        json.dumps(event["content"]), json.dumps(meta), meta["model"], meta["provider"],
        usage["promptTokens"], usage["completionTokens"], usage["totalTokens"], None, None,
        812.0, "stop", 0, "2026-11-27T07:03:48.123456Z", None, 0.000324, "2026-09-01+0",
    )  # fmt: skip


def bench_read(server: Server, events: int, repeat: int) -> dict[str, Any]:
    import httpx2

    trace = f"read-{time.time_ns()}"
    batch = [make_event(trace, n) for n in range(events)]
    with httpx2.Client(base_url=f"http://127.0.0.1:{server.port}",
                       headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as http:  # fmt: skip
        assert http.post("/api/events/ingest", json=batch).status_code == 202
        results = {}
        paths = {
            "thread": (
                f"/api/threads/{trace}",
                {"eventLimit": events, "eventInclude": "content,metadata"},
            ),
            "spans": (f"/api/traces/{trace}/spans", {}),
            "graph": (f"/api/threads/{trace}/graph", {}),
        }  # fmt: skip
        for name, (path, params) in paths.items():
            timings = []
            for _ in range(repeat):
                start = time.perf_counter()
                response = http.get(path, params=params)
                timings.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200
                # every view covers the whole trace: one event (and one span) per posted event
                assert _items_in(name, response.json()) == events, (name, response.text[:200])
            results[name] = {"p50_ms": statistics.median(timings), "max_ms": max(timings)}
    return {"events": events, **results}


def _items_in(view: str, body: dict[str, Any]) -> int:
    if view == "thread":
        return len(body["events"])
    if view == "spans":
        return len(body["spans"])
    return len(body["graph"]["nodes"])


def _proxy_call(n: int) -> list[dict[str, Any]]:
    """What the proxy records for one model call: the request, then the answer."""
    answer = make_event(f"proxy-{n // 50}", n)
    request = {
        **answer,
        "eventType": "user_message",
        "idempotencyKey": f"{answer['idempotencyKey']}:0",
        "content": {"messages": [{"role": "user", "content": "Where is my order A1001?"}]},
        "metadata": {"model": "gpt-4o-mini", "provider": "openai", "messageCount": 1},
    }
    return [request, answer]


def _caller_us(db: str, batches: list[list[dict[str, Any]]], validate_first: bool) -> float:
    """Microseconds per call the proxy's event loop spends handing one call's events over.

    ``validate_first``: the baseline, validating on the caller before queueing (as before
    validation moved to the writer thread). Both sides run with the writer busy alike.
    """
    from whyops.server.recorder import Recorder
    from whyops.server.store import Store
    from whyops.server.timeutil import now_us
    from whyops.server.validation import validate_events

    store = Store(db)
    recorder = Recorder(store)
    started = time.perf_counter()
    for batch in batches:
        if validate_first:
            rows, _ = validate_events(batch, received_us=now_us())
            store.ingest("bench", rows)
        else:
            recorder.record("bench", batch)
    caller_us = (time.perf_counter() - started) / len(batches) * 1e6
    store.close()  # commits everything queued
    if not validate_first:
        assert (recorder.recorded, recorder.failed) == (2 * len(batches), 0), vars(recorder)
    return caller_us


def bench_recorder(folder: str, calls: int) -> dict[str, Any]:
    batches = [_proxy_call(n) for n in range(calls)]
    before = _caller_us(os.path.join(folder, f"validated-{time.time_ns()}.db"), batches, True)
    record = _caller_us(os.path.join(folder, f"recorded-{time.time_ns()}.db"), batches, False)
    return {"calls": calls, "record_us": record, "validate_then_queue_us": before,
            "ratio": record / before}  # fmt: skip


HALF_SENT = b"POST /api/events/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-"


def _health_ms(port: int) -> float | None:
    """Milliseconds for a new client's health check; None: refused (503, reset, or no answer)."""
    start = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = sock.recv(64)
    except OSError:
        return None
    return (time.perf_counter() - start) * 1000 if answer.startswith(b"HTTP/1.1 200") else None


def _still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)  # an answer (the refusal) or end of stream: not held
        return False
    except BlockingIOError:
        return True  # nothing yet: the server still holds it
    except OSError:
        return False


def bench_held(folder: str, limit: int) -> dict[str, Any]:
    """Open idle half-sent requests until a new client is refused (or ``limit`` are open)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, limit + 512)), hard))
    server = Server(os.path.join(folder, f"held-{time.time_ns()}.db"), "--header-timeout", "600")
    held: list[socket.socket] = []
    timings: list[float] = []
    refused_at = None
    try:
        while len(held) < limit and refused_at is None:
            for _ in range(250):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
                sock.sendall(HALF_SENT)
                held.append(sock)
            ms = _health_ms(server.port)
            if ms is None:
                refused_at = len(held)
            else:
                timings.append(ms)
    except OSError as exc:  # this process ran out of descriptors first
        print(f"client stopped at {len(held)} connections: {exc}")
    finally:
        time.sleep(0.5)  # let the refused ones arrive at their close
        still_held = sum(_still_open(sock) for sock in held)
        for sock in held:
            sock.close()
        server.stop()
    return {"opened": len(held), "held_by_server": still_held, "refused_at": refused_at,
            "health_p50_ms_while_held": statistics.median(timings) if timings else None,
            "health_max_ms_while_held": max(timings) if timings else None}  # fmt: skip


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return max(runs, key=lambda run: run["events_per_s"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smaller run, for CI smoke tests")
    parser.add_argument("--rounds", type=int, default=3, help="best of N, interleaved")
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        metavar="PATH",
        help="also run the ingest rounds against a server from this checkout",
    )
    parser.add_argument(
        "--held",
        type=int,
        metavar="N",
        default=0,
        help="hold up to N half-sent requests; report when a client is refused",
    )
    args = parser.parse_args()
    if args.held:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(bench_held(tmp, args.held), indent=2))
    if args.baseline_tree:
        return compare_trees(args.baseline_tree, args.rounds, 5 if args.quick else 1)
    if args.held:
        return 0
    scale, rounds = (5, 1) if args.quick else (1, args.rounds)
    batches, singles, plains, reads, recorders = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(os.path.join(tmp, "bench.db"))
        try:
            for _ in range(rounds):  # interleaved, so a noisy moment hits both sides alike
                plains.append(bench_executemany(30_000 // scale, 100))
                batches.append(bench_ingest(server, 30_000 // scale, 100, 8))
                singles.append(bench_ingest(server, 4_000 // scale, 1, 32))
                reads.append(bench_read(server, 1000, 10 // scale + 1))
                recorders.append(bench_recorder(tmp, 4_000 // scale))
        finally:
            server.stop()
    read = min(reads, key=lambda r: r["thread"]["p50_ms"])
    recorder = min(recorders, key=lambda r: r["ratio"])
    report(_best(batches), _best(singles), read, _best(plains), recorder, rounds)
    return 0


def compare_trees(baseline: Path, rounds: int, scale: int) -> int:
    """Ingest against this tree's server and ``baseline``'s, interleaved round by round."""
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        name: {"batch100": [], "single": []} for name in ("this", "baseline")
    }
    with tempfile.TemporaryDirectory() as tmp:
        servers = {"this": Server(os.path.join(tmp, "this.db")),
                   "baseline": Server(os.path.join(tmp, "base.db"), tree=baseline)}  # fmt: skip
        try:
            for _ in range(rounds):
                for name, server in servers.items():
                    runs[name]["batch100"].append(bench_ingest(server, 30_000 // scale, 100, 8))
                    runs[name]["single"].append(bench_ingest(server, 4_000 // scale, 1, 32))
        finally:
            for server in servers.values():
                server.stop()
    print(f"this tree vs {baseline}, best of {rounds} interleaved rounds")
    for kind in ("batch100", "single"):
        this, base = _best(runs["this"][kind]), _best(runs["baseline"][kind])
        cpu = this["server_cpu_us_per_event"] / base["server_cpu_us_per_event"]
        print(f"{kind:9} {this['events_per_s']:>9,.0f} vs {base['events_per_s']:>9,.0f} events/s"
              f"  ratio {this['events_per_s'] / base['events_per_s']:.2f};"
              f" server CPU per event ratio {cpu:.2f}")  # fmt: skip
    return 0


def report(
    batch100: dict, single: dict, read: dict, plain: dict, recorder: dict, rounds: int
) -> None:
    ratio = batch100["events_per_s"] / plain["events_per_s"]
    rows = [
        ("ingest, batches of 100", f"{batch100['events_per_s']:,.0f} events/s",
         f">= {GOALS['batch100_eps']:,}", batch100["events_per_s"] >= GOALS["batch100_eps"]),
        ("plain executemany (baseline)", f"{plain['events_per_s']:,.0f} events/s", "", None),
        ("  server CPU per event", f"{batch100['server_cpu_us_per_event']:.1f} us", "", None),
        ("ingest / executemany", f"{ratio:.2f}", ">= 0.33", ratio >= GOALS["ratio"]),
        ("ingest, single events", f"{single['events_per_s']:,.0f} events/s",
         f">= {GOALS['single_eps']:,}", single["events_per_s"] >= GOALS["single_eps"]),
        ("  server CPU per request", f"{single['server_cpu_us_per_event']:.0f} us", "", None),
        ("read 1,000-event thread (p50)", f"{read['thread']['p50_ms']:.1f} ms", "<= 50 ms",
         read["thread"]["p50_ms"] <= GOALS["read_ms"]),
        ("  span tree of it (p50)", f"{read['spans']['p50_ms']:.1f} ms", "", None),
        ("  graph of it (p50)", f"{read['graph']['p50_ms']:.1f} ms", "", None),
        ("proxy record(), caller's cost", f"{recorder['record_us']:.1f} us/call", "", None),
        ("  validate, then queue (baseline)",
         f"{recorder['validate_then_queue_us']:.1f} us/call", "", None),
        ("  record / baseline", f"{recorder['ratio']:.2f}", "", None),
    ]  # fmt: skip
    print(f"best of {rounds} interleaved rounds, {os.cpu_count()} CPUs")
    print(f"{'measure':34} {'result':>18} {'goal':>10}  ok")
    for name, value, goal, ok in rows:
        mark = "" if ok is None else ("yes" if ok else "NO")
        print(f"{name:34} {value:>18} {goal:>10}  {mark}")
    out = ROOT / "bench" / "results" / f"server-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"batch100": batch100, "single": single, "read": read, "executemany": plain,
               "recorder": recorder,
               "ratio": ratio, "goals": GOALS, "cpus": os.cpu_count(), "rounds": rounds,
               "load_average": os.getloadavg()}  # fmt: skip
    out.write_text(json.dumps(payload, indent=2))
    print(f"results: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
