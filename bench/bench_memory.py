"""Memory of a traced program whose backend is dead, against the same loop untraced.

    python bench/bench_memory.py [--spans N] [--tree PATH ...]

Each variant runs in its own interpreter: a loop of ``--spans`` calls (200k), each passing
a fresh 64 kB string, and every 100th call a fresh 1 MB bytearray, to a function that
returns its length. Traced variants export over HTTP to a backend that accepts connections
and never answers, so nothing leaves the queue. RSS is read from ``/proc/self/statm``
before and after the loop (after a ``gc.collect()``); the bare variant runs the same loop
undecorated, interleaved with the traced ones, in the same run.

Also measured, per tree: the cost of one ``BatchProcessor.submit`` (the hand-off every
ended span takes on the caller's thread), over a queue that never fills.

``--tree`` runs the traced variants against other checkouts too (e.g. an older commit), so
before and after are measured in one run. Prints a table and writes JSON to
``bench/results/memory-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

LOOP = r"""
import gc, json, os, sys, time

def rss_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

def size(text, blob=None):
    return len(text) + (len(blob) if blob is not None else 0)

if sys.argv[1] == "traced":
    import whyops
    whyops.configure(api_key="k", analyse_url=sys.argv[3], exit_timeout=0, flush_interval=0.05)
    size = whyops.tool(size)
spans = int(sys.argv[2])
gc.collect()
before = rss_mb()
started = time.perf_counter()
for i in range(spans):
    text = "x" * 65_536 + str(i)
    size(text, bytearray(2**20)) if i % 100 == 0 else size(text)
seconds = time.perf_counter() - started
gc.collect()
report = {"rss_added_mb": rss_mb() - before, "us_per_call": seconds / spans * 1e6}
if sys.argv[1] == "traced":
    flushed = whyops.flush(0)
    report["dropped"], report["pending"] = flushed.dropped, flushed.pending
print(json.dumps(report))
"""

SUBMIT = r"""
import inspect, json, sys, time
from whyops.export import ExportResult
from whyops.export.batch import BatchProcessor

class Null:
    def export(self, records):
        return ExportResult(ok=True)
    def shutdown(self):
        pass

class Item:
    __slots__ = ("approx_bytes",)
    def __init__(self):
        self.approx_bytes = 1_000

count = int(sys.argv[1])
items = [Item() for _ in range(count)]
best = float("inf")
# A queue that never fills: measured is the hand-off, not the drop path.
unbounded = {"max_queue_size": 10**9, "max_batch_size": 10**9, "flush_interval": 3600}
if "max_queue_bytes" in inspect.signature(BatchProcessor).parameters:
    unbounded["max_queue_bytes"] = 10**15
for _ in range(7):
    processor = BatchProcessor(Null(), **unbounded)
    submit = processor.submit
    submit(items[0])  # starts the flusher thread, which then sleeps
    started = time.perf_counter()
    for item in items:
        submit(item)
    best = min(best, (time.perf_counter() - started) / count)
print(json.dumps({"ns_per_submit": best * 1e9}))
"""


def _dead_backend() -> tuple[socket.socket, str]:
    """A listening socket nobody reads from: connections succeed, answers never come."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(512)
    return listener, f"http://127.0.0.1:{listener.getsockname()[1]}/api"


def _run(code: str, tree: Path, *args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHYOPS_")}
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, timeout=600, env={**env, "PYTHONPATH": str(tree)},
        cwd=tree,  # ``-c`` puts the working directory first on sys.path
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{tree}: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def measure(trees: list[Path], spans: int, rounds: int) -> dict[str, Any]:
    """Per variant, the median over ``rounds`` interleaved runs."""
    listener, url = _dead_backend()
    samples: dict[str, list[dict[str, Any]]] = {"bare": []}
    samples.update({str(tree): [] for tree in trees})
    submits: dict[str, list[float]] = {str(tree): [] for tree in trees}
    try:
        for _ in range(rounds):
            samples["bare"].append(_run(LOOP, ROOT, "bare", str(spans)))
            for tree in trees:
                samples[str(tree)].append(_run(LOOP, tree, "traced", str(spans), url))
                submits[str(tree)].append(_run(SUBMIT, tree, "200000")["ns_per_submit"])
    finally:
        listener.close()
    result: dict[str, Any] = {}
    for name, runs in samples.items():
        runs.sort(key=lambda r: r["rss_added_mb"])
        result[name] = runs[len(runs) // 2]
        if name in submits:
            result[name]["ns_per_submit"] = sorted(submits[name])[len(submits[name]) // 2]
    return result


def print_table(results: dict[str, Any], spans: int) -> None:
    bare = results["bare"]
    print(f"{spans} calls, 64 kB string each (+1 MB bytearray every 100th), dead backend")
    print(f"{'variant':<32} {'RSS added':>10} {'us/call':>8} {'x bare':>7} {'submit ns':>10}")
    for name, row in results.items():
        ratio = row["us_per_call"] / bare["us_per_call"]
        submit = f"{row['ns_per_submit']:.0f}" if "ns_per_submit" in row else "-"
        label = "bare loop" if name == "bare" else f"traced: {name}"
        print(
            f"{label:<32} {row['rss_added_mb']:>8.1f}MB {row['us_per_call']:>8.2f} "
            f"{ratio:>7.1f} {submit:>10}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--tree", action="append", type=Path, default=[])
    args = parser.parse_args()
    trees = [*args.tree, ROOT] if ROOT not in args.tree else args.tree
    results = measure([t.resolve() for t in trees], args.spans, args.rounds)
    print_table(results, args.spans)
    out = ROOT / "bench" / "results" / f"memory-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"spans": args.spans, "results": results}, indent=2))
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
