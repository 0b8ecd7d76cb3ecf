"""What the flusher pays to encode records into the HTTP exporter's JSON body.

    python bench/bench_encode.py [--quick] [--against PATH]

Encodes batches of finished records (tool spans, LLM spans with a provider-shaped answer,
failed tool spans, manual events) into one request body, as ``HttpExporter.export`` does,
and reports records per second (best of several runs, CPU time of the thread). Each case
runs in a fresh interpreter. ``--against PATH`` runs every case also with the whyops found
at PATH (another checkout), interleaved with this one, and prints the ratio: a change is
compared before/after in the same run. Writes JSON to bench/results/encode-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = ("tool", "llm", "tool_error", "manual")

WORKER = r"""
import sys, time
try:
    from whyops.export.encoding import encode_records
    from whyops.wire.records import EventRecord, SpanKind, SpanRecord, Status, TokenUsage
except ImportError:  # a checkout from before the wire package
    from whyops._wirejson import encode_records
    from whyops.models import EventRecord, SpanKind, SpanRecord, Status, TokenUsage
from whyops._config import DEFAULT_LIMITS

CASE, NUMBER, REPEAT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
START = 1_795_000_000_123_456_789
ANSWER = {
    "object": "chat.completion", "model": "gpt-4o-mini",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "It is sunny in Paris today."}}],
    "usage": {"prompt_tokens": 31, "completion_tokens": 9, "total_tokens": 40},
}

def span(n, kind, **more):
    return SpanRecord(
        trace_id="t" * 32, span_id=f"{n:016x}", parent_span_id="b" * 16, name="search",
        kind=kind, start_time_ns=START + n, end_time_ns=START + n + 2_500_000,
        duration_ns=2_500_000, agent_name="support", **more)

def record(n):
    if CASE == "tool":
        return span(n, SpanKind.TOOL, inputs={"query": "shoes", "limit": 10},
                    output=[{"id": 1, "title": "red shoes"}], has_output=True)
    if CASE == "tool_error":
        return span(n, SpanKind.TOOL, inputs={"query": "shoes"}, status=Status.ERROR)
    if CASE == "llm":
        messages = [{"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Weather in Paris?"}]
        return span(n, SpanKind.LLM, inputs={"messages": messages, "model": "gpt-4o-mini"},
                    output=ANSWER, has_output=True, model="gpt-4o-mini", provider="openai",
                    usage=TokenUsage(31, 9, 40))
    return EventRecord({"eventType": "user_message", "traceId": "t" * 32, "agentName": "a",
                        "content": {"messages": [{"role": "user", "content": "hi"}]}})

batch = [record(n) for n in range(NUMBER)]
encode_records(batch[:10], DEFAULT_LIMITS, None)  # imports and caches
best = float("inf")
for _ in range(REPEAT):
    began = time.thread_time()
    encode_records(batch, DEFAULT_LIMITS, None)
    best = min(best, time.thread_time() - began)
print(NUMBER / best)
"""


def run(path: Path, case: str, number: int, repeat: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(path)}
    out = subprocess.run(
        [sys.executable, "-c", WORKER, case, str(number), str(repeat)],
        env=env,
        cwd=path,  # ``python -c`` puts the working directory first on sys.path
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--against", type=Path)
    args = parser.parse_args()
    number, repeat, rounds = (500, 5, 1) if args.quick else (2000, 9, 3)
    results: dict[str, dict[str, float]] = {}
    for case in CASES:
        here, there = [], []
        for _ in range(rounds):  # interleaved, so both see the same machine load
            here.append(run(ROOT, case, number, repeat))
            if args.against:
                there.append(run(args.against, case, number, repeat))
        results[case] = {"records_per_s": max(here)}
        line = f"{case:11s} {max(here):>10,.0f} records/s"
        if args.against:
            results[case]["against_records_per_s"] = max(there)
            results[case]["ratio"] = max(here) / max(there)
            line += f"   against {max(there):>10,.0f}   ratio {max(here) / max(there):.2f}"
        print(line)
    out = ROOT / "bench" / "results" / f"encode-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
