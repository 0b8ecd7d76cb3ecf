"""Benchmarks of the tracing core, as ratios against a baseline measured in the same run.

    python bench/bench_core.py [--quick]

Prints a table and writes JSON to bench/results/core-<time>.json:

- hot path: overhead per decorated call over the bare call (capture on, capture off, three
  nested, ``with whyops.span()``, tracing off), interleaved with the bare baseline;
- throughput: spans/s one thread emits while the flusher ships them to a local HTTP sink
  (a separate process on 127.0.0.1), all arriving; then the exact drop count above capacity;
- memory after 100k spans with a dead backend (tracemalloc, in a subprocess);
- ``import whyops`` time (subprocesses, against a bare interpreter start).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import whyops  # noqa: E402
from whyops._tracer import TRACER  # noqa: E402
from whyops.export import ExportResult  # noqa: E402
from whyops.wire.records import Record  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


class NullExporter:
    """Freezes records (as every exporter's input is) and throws them away."""

    def export(self, records: Sequence[Record]) -> ExportResult:
        return ExportResult(ok=True)

    def shutdown(self) -> None:
        pass


# -- hot path -----------------------------------------------------------------------------


def bare(a: int, b: list[int] | None = None) -> int:
    return a


def bare3(a: int, b: list[int] | None = None) -> int:
    return bare2(a, b)


def bare2(a: int, b: list[int] | None = None) -> int:
    return bare(a, b)


tool = whyops.tool(bare)
tool_nocapture = whyops.tool(capture_inputs=False, capture_output=False)(bare)
n1 = whyops.tool(bare)
n2 = whyops.tool(lambda a, b=None: n1(a, b))
n3 = whyops.tool(lambda a, b=None: n2(a, b))


def block() -> int:
    with whyops.span("block"):
        return 1


def bare_block() -> int:
    return 1


def per_call(stmt: Callable[[], Any], number: int) -> float:
    return timeit.timeit(stmt, number=number) / number * 1e6


def overhead(
    baseline: Callable[[], Any],
    subject: Callable[[], Any],
    number: int,
    repeat: int,
    flush_timeout: float = 30.0,
) -> tuple[float, float]:
    """(best bare µs, best subject µs), timed alternately so load affects both alike."""
    base, sub = [], []
    for _ in range(repeat):
        base.append(per_call(baseline, number))
        sub.append(per_call(subject, number))
        whyops.flush(flush_timeout)  # export outside the timed window
    return min(base), min(sub)


def hot_path(quick: bool) -> dict[str, Any]:
    number, repeat = (2_000, 7) if quick else (2_000, 21)
    tracer = TRACER
    tracer.set_exporter(None)
    args = (1, [1, 2])
    results: dict[str, Any] = {}
    base, sub = overhead(lambda: bare(*args), lambda: tool(*args), number, repeat)
    results["disabled"] = {"bare_us": base, "decorated_us": sub}
    whyops.configure(
        exporter=NullExporter(), max_queue_size=10**7, max_batch_size=10**7, flush_interval=3600
    )
    cases = {
        "capture_on": (lambda: bare(*args), lambda: tool(*args)),
        "capture_off": (lambda: bare(*args), lambda: tool_nocapture(*args)),
        "nested_3": (lambda: bare3(*args), lambda: n3(*args)),
        "with_span": (bare_block, block),
    }
    with whyops.trace_context(trace_id="bench"):  # as inside an agent run
        for name, (baseline, subject) in cases.items():
            base, sub = overhead(baseline, subject, number, repeat)
            results[name] = {"bare_us": base, "decorated_us": sub}
    base, sub = overhead(lambda: bare(*args), lambda: tool(*args), number, repeat)
    results["capture_on_new_trace"] = {"bare_us": base, "decorated_us": sub}
    whyops.shutdown(5)
    with socket.socket() as s:  # a port nobody listens on: every export attempt fails
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/api"
    whyops.configure(api_key="bench", analyse_url=dead, max_retries=10**6)
    with whyops.trace_context(trace_id="bench"):
        base, sub = overhead(lambda: bare(*args), lambda: tool(*args), number, repeat, 0.0)
    results["capture_on_dead_backend"] = {"bare_us": base, "decorated_us": sub}
    whyops.shutdown(0.5)
    for row in results.values():
        row["overhead_us"] = row["decorated_us"] - row["bare_us"]
        row["ratio"] = row["decorated_us"] / row["bare_us"]
    results["nested_3_vs_one"] = (
        results["nested_3"]["overhead_us"] / results["capture_on"]["overhead_us"]
    )
    return results


# -- throughput ---------------------------------------------------------------------------

SINK = r"""
import gzip, http.server, sys, threading
count = [0]
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        # Every WhyOps event has exactly one "eventType" key: counting it is exact for these
        # payloads and keeps the sink from being the bottleneck being measured.
        n = body.count(b'"eventType"')
        with lock:
            count[0] += n
        # One write for the whole answer: split writes meet delayed ACKs (40 ms stalls).
        self.wfile.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
        self.wfile.flush()
    def do_GET(self):
        data = str(count[0]).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(data)))
        self.end_headers(); self.wfile.write(data)
    def log_message(self, *a): pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class SinkProcess:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True, env=ENV
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}/api"

    def count(self) -> int:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=10) as r:
            return int(r.read())

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def emit(n: int) -> float:
    work = whyops.tool(bare)
    started = time.perf_counter()
    with whyops.trace_context(trace_id="throughput"):
        for i in range(n):
            work(i)
    return time.perf_counter() - started


def flusher_alone(sink: SinkProcess, n: int) -> dict[str, Any]:
    """Queue ``n`` spans first, then time the flusher draining them to the sink."""
    before = sink.count()
    whyops.configure(api_key="bench", analyse_url=sink.url, max_queue_size=n, flush_interval=3600)
    (processor,) = TRACER._processors
    processor.max_batch_size = n + 1  # type: ignore[attr-defined]  # hold the queue
    emit(n)
    processor.max_batch_size = 512  # type: ignore[attr-defined]
    started = time.perf_counter()
    report = whyops.flush(120)
    drain_s = time.perf_counter() - started
    drained = sink.count() - before
    whyops.shutdown(5)
    return {
        "flusher_only_spans_per_s": n / drain_s,
        "flusher_only_all_arrived": drained == 2 * n and report.delivered == n,
    }


def throughput(quick: bool) -> dict[str, Any]:
    n = 20_000 if quick else 100_000
    sink = SinkProcess()
    try:
        whyops.configure(
            api_key="bench", analyse_url=sink.url, max_queue_size=n, flush_interval=0.2
        )
        started = time.perf_counter()
        emit_s = emit(n)
        report = whyops.flush(120)
        total_s = time.perf_counter() - started
        arrived = sink.count()
        whyops.shutdown(5)
        lossless = {
            "spans": n,
            "emit_spans_per_s": n / emit_s,
            "delivered_spans_per_s": n / total_s,
            "delivered": report.delivered,
            "dropped": report.dropped,
            "events_arrived": arrived,
            "all_arrived": arrived == 2 * n and report.dropped == 0,
        }
        lossless.update(flusher_alone(sink, n))
        before = sink.count()
        whyops.configure(
            api_key="bench",
            analyse_url=sink.url,
            max_queue_size=1_000,
            max_batch_size=512,
            flush_interval=0.2,
        )
        emit(n)
        report = whyops.flush(120)
        arrived = sink.count() - before
        whyops.shutdown(5)
        over = {
            "spans": n,
            "queue": 1_000,
            "delivered": report.delivered,
            "dropped": report.dropped,
            "events_arrived": arrived,
            "exact": report.delivered + report.dropped == n and arrived == 2 * report.delivered,
        }
    finally:
        sink.close()
    return {"lossless": lossless, "over_capacity": over}


# -- memory and import time ---------------------------------------------------------------

MEMORY = r"""
import gc, json, sys, time, tracemalloc, whyops
port = int(sys.argv[1])
tracemalloc.start()
whyops.configure(api_key="k", analyse_url=f"http://127.0.0.1:{port}/api", max_retries=1000)
work = whyops.tool(lambda q, payload: payload)
gc.collect(); base = tracemalloc.get_traced_memory()[0]
for i in range(100_000):
    work("query %d" % i, {"text": "x" * 200, "i": i})
gc.collect(); after = tracemalloc.get_traced_memory()[0]
report = whyops.flush(0.5)
print(json.dumps({"bytes": after - base, "dropped": report.dropped, "pending": report.pending,
                  "queue_cap": whyops._tracer.TRACER.config.max_queue_size}))
"""


def memory() -> dict[str, Any]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = subprocess.run(
        [sys.executable, "-c", MEMORY, str(port)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
        check=True,
    )
    data = json.loads(out.stdout)
    data["mib"] = data["bytes"] / 2**20
    data["bytes_per_queued_record"] = data["bytes"] / max(1, data["pending"])
    return data


def _importtime_us(module: str) -> int:
    """Cumulative import time of ``module`` from ``python -X importtime`` (µs)."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    for line in out.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1])
    raise RuntimeError(f"no importtime line for {module}")


def import_time(quick: bool) -> dict[str, Any]:
    runs = 5 if quick else 11
    whyops_us = min(_importtime_us("whyops") for _ in range(runs))
    attrs_us = min(_importtime_us("attrs") for _ in range(runs))
    otel_us = None
    try:
        otel_us = min(_importtime_us("opentelemetry.trace") for _ in range(runs))
    except (RuntimeError, subprocess.CalledProcessError):
        pass
    probe = "import sys, whyops; print(int('httpx2' in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], env=ENV, capture_output=True, text=True, check=True
    ).stdout.strip()
    return {
        "import_whyops_ms": whyops_us / 1000,
        "import_attrs_ms": attrs_us / 1000,
        "import_opentelemetry_api_ms": None if otel_us is None else otel_us / 1000,
        "httpx2_loaded_on_import": loaded == "1",
    }


# -- report -------------------------------------------------------------------------------


#: (what, where in the results, how it compares, goal): the targets in docs/core.md.
GOALS = (
    ("capture-on overhead (µs)", "hot_path.capture_on.overhead_us", "<=", 5),
    ("disabled overhead (µs)", "hot_path.disabled.overhead_us", "<=", 0.3),
    ("3 nested / one span", "hot_path.nested_3_vs_one", "<=", 3),
    ("spans emitted per s", "throughput.lossless.emit_spans_per_s", ">=", 100_000),
    ("spans delivered per s", "throughput.lossless.delivered_spans_per_s", ">=", 50_000),
    ("import whyops (ms)", "import.import_whyops_ms", "<=", 50),
)


def verdicts(results: dict[str, Any]) -> list[str]:
    """One "met"/"MISSED" line per goal."""
    lines = []
    for what, where, op, goal in GOALS:
        value: Any = results
        for key in where.split("."):
            value = value[key]
        met = value <= goal if op == "<=" else value >= goal
        lines.append(f"  {what:<26} {value:>12,.2f} {op} {goal:<9,g} {'met' if met else 'MISSED'}")
    return lines


def table(results: dict[str, Any]) -> str:
    hot = results["hot_path"]
    lines = [
        "hot path (µs per call, best of interleaved runs)",
        f"  {'case':<22}{'bare':>9}{'traced':>9}{'overhead':>10}{'ratio':>8}",
    ]
    for name, row in hot.items():
        if isinstance(row, dict):
            lines.append(
                f"  {name:<22}{row['bare_us']:>9.3f}{row['decorated_us']:>9.3f}"
                f"{row['overhead_us']:>10.3f}{row['ratio']:>8.1f}"
            )
    lines.append(f"  nested 3 / one span overhead: {hot['nested_3_vs_one']:.2f}x")
    t = results["throughput"]
    lossless, over = t["lossless"], t["over_capacity"]
    lines += [
        "throughput (HTTP sink in another process on 127.0.0.1)",
        f"  emitted {lossless['emit_spans_per_s']:,.0f} spans/s; delivered "
        f"{lossless['delivered_spans_per_s']:,.0f} spans/s end to end; all arrived: "
        f"{lossless['all_arrived']}",
        f"  flusher alone (queue filled first): {lossless['flusher_only_spans_per_s']:,.0f} "
        f"spans/s; all arrived: {lossless['flusher_only_all_arrived']}",
        f"  over capacity (queue {over['queue']}): delivered {over['delivered']}, dropped "
        f"{over['dropped']}, events arrived {over['events_arrived']}; exact: {over['exact']}",
    ]
    m = results["memory"]
    lines.append(
        f"memory after 100k spans, dead backend: {m['mib']:.1f} MiB traced "
        f"({m['pending']} records held, cap {m['queue_cap']}, {m['dropped']} dropped)"
    )
    imp = results["import"]
    lines.append(
        f"import whyops: {imp['import_whyops_ms']:.1f} ms (-X importtime; of which attrs "
        f"{imp['import_attrs_ms']:.1f} ms); httpx2 loaded: {imp['httpx2_loaded_on_import']}"
    )
    return "\n".join([*lines, "goals", *verdicts(results)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "hot_path": hot_path(args.quick),
        "throughput": throughput(args.quick),
        "memory": memory(),
        "import": import_time(args.quick),
    }
    print(table(results))
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"core-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
