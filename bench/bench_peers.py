"""Per-call overhead of peer SDKs' decorators, each in its own interpreter, next to whyops.

    python bench/bench_peers.py [--quick]

Peers run from virtual environments made beside the checkout (git-ignored):
``.venv-peers`` (``pip install langfuse logfire opentelemetry-sdk``) and ``.venv-wo011``
(``pip install whyops==0.1.1``, which shares our import name). A missing venv or package is
reported and skipped. Every peer is pointed at 127.0.0.1 (a local sink or a dead port), so
nothing leaves the machine. Results: bench/results/peers-<time>.json.
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
sys.path.insert(0, str(ROOT / "bench"))

from bench_core import SinkProcess  # noqa: E402

HARNESS = r"""
import json, sys, timeit
NUMBER, REPEAT = int(sys.argv[1]), int(sys.argv[2])
def bare(a, b=None):
    return a
{setup}
def best(fn):
    return min(timeit.repeat(lambda: fn(1, [1, 2]), number=NUMBER, repeat=REPEAT)) / NUMBER * 1e6
rows = []
for _ in range(2):
    rows.append((best(bare), best(traced)))
base = min(r[0] for r in rows); sub = min(r[1] for r in rows)
{teardown}
print(json.dumps({{"bare_us": base, "traced_us": sub}}))
"""

PEERS: dict[str, dict[str, str]] = {
    "whyops (this checkout)": {
        "venv": "",
        "setup": (
            "import whyops\n"
            "whyops.configure(api_key='bench', analyse_url=SINK, flush_interval=1.0)\n"
            "traced = whyops.tool(bare)\n"
        ),
        "teardown": "whyops.shutdown(10)\n",
    },
    "opentelemetry-sdk span": {
        "venv": ".venv-peers",
        "setup": (
            "from opentelemetry.sdk.trace import TracerProvider\n"
            "from opentelemetry.sdk.trace.export import BatchSpanProcessor\n"
            "from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter\n"
            "provider = TracerProvider()\n"
            "exporter = OTLPSpanExporter(endpoint=SINK + '/v1/traces')\n"
            "provider.add_span_processor(BatchSpanProcessor(exporter))\n"
            "tracer = provider.get_tracer('bench')\n"
            "traced = tracer.start_as_current_span('bare')(bare)\n"
        ),
        "teardown": "provider.shutdown()\n",
    },
    "logfire @instrument": {
        "venv": ".venv-peers",
        "setup": (
            "import logfire\n"
            "logfire.configure(send_to_logfire=False, console=False, inspect_arguments=False)\n"
            "traced = logfire.instrument()(bare)\n"
        ),
        "teardown": "",
    },
    "langfuse @observe": {
        "venv": ".venv-peers",
        "setup": (
            "import os\n"
            "os.environ.update(LANGFUSE_PUBLIC_KEY='pk', LANGFUSE_SECRET_KEY='sk')\n"
            "os.environ['LANGFUSE_HOST'] = SINK\n"
            "from langfuse import observe, get_client\n"
            "get_client()\n"
            "traced = observe()(bare)\n"
        ),
        "teardown": "",
    },
    "whyops 0.1.1 (one event per call)": {
        "venv": ".venv-wo011",
        "setup": (
            "from whyops import WhyOps\n"
            "sdk = WhyOps('k', 'bench', {'systemPrompt': 'x', 'tools': []},\n"
            "             proxy_base_url=SINK, analyse_base_url=SINK)\n"
            "trace = sdk.trace('bench-trace')\n"
            "def traced(a, b=None):\n"
            "    result = bare(a, b)\n"
            "    trace.tool_result_sync('bare', {'result': result})\n"
            "    return result\n"
        ),
        "teardown": "",
    },
}


def run_peer(name: str, spec: dict[str, str], sink_url: str, number: int, repeat: int) -> Any:
    python = sys.executable
    if spec["venv"]:
        python = str(ROOT / spec["venv"] / "bin" / "python")
        if not Path(python).exists():
            return {"skipped": f"{spec['venv']} not found"}
        if name.startswith("whyops 0.1.1"):
            number = max(1, number // 200)  # tens of milliseconds per event
    code = f"SINK = {sink_url!r}\n" + HARNESS.format(setup=spec["setup"], teardown=spec["teardown"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WHYOPS_", "OTEL_"))}
    if not spec["venv"]:
        env["PYTHONPATH"] = str(ROOT)
    flags = ["-I"] if spec["venv"] else []  # venvs must not see this checkout's ``whyops``
    result = subprocess.run(
        [python, *flags, "-c", code, str(number), str(repeat)],
        capture_output=True,
        text=True,
        env=env,
        cwd="/tmp" if spec["venv"] else ROOT,
        timeout=900,
    )
    if result.returncode != 0:
        return {"skipped": result.stderr.strip().splitlines()[-1:]}
    data = json.loads(result.stdout.strip().splitlines()[-1])
    data["overhead_us"] = data["traced_us"] - data["bare_us"]
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    number, repeat = (2_000, 3) if args.quick else (10_000, 5)
    sink = SinkProcess()
    results: dict[str, Any] = {"load_average": os.getloadavg()}
    try:
        for name, spec in PEERS.items():
            results[name] = run_peer(name, spec, sink.url[: -len("/api")], number, repeat)
    finally:
        sink.close()
    ours = results["whyops (this checkout)"].get("overhead_us")
    print(f"{'decorated call, capture on':<36}{'overhead µs':>12}{'x whyops':>10}")
    for name, row in results.items():
        if not isinstance(row, dict):
            continue
        if "skipped" in row:
            print(f"{name:<36}  skipped: {row['skipped']}")
            continue
        ratio = row["overhead_us"] / ours if ours else float("nan")
        print(f"{name:<36}{row['overhead_us']:>12.1f}{ratio:>10.1f}")
    out = ROOT / "bench" / "results" / f"peers-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
