"""What big and hostile values cost the caller, and the hot path, against a bare call.

    python bench/bench_values.py [--quick] [--against PATH]

Each case is timed in a fresh interpreter, alternating the bare call and the traced one
(best of several runs each), in CPU time of the calling thread. The cases: the hot path
of bench_core.py (``@tool`` with capture on and off, ``with span()``, three nested spans,
tracing off) and a call with a
1 MB string, a 1 MB bytes, a 100 MB bytearray, a 1M-key dict and a raised exception with a
1 MB message. Records go to an exporter that encodes them (on the flusher thread, outside
the timed window, as the HTTP exporter would) and throws them away.

``--against PATH`` runs every case also with the whyops found at PATH (another checkout),
interleaved with this one, so a change is compared before/after in the same run. Writes
JSON to bench/results/values-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

WORKER = r"""
import gc, json, sys, time, timeit
import whyops
from whyops._tracer import TRACER
try:
    from whyops.export.encoding import encode_records
except ImportError:  # a checkout from before the encoder moved (--against)
    from whyops._wirejson import encode_records
from whyops.export import ExportResult

class EncodingExporter:
    def export(self, records):
        encode_records(records, TRACER.config.limits, None)
        return ExportResult(ok=True)
    def shutdown(self):
        pass

CASE, NUMBER, REPEAT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# CPU time of the calling thread: what the caller pays, steady on a loaded machine (other
# processes' time is not counted; the flusher works outside the timed windows).
CLOCK = time.thread_time

def bare(a, b=None):
    return a

def bare2(a, b=None):
    return bare(a, b)

def bare3(a, b=None):
    return bare2(a, b)

def fails(message):
    raise ValueError(message)

def bare_block():
    return 1

def block():
    with whyops.span("block"):
        return 1

tool = whyops.tool(bare)
tool_nocapture = whyops.tool(capture_inputs=False, capture_output=False)(bare)
n1 = whyops.tool(bare)
n2 = whyops.tool(lambda a, b=None: n1(a, b))
n3 = whyops.tool(lambda a, b=None: n2(a, b))
tool_fails = whyops.tool(fails)

def raising(fn, message):
    def call():
        try:
            fn(message)
        except ValueError:
            pass
    return call

small = (1, [1, 2])
MB = 1_000_000
VALUES = {
    "str_1mb": lambda: "s" * MB,
    "bytes_1mb": lambda: bytes(MB),
    "bytearray_100mb": lambda: bytearray(100 * MB),
    "dict_1m_keys": lambda: dict.fromkeys(range(MB)),
}
if CASE in VALUES:
    value = VALUES[CASE]()
    pair = (lambda: bare(value), lambda: tool(value))
elif CASE == "exception_1mb":
    message = "e" * MB
    pair = (raising(fails, message), raising(tool_fails, message))
elif CASE == "nested_3":
    pair = (lambda: bare3(*small), lambda: n3(*small))
elif CASE == "with_span":
    pair = (bare_block, block)
elif CASE == "capture_off":
    pair = (lambda: bare(*small), lambda: tool_nocapture(*small))
else:  # capture_on, disabled
    pair = (lambda: bare(*small), lambda: tool(*small))

if CASE != "disabled":
    whyops.configure(exporter=EncodingExporter(), max_queue_size=10**7,
                     max_batch_size=10**7, flush_interval=3600)
base, traced = [], []
with whyops.trace_context(trace_id="bench"):
    for _ in range(REPEAT):
        gc.collect()
        base.append(timeit.timeit(pair[0], number=NUMBER, timer=CLOCK) / NUMBER * 1e6)
        traced.append(timeit.timeit(pair[1], number=NUMBER, timer=CLOCK) / NUMBER * 1e6)
        whyops.flush(60)
print(json.dumps({"bare_us": min(base), "traced_us": min(traced)}))
"""

HOT = ("capture_on", "capture_off", "with_span", "nested_3", "disabled")
BIG = ("str_1mb", "bytes_1mb", "bytearray_100mb", "dict_1m_keys", "exception_1mb")


def run_case(tree: Path, case: str, number: int, repeat: int) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHYOPS_")}
    env["PYTHONPATH"] = str(tree)
    out = subprocess.run(
        [sys.executable, "-c", WORKER, case, str(number), str(repeat)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tree,
        timeout=600,
    ).stdout
    result: dict[str, float] = json.loads(out.splitlines()[-1])
    return result


def measure(trees: dict[str, Path], quick: bool) -> dict[str, dict[str, Any]]:
    """Every case in every tree, rounds interleaved across trees; best of rounds."""
    rounds = 2 if quick else 5
    plan = [(c, 2_000, 5 if quick else 9) for c in HOT] + [
        (c, 1 if c == "bytearray_100mb" else 20, 5) for c in BIG
    ]
    best: dict[str, dict[str, Any]] = {name: {} for name in trees}
    for _ in range(rounds):
        for case, number, repeat in plan:
            for name, tree in trees.items():
                row = run_case(tree, case, number, repeat)
                seen = best[name].setdefault(case, row)
                seen["bare_us"] = min(seen["bare_us"], row["bare_us"])
                seen["traced_us"] = min(seen["traced_us"], row["traced_us"])
    for rows in best.values():
        for row in rows.values():
            row["overhead_us"] = row["traced_us"] - row["bare_us"]
            row["ratio"] = row["traced_us"] / row["bare_us"]
        rows["nested_3_vs_one"] = {
            "ratio": rows["nested_3"]["overhead_us"] / rows["capture_on"]["overhead_us"]
        }
    return best


def table(best: dict[str, dict[str, Any]]) -> str:
    names = list(best)
    head = "".join(f"{n + ' bare':>16}{n + ' traced':>16}{n + ' ratio':>14}" for n in names)
    lines = [f"{'case (µs per call)':<22}{head}"]
    for case in (*HOT, *BIG):
        cells = "".join(
            f"{best[n][case]['bare_us']:>16.3f}{best[n][case]['traced_us']:>16.3f}"
            f"{best[n][case]['ratio']:>14.2f}"
            for n in names
        )
        lines.append(f"{case:<22}{cells}")
    nested = "  ".join(f"{n}: {best[n]['nested_3_vs_one']['ratio']:.2f}x" for n in names)
    lines.append(f"3 nested / one span overhead: {nested}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--against", type=Path, help="another checkout to compare with")
    args = parser.parse_args()
    trees = {"this": ROOT}
    if args.against is not None:
        trees = {"against": args.against.resolve(), "this": ROOT}
    best = measure(trees, args.quick)
    print(table(best))
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"values-{time.strftime('%Y%m%d-%H%M%S')}.json"
    trees_text = {name: str(tree) for name, tree in trees.items()}
    path.write_text(json.dumps({"trees": trees_text, "results": best}, indent=2))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
