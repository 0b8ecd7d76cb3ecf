"""Benchmark of ``whyops serve --otlp-export``: spans/s forwarded, against events/s ingested.

    python bench/bench_otlp_forward.py [--spans N] [--rounds N]

Same run, same SQLite file, real ``whyops serve`` subprocesses (bench_server.Server):

- ingest (the baseline): N one-event spans (bench_server.make_event, an LLM answer with usage)
  posted in batches of 100 from 8 connections, forwarding off;
- forward: the server restarted on that file with ``--otlp-export`` to a receiver in its own
  process (it parses each request with the official protobuf bindings and counts the spans):
  the time from the start until the receiver holds all N spans, i.e. catching up on a backlog.

Prints spans/s of each and their ratio (the best round of each counts), also per second of the
server's CPU time (robust on a shared machine); writes
``bench/results/otlp-forward-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_server  # noqa: E402
import httpx2  # noqa: E402
from bench_server import Server  # noqa: E402

RECEIVER = r"""
import gzip, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
count = 0
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest.FromString(body)
        spans = sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        with lock:
            count += spans
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def do_GET(self):
        text = str(count).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(text)))
        self.end_headers(); self.wfile.write(text)
    def log_message(self, *a): pass
server = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class Receiver:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}/v1/traces"

    def count(self) -> int:
        return int(httpx2.get(f"http://127.0.0.1:{self.port}/").text)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def one_round(spans: int, directory: Path) -> dict[str, float]:
    db = str(directory / f"forward-{time.time_ns()}.db")
    server = Server(db)
    try:
        ingested = bench_server.bench_ingest(server, spans, 100, 8)
    finally:
        server.stop()
    receiver = Receiver()
    try:
        forwarding = Server(db, "--otlp-export", receiver.url)
        # From the moment it answers (its start-up is not forwarding work).
        start, already, cpu_before = time.perf_counter(), receiver.count(), forwarding.cpu_seconds()
        try:
            while receiver.count() < spans:
                time.sleep(0.02)
            elapsed = time.perf_counter() - start
            cpu = forwarding.cpu_seconds() - cpu_before
        finally:
            forwarding.stop()
        extra = receiver.count() - spans
    finally:
        receiver.stop()
    return {
        "ingest_spans_per_s": ingested["events_per_s"],
        "forward_spans_per_s": (spans - already) / elapsed,
        # robust against a busy machine: spans per second of the server's own CPU time
        "ingest_spans_per_cpu_s": ingested["events_per_server_cpu_s"],
        "forward_spans_per_cpu_s": (spans - already) / cpu,
        "sent_twice": extra,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as directory:
        for _ in range(args.rounds):
            rounds.append(one_round(args.spans, Path(directory)))
            print(json.dumps(rounds[-1]))
    ingest = max(r["ingest_spans_per_s"] for r in rounds)
    forward = max(r["forward_spans_per_s"] for r in rounds)
    print(f"ingest  {ingest:10,.0f} spans/s (batches of 100, 8 connections)")
    print(f"forward {forward:10,.0f} spans/s (catching up, one forwarder)")
    print(f"forward / ingest = {forward / ingest:.2f}")
    ingest_cpu = max(r["ingest_spans_per_cpu_s"] for r in rounds)
    forward_cpu = max(r["forward_spans_per_cpu_s"] for r in rounds)
    print(
        f"per server CPU second: ingest {ingest_cpu:,.0f}, forward {forward_cpu:,.0f} spans,"
        f" ratio {forward_cpu / ingest_cpu:.2f}"
    )
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    out = results / f"otlp-forward-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"spans": args.spans, "rounds": rounds}, indent=1))


if __name__ == "__main__":
    main()
