"""Benchmark of the OTLP translation alone: ``whyops.otlp.inbound.translate`` of an export of
100 GenAI spans, against the ingest route's own validation of the events it gives (the work
``POST /api/events/ingest`` does for the same events), same process, same run.

    python bench/bench_otlp_translate.py [--quick] [--against /path/to/other/tree]

Three shapes of export: ``flat``, the one ``bench/bench_otlp_ingest.py`` sends (agent turns of
``invoke_agent``, two ``chat`` calls with messages and usage, two ``execute_tool`` calls);
``deployed``, the same spans from a service whose resource detectors add 25 attributes;
``nested``, the same spans each the child of the one before (a recursive agent). Each tree named
(this one, and ``--against`` another checkout to compare with) is timed in a child process of
its own; rounds alternate between the trees so the machine's noise hits both alike, and each
time is the least seen (other processes only ever add to one). Reported: microseconds per span
for translating and for validating, their ratio, and with ``--against`` this tree's translate
time over the other's.
Prints a table and writes ``bench/results/otlp-translate-<time>.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPANS = 100


def _child(tree: str, requests_path: str, repeats: int) -> None:
    """Time translate and validate on ``tree``'s code; print microseconds per span of each
    shape as JSON.

    Each request's time is the least of its repeats: the machine is shared, and what other
    processes take only ever adds to a time.
    """
    sys.path.insert(0, tree)
    from whyops.otlp.inbound import translate
    from whyops.server.validation import validate_events

    shapes = json.loads(Path(requests_path).read_text())
    received = time.time_ns() // 1000
    result: dict[str, dict[str, float]] = {}
    for shape, requests in shapes.items():
        spent_translate = spent_validate = 0.0
        for request in requests:
            least_translate = least_validate = float("inf")
            for _ in range(repeats):
                started = time.perf_counter()
                events = translate(request).events
                translated = time.perf_counter()
                validate_events(events, received_us=received)
                least_translate = min(least_translate, translated - started)
                least_validate = min(least_validate, time.perf_counter() - translated)
            spent_translate += least_translate
            spent_validate += least_validate
        spans = SPANS * len(requests)
        result[shape] = {"translate_us": spent_translate / spans * 1e6}
        result[shape]["validate_us"] = spent_validate / spans * 1e6
    print(json.dumps(result))


def _round(tree: str, requests_path: str, repeats: int) -> dict[str, dict[str, float]]:
    command = [sys.executable, __file__, "--child", tree, requests_path, str(repeats)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out))


#: Resource attributes of a service deployed with the SDK's resource detectors (Kubernetes).
DEPLOYED = {
    **{f"k8s.{part}.name": f"checkout-{part}" for part in ("pod", "node", "namespace", "app")},
    **{f"process.{part}": f"value of {part}" for part in ("command", "executable.path", "owner")},
    "process.command_args": ["python", "-m", "checkout", "--port", "8080"],
    "process.pid": 4242,
    "process.runtime.name": "cpython",
    "process.runtime.version": "3.12.7",
    "host.name": "ip-10-0-3-17",
    "host.arch": "amd64",
    "os.type": "linux",
    "cloud.provider": "aws",
    "cloud.region": "eu-west-1",
    "container.id": "5f0c3d2a9b7e" * 5,
    "service.name": "bench",
    "service.version": "2.4.1",
    "deployment.environment.name": "production",
    "telemetry.sdk.language": "python",
    "telemetry.sdk.name": "opentelemetry",
    "telemetry.sdk.version": "1.38.0",
}


def _shapes(count: int) -> dict[str, list[dict[str, Any]]]:
    """The exports timed: as ``bench_otlp_ingest`` sends them; the same spans from a deployed
    service (a resource of 25 attributes); a run nested 100 deep (each span the previous
    one's child, as a recursive agent's steps are)."""
    sys.path.insert(0, str(ROOT / "bench"))
    sys.path.insert(0, str(ROOT))
    from bench_otlp_ingest import export_request

    from whyops.otlp.attributes import key_values

    flat = [export_request() for _ in range(count)]
    deployed = [export_request() for _ in range(count)]
    for request in deployed:
        request["resourceSpans"][0]["resource"]["attributes"] = key_values(DEPLOYED)
    nested = [export_request() for _ in range(count)]
    for request in nested:
        spans = request["resourceSpans"][0]["scopeSpans"][0]["spans"]
        for parent, child in itertools.pairwise(spans):
            child["traceId"], child["parentSpanId"] = parent["traceId"], parent["spanId"]
    return {"flat": flat, "deployed": deployed, "nested": nested}


def run(trees: dict[str, str], rounds: int, exports: int, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch, "requests.json")
        path.write_text(json.dumps(_shapes(exports)))
        timings: dict[str, list[dict[str, dict[str, float]]]] = {label: [] for label in trees}
        for _ in range(rounds):
            for label, tree in trees.items():
                timings[label].append(_round(tree, str(path), repeats))
    summary: dict[str, Any] = {}
    for shape in timings["this"][0]:
        row: dict[str, Any] = {}
        for label, rounds_seen in timings.items():
            translate = min(r[shape]["translate_us"] for r in rounds_seen)
            validate = min(r[shape]["validate_us"] for r in rounds_seen)
            row[f"{label}_translate_us"] = round(translate, 1)
            row[f"{label}_validate_us"] = round(validate, 1)
            row[f"{label}_translate_over_validate"] = round(translate / validate, 2)
        if "against" in timings:
            ratio = row["this_translate_us"] / row["against_translate_us"]
            row["this_over_against_translate"] = round(ratio, 2)
        summary[shape] = row
    return summary


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few rounds, for a smoke run")
    parser.add_argument("--against", help="another checkout of whyops to compare with")
    args = parser.parse_args()
    trees = {"this": str(ROOT)}
    if args.against:
        trees["against"] = str(Path(args.against).resolve())
    rounds, exports, repeats = (2, 3, 3) if args.quick else (5, 10, 7)
    summary = run(trees, rounds, exports, repeats)
    for shape, row in summary.items():
        print(f"{shape:>9}: {row}")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (results / f"otlp-translate-{stamp}.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
