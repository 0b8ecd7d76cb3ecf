"""Proxy overhead: calls through ``whyops serve``'s proxy vs. the simulator directly.

The server runs as shipped, ``whyops serve --simulate``, in its own process (the
client does not share its GIL): the proxy forwards over loopback HTTP to the
simulator mounted in the same server. ``--separate-upstream`` runs the simulator
in a process of its own instead, like a remote provider (on two cores, three
busy processes make p99 mostly scheduler noise). Direct calls (to the
simulator) and proxied calls alternate, so both see the same machine noise; the
table reports p50/p99 latency of each and the difference (what the proxy adds:
its own work, recording included, plus one loopback hop).
Streams are timed to the first byte of the answer body (the first token's frame).

    python bench/bench_proxy.py [--calls 400]

Prints a table and writes bench/results/proxy.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2

KEY = "whyops_bench_proxy_key"
GOAL_P50_MS = 2.0
GOAL_P99_MS = 5.0
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Say hello"}]}
MESSAGES = {
    "model": "claude-haiku-4-5",
    "max_tokens": 256,
    "messages": [{"role": "user", "content": "Say hello"}],
}
OPENAI_HEADERS = {"Authorization": f"Bearer {KEY}", "X-Agent-Name": "bench", "X-Trace-ID": "bench"}
ANTHROPIC_HEADERS = {**OPENAI_HEADERS, "anthropic-version": "2023-06-01"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(directory: str, name: str, *options: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    database = os.path.join(directory, f"{name}.db")
    command = [sys.executable, "-m", "whyops.cli", "serve", "--port", str(port), "--db", database]
    command += ["--api-key", KEY, "--log-level", "warning", *options]
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx2.get(base + "/api/health", timeout=1).status_code == 200:
                return process, base
        except httpx2.TransportError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("whyops serve did not start")


def start_servers(directory: str, separate: bool) -> tuple[list[subprocess.Popen[bytes]], str, str]:
    """``whyops serve --simulate`` (proxy and simulator in one server, as shipped), or with
    ``separate``, the simulator as the upstream in one process and the proxy in another."""
    upstream, upstream_base = start_server(directory, "upstream", "--simulate")
    if not separate:
        return [upstream], upstream_base + "/simulator", upstream_base
    simulator = upstream_base + "/simulator"
    proxy, proxy_base = start_server(
        directory,
        "proxy",
        "--openai-base-url",
        simulator + "/v1",
        "--openai-api-key",
        KEY,  # the upstream server's simulator takes that server's API keys
        "--anthropic-base-url",
        simulator,
        "--anthropic-api-key",
        KEY,
    )
    return [upstream, proxy], simulator, proxy_base


def whole(client: httpx2.Client, url: str, body: bytes, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    answer = client.post(url, content=body, headers=headers)
    elapsed = time.perf_counter() - started
    if answer.status_code != 200:
        raise RuntimeError(f"{url}: {answer.status_code} {answer.text[:200]}")
    return elapsed


def first_chunk(client: httpx2.Client, url: str, body: bytes, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    with client.stream("POST", url, content=body, headers=headers) as answer:
        chunks = answer.iter_raw()
        next(chunks)
        elapsed = time.perf_counter() - started
        for _ in chunks:
            pass
    return elapsed


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


Timer = Callable[[httpx2.Client, str, bytes, dict[str, str]], float]


def scenario(
    client: httpx2.Client,
    simulator: str,
    proxy: str,
    route: str,
    body: dict,
    headers: dict[str, str],
    timer: Timer,
    calls: int,
) -> dict[str, float]:
    payload = json.dumps(body).encode()
    direct_url, proxied_url = f"{simulator}{route}", f"{proxy}{route}"
    headers = {"content-type": "application/json", **headers}
    for _ in range(30):  # warm up both paths (connections, caches)
        timer(client, direct_url, payload, headers)
        timer(client, proxied_url, payload, headers)
    direct: list[float] = []
    proxied: list[float] = []
    for _ in range(calls):
        direct.append(timer(client, direct_url, payload, headers))
        proxied.append(timer(client, proxied_url, payload, headers))
    (d50, d99), (p50, p99) = percentiles(direct), percentiles(proxied)
    return {
        "direct_p50_ms": d50,
        "direct_p99_ms": d99,
        "proxied_p50_ms": p50,
        "proxied_p99_ms": p99,
        "added_p50_ms": p50 - d50,
        "added_p99_ms": p99 - d99,
    }


def run(calls: int, separate: bool) -> dict[str, dict[str, float]]:
    stream = {"stream": True}
    cases: dict[str, tuple[str, dict[str, Any], dict[str, str], Timer]] = {
        "openai chat, whole answer": ("/v1/chat/completions", CHAT, OPENAI_HEADERS, whole),
        "openai chat, first streamed chunk": (
            "/v1/chat/completions",
            {**CHAT, **stream},
            OPENAI_HEADERS,
            first_chunk,
        ),
        "anthropic messages, whole answer": ("/v1/messages", MESSAGES, ANTHROPIC_HEADERS, whole),
        "anthropic messages, first streamed chunk": (
            "/v1/messages",
            {**MESSAGES, **stream},
            ANTHROPIC_HEADERS,
            first_chunk,
        ),
    }
    with tempfile.TemporaryDirectory() as directory:
        processes, simulator, proxy = start_servers(directory, separate)
        try:
            with httpx2.Client(timeout=30) as client:
                return {
                    name: scenario(client, simulator, proxy, route, body, headers, timer, calls)
                    for name, (route, body, headers, timer) in cases.items()
                }
        finally:
            for process in processes:
                process.terminate()
                process.wait(30)


def report(results: dict[str, dict[str, float]]) -> str:
    columns = f"{'direct p50/p99':>16} {'proxied p50/p99':>17} {'added p50/p99':>15}"
    head = f"{'scenario':42} {columns}  goal"
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        ok = r["added_p50_ms"] <= GOAL_P50_MS and r["added_p99_ms"] <= GOAL_P99_MS
        lines.append(
            f"{name:42} {r['direct_p50_ms']:7.2f}/{r['direct_p99_ms']:<8.2f}"
            f" {r['proxied_p50_ms']:8.2f}/{r['proxied_p99_ms']:<8.2f}"
            f" {r['added_p50_ms']:6.2f}/{r['added_p99_ms']:<8.2f} {'met' if ok else 'MISSED'}"
        )
    lines.append(f"(milliseconds; goal: added <= {GOAL_P50_MS} p50 and <= {GOAL_P99_MS} p99)")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=400, help="calls per path and scenario")
    parser.add_argument(
        "--separate-upstream",
        action="store_true",
        help="run the simulator in its own process (three processes; noisy on two cores)",
    )
    args = parser.parse_args()
    results = run(args.calls, args.separate_upstream)
    print(report(results))
    out = Path(__file__).resolve().parent / "results" / "proxy.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "calls": args.calls,
        "layout": "separate upstream process"
        if args.separate_upstream
        else "whyops serve --simulate",
        "goal_ms": {"p50": GOAL_P50_MS, "p99": GOAL_P99_MS},
        "results": results,
    }
    out.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
