"""What the WhyOps client costs the caller, against WhyOps 0.1.1 in the same run.

1. A trace-builder call (``trace.llm_response_sync(...)``) timed in the caller, with the
   backend healthy, answering 503, and down (nothing listening). whyops enqueues; WhyOps
   0.1.1 posts and retries in the caller. Each side runs in its own process: ours with
   this checkout, 0.1.1 from a venv (``--wo011-python``, default ``.venv-wo011``, made with
   ``python -m venv .venv-wo011 && .venv-wo011/bin/pip install whyops==0.1.1``); it is
   skipped with a note when that venv is missing.
2. The per-request hook of a patched OpenAI client: the hook alone on a request bound for
   the proxy, and whole SDK calls over a mock transport, patched vs. not.

Goals: a builder call <= 10 us in all three cases; the hook <= 20 us per request.
Only loopback traffic. ``python bench/bench_client.py [--calls 20000]``; prints a table
and writes bench/results/client.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KEY = "whyops_bench_client_key"
AGENT = "bench-agent"
METADATA = {"systemPrompt": "You answer benchmark questions.", "tools": []}
USAGE = {"promptTokens": 120, "completionTokens": 12, "totalTokens": 132}
BUILDER_GOAL_US = 10.0
HOOK_GOAL_US = 20.0


# -- the two workers (run in their own processes) ---------------------------------------


def builder_call(trace: Any) -> None:
    trace.llm_response_sync(
        "gpt-4o",
        "openai",
        "Order 123 has shipped.",
        finish_reason="stop",
        usage=USAGE,
        latency_ms=840,
    )


def worker(kind: str, base: str, calls: int, warmup: int) -> dict[str, Any]:
    """Time ``calls`` builder calls (after ``warmup``) against ``base``; whyops is the
    package on sys.path: this checkout, or 0.1.1 in its own venv."""
    from whyops import WhyOps

    sdk = WhyOps(KEY, AGENT, METADATA, proxy_base_url=base, analyse_base_url=base + "/api")
    trace = sdk.trace("bench-trace")
    for _ in range(warmup):
        builder_call(trace)
    samples = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        started = clock()
        builder_call(trace)
        samples.append(clock() - started)
    result: dict[str, Any] = {"kind": kind, "calls": calls, **summary(samples)}
    if kind == "whyops":
        report = sdk.flush(timeout=0.5)
        result["report"] = {
            "delivered": report.delivered,
            "dropped": report.dropped,
            "pending": report.pending,
        }
    return result


def summary(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    return {
        "p50_us": ordered[len(ordered) // 2] / 1000,
        "p99_us": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000,
        "mean_us": statistics.fmean(ordered) / 1000,
    }


# -- loopback backends --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_backends() -> tuple[str, Any]:
    """One server: ``/ok`` answers like a healthy WhyOps, ``/down503`` answers 503."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def handle(request: Request) -> JSONResponse:
        await request.body()
        path = request.url.path
        if path.startswith("/down503"):
            return JSONResponse({"error": "Service Unavailable"}, status_code=503)
        if path.endswith("/init"):
            body = {
                "success": True,
                "agentId": "a",
                "agentVersionId": "v",
                "status": "existing",
                "versionHash": "0" * 32,
            }
            return JSONResponse(body, status_code=201)
        return JSONResponse({"success": True, "accepted": True}, status_code=202)

    app = Starlette(routes=[Route("/{path:path}", handle, methods=["GET", "POST"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{port}", server


def run_worker(python: str, kind: str, base: str, calls: int, warmup: int) -> dict[str, Any]:
    env = {**os.environ, "WHYOPS_FLUSH_INTERVAL": "0.2"}
    env.pop("WHYOPS_API_KEY", None)
    if kind == "whyops":
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    else:
        env.pop("PYTHONPATH", None)
    command = [
        python,
        __file__,
        "--worker",
        kind,
        "--base",
        base,
        "--calls",
        str(calls),
        "--warmup",
        str(warmup),
    ]
    done = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd="/" if kind != "whyops" else str(ROOT),
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# -- the hook -----------------------------------------------------------------------------


def bench_hook(rounds: int) -> dict[str, float]:
    import httpx2
    import openai

    import whyops
    from whyops._tracer import TRACER
    from whyops.client import WhyOps
    from whyops.client._hooks import find_hook
    from whyops.export.memory import InMemoryExporter

    proxy = "http://127.0.0.1:9"
    with TRACER.use_exporter(InMemoryExporter()):
        sdk = WhyOps(KEY, AGENT, METADATA, proxy_base_url=proxy)
        client = sdk.openai(openai.OpenAI(api_key="sk-x"))
        hook = find_hook(client._client)
        headers = {k: v for k, v in client.default_headers.items() if isinstance(v, str)}
        url = proxy + "/v1/chat/completions"
        other = "http://127.0.0.1:9/elsewhere"
        with whyops.trace_context(trace_id="bench", external_user_id="u"), whyops.span("turn"):
            hooked = time_hook(hook, lambda: httpx2.Request("POST", url, headers=headers), rounds)
            skipped = time_hook(
                hook, lambda: httpx2.Request("POST", other, headers=headers), rounds
            )
            e2e = sdk_calls(sdk, rounds // 10)
    return {
        "hook_us": hooked,
        "hook_other_host_us": skipped,
        **e2e,
    }


def sdk_calls(sdk: Any, calls: int) -> dict[str, float]:
    """Whole chat calls over a mock transport, patched and unpatched, interleaved."""
    import httpx2
    import openai

    body = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}
        ],
    }

    def transport() -> httpx2.Client:
        return httpx2.Client(
            transport=httpx2.MockTransport(lambda r: httpx2.Response(200, json=body))
        )

    plain = openai.OpenAI(api_key="sk-x", base_url="http://127.0.0.1:9/v1", http_client=transport())
    patched = sdk.openai(openai.OpenAI(api_key="sk-x", http_client=transport()))
    messages: Any = [{"role": "user", "content": "hi"}]
    times: dict[str, list[int]] = {"plain": [], "patched": []}
    for _ in range(calls):
        for name, client in (("plain", plain), ("patched", patched)):
            started = time.perf_counter_ns()
            client.chat.completions.create(model="m", messages=messages)
            times[name].append(time.perf_counter_ns() - started)
    plain_us = statistics.median(times["plain"]) / 1000
    patched_us = statistics.median(times["patched"]) / 1000
    return {
        "sdk_call_plain_us": plain_us,
        "sdk_call_patched_us": patched_us,
        "sdk_call_added_us": patched_us - plain_us,
    }


def time_hook(hook: Any, make_request: Any, rounds: int) -> float:
    """The hook alone, on fresh requests built beforehand (best of 5 batches: noisy box)."""
    best = float("inf")
    for _ in range(5):
        requests = [make_request() for _ in range(rounds)]
        started = time.perf_counter_ns()
        for request in requests:
            hook(request)
        best = min(best, (time.perf_counter_ns() - started) / rounds / 1000)
    return best


# -- main ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--wo011-calls", type=int, default=3, help="0.1.1 calls when failing")
    parser.add_argument("--wo011-python", default=str(ROOT / ".venv-wo011" / "bin" / "python"))
    parser.add_argument("--worker", choices=["whyops", "wo011"])
    parser.add_argument("--base", default="")
    parser.add_argument("--warmup", type=int, default=0)
    args = parser.parse_args()
    if args.worker != "wo011":
        sys.path.insert(0, str(ROOT))  # this checkout's whyops, installed or not
    if args.worker:
        print(json.dumps(worker(args.worker, args.base, args.calls, args.warmup)))
        return 0
    results = run_all(args)
    print_table(results)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "client.json").write_text(json.dumps(results, indent=2))
    return 0


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    base, server = start_backends()
    scenarios = {
        "healthy": base + "/ok",
        "503": base + "/down503",
        "down": f"http://127.0.0.1:{free_port()}",
    }
    have_wo011 = Path(args.wo011_python).exists()
    results: dict[str, Any] = {"builder": {}, "wo011": {}}
    try:
        for name, url in scenarios.items():
            results["builder"][name] = run_worker(sys.executable, "whyops", url, args.calls, 2000)
            if have_wo011:
                calls = 200 if name == "healthy" else args.wo011_calls
                results["wo011"][name] = run_worker(args.wo011_python, "wo011", url, calls, 1)
    finally:
        server.should_exit = True
    if not have_wo011:
        results["wo011_note"] = f"{args.wo011_python} missing: WhyOps 0.1.1 not measured"
    results["hook"] = bench_hook(20_000)
    return results


def print_table(results: dict[str, Any]) -> None:
    print("trace-builder call, time in the caller (us)")
    columns = ("whyops p50", 11), ("p99", 8), ("mean", 8), ("0.1.1 mean", 12), ("0.1.1/whyops", 13)
    print(f"{'backend':<9} " + " ".join(f"{title:>{width}}" for title, width in columns))
    for name, ours in results["builder"].items():
        theirs = results["wo011"].get(name)
        ratio = f"{theirs['mean_us'] / ours['mean_us']:>12.0f}x" if theirs else f"{'-':>13}"
        their_mean = f"{theirs['mean_us']:>12.0f}" if theirs else f"{'-':>12}"
        print(
            f"{name:<9} {ours['p50_us']:>11.2f} {ours['p99_us']:>8.2f} {ours['mean_us']:>8.2f} "
            f"{their_mean} {ratio}"
        )
    healthy = results["builder"]["healthy"]["p50_us"]
    for name in ("503", "down"):
        ratio = results["builder"][name]["p50_us"] / healthy
        print(f"whyops {name} / healthy (p50): {ratio:.2f}")
    for stat in ("p50", "mean", "p99"):  # the goal holds only if it holds for every one
        worst = max(r[f"{stat}_us"] for r in results["builder"].values())
        verdict = "met" if worst <= BUILDER_GOAL_US else "MISSED"
        print(f"goal {stat:<4} <= {BUILDER_GOAL_US} us: worst {worst:.2f} us, {verdict}")
    if "wo011_note" in results:
        print(results["wo011_note"])
    hook = results["hook"]
    print("\npatched-client request hook (us)")
    for key, value in hook.items():
        print(f"  {key:<22} {value:8.2f}")
    print(
        f"goal hook <= {HOOK_GOAL_US} us: {'met' if hook['hook_us'] <= HOOK_GOAL_US else 'MISSED'}"
    )


if __name__ == "__main__":
    sys.exit(main())
