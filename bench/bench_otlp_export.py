"""The SDK's ``otlp`` exporter against its ``http`` exporter, same workload, same run.

    python bench/bench_otlp_export.py [--quick]

Three numbers per exporter:

- delivered spans/s: a worker process emits N spans (agent turns: an agent span, a tool
  span and an LLM span returning an OpenAI answer with usage), then ``flush()``; spans
  delivered (acknowledged by the receiver) over the time from the first span to the end of
  the flush. The flusher's encoding (events, OTLP spans, protobuf) and the sending are
  what this measures.
- caller cost per span: CPU time of the calling thread while it emits, per span (the hot
  path; it should not depend on the exporter at all).
- flusher cost per span: CPU time of the flusher thread (encoding, sending, and the
  garbage collections its allocations set off), per span: what an exporter costs, steadier
  than the wall clock on a busy machine.

Both exporters send to local receivers on 127.0.0.1 in this process (an ingest sink that
answers 202, an OTLP receiver that answers 200), which count what arrived. Rounds of the two
exporters alternate, each in a fresh interpreter, best of several. Prints the ratios
otlp/http and writes ``bench/results/otlp-export-<time>.json``.
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

WORKER = r"""
import json, sys, threading, time
import whyops

N = int(sys.argv[1])
ANSWER = {
    "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "The order shipped yesterday."}}],
    "usage": {"prompt_tokens": 420, "completion_tokens": 12, "total_tokens": 432},
}

@whyops.span(kind="llm", name="openai.chat")
def ask(messages):
    return ANSWER

@whyops.tool
def lookup(order):
    return {"order": order, "status": "shipped", "eta": "2026-12-07"}

@whyops.agent("desk")
def turn(question):
    lookup("A1")
    return ask([{"role": "system", "content": "Be brief."}, {"role": "user", "content": question}])

whyops.configure(max_queue_size=N + 10, flush_interval=0.05)
started, cpu = time.perf_counter(), time.thread_time()
for i in range(N // 3):
    turn(f"where is order {i}?")
caller = time.thread_time() - cpu
report = whyops.flush(120)
[flusher] = [t for t in threading.enumerate() if t.name == "whyops-flusher"]
elapsed = time.perf_counter() - started
print(json.dumps({"spans": N // 3 * 3, "delivered": report.delivered, "dropped": report.dropped,
                  "caller_s": caller, "elapsed_s": elapsed,
                  "flusher_s": time.clock_gettime(time.pthread_getcpuclockid(flusher.ident))}))
"""


class Receiver:
    """Counts what arrives: events on the ingest path, spans on ``/v1/traces``."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

        self.events = self.spans = 0
        self.lock = threading.Lock()
        request_type = trace_service_pb2.ExportTraceServiceRequest
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path.endswith("/v1/traces"):
                    request = request_type.FromString(body)
                    count = sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
                    with receiver.lock:
                        receiver.spans += count
                    status, reply = 200, b""
                else:
                    with receiver.lock:
                        receiver.events += len(json.loads(body))
                    status, reply = 202, b"{}"
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run(exporter: str, spans: int, receiver: Receiver) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WHYOPS_", "OTEL_"))}
    env = {**clean, "PYTHONPATH": str(ROOT), "WHYOPS_EXPORTER": exporter}
    if exporter == "http":
        env.update({"WHYOPS_API_KEY": "k", "WHYOPS_ANALYSE_URL": receiver.base + "/api"})
    else:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.base
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(spans)],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout)
    if result["delivered"] != result["spans"]:
        raise SystemExit(f"{exporter}: delivered {result['delivered']} of {result['spans']}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer spans and rounds")
    args = parser.parse_args()
    spans, rounds = (3_000, 2) if args.quick else (15_000, 4)
    receiver = Receiver()
    best: dict[str, dict[str, float]] = {}
    try:
        for _ in range(rounds):
            for exporter in ("http", "otlp"):
                result = run(exporter, spans, receiver)
                rate = result["spans"] / result["elapsed_s"]
                cost = result["caller_s"] / result["spans"] * 1e6
                flusher = result["flusher_s"] / result["spans"] * 1e6
                start = {"spans_per_s": 0.0, "caller_us": float("inf"), "flusher_us": float("inf")}
                kept = best.setdefault(exporter, start)
                kept["spans_per_s"] = max(kept["spans_per_s"], rate)
                kept["caller_us"] = min(kept["caller_us"], cost)
                kept["flusher_us"] = min(kept["flusher_us"], flusher)
    finally:
        receiver.close()
    expected_spans = rounds * spans // 3 * 3
    assert receiver.spans == expected_spans, receiver.spans
    assert receiver.events == 2 * expected_spans, receiver.events
    ratios = {
        "delivered_spans_per_s_otlp_over_http": best["otlp"]["spans_per_s"]
        / best["http"]["spans_per_s"],
        "caller_us_per_span_otlp_over_http": best["otlp"]["caller_us"] / best["http"]["caller_us"],
        "flusher_us_per_span_otlp_over_http": best["otlp"]["flusher_us"]
        / best["http"]["flusher_us"],
    }
    print(f"{'exporter':<10}{'delivered spans/s':>20}{'caller us/span':>18}{'flusher us/span':>17}")
    for name, kept in best.items():
        print(
            f"{name:<10}{kept['spans_per_s']:>20,.0f}{kept['caller_us']:>18.2f}"
            f"{kept['flusher_us']:>17.2f}"
        )
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    path = out_dir / f"otlp-export-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(
        json.dumps({"spans": spans, "rounds": rounds, "best": best, **ratios}, indent=2)
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
