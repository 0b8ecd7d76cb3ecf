"""``whyops stats``: traces, errors, LLM latency, tokens and cost over time (``GET /api/stats``).

One line per bucket that saw any activity, per series (``--group-by``), then the series'
total; ``--json`` prints the server's answer as is.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from typing import Any

from whyops.cli.arguments import (
    add_connection_arguments,
    add_json_argument,
    read_client,
    run_guarded,
    use_color,
)
from whyops.cli.tables import DIM, RED, RESET, format_count, format_duration_ms, one_line

BUCKETS = ("1m", "5m", "15m", "1h", "6h", "1d")
GROUPS = ("agent", "model", "user")
TITLES = (
    "SERIES", "START (UTC)", "TRACES", "ERR%", "LLM", "TOOLS", "P50", "P95", "P99", "IN", "OUT",
    "COST",
)  # fmt: skip
MAX_KEY = 24
NO_PRICE = "no price"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser)
    parser.add_argument("--from", dest="start", default=None, help="ISO 8601 (default: to - 24h)")
    parser.add_argument("--to", dest="end", default=None, help="ISO 8601 (default: now)")
    parser.add_argument(
        "--bucket", choices=BUCKETS, default=None, help="bucket size (default: ≤ 200 buckets)"
    )
    parser.add_argument("--group-by", choices=GROUPS, default=None, help="one series per value")
    parser.add_argument("--agent", default=None, help="only this agent's calls and traces")
    add_json_argument(parser)


def run(args: argparse.Namespace) -> int:
    return run_guarded(lambda: _stats(args))


def _stats(args: argparse.Namespace) -> int:
    params = {
        "from": args.start,
        "to": args.end,
        "bucket": args.bucket,
        "groupBy": args.group_by,
        "agent": args.agent,
    }
    answer = read_client(args).get("/api/stats", params, raw=args.json)
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    print(format_stats(answer, color=use_color(args.color)))
    return 0


def format_cost(stats: Mapping[str, Any]) -> str:
    """Dollars; ``no price`` when calls were made but none could be priced."""
    cost = stats.get("costUsd")
    if cost is None:
        return NO_PRICE if stats.get("unpricedCalls") else "-"
    text = f"${cost:,.2f}" if cost >= 1 else f"${cost:.4f}"
    unpriced = stats.get("unpricedCalls") or 0
    return f"{text} +{unpriced} {NO_PRICE}" if unpriced else text


def _cells(key: str, start: str, stats: Mapping[str, Any]) -> tuple[str, ...]:
    latency = stats.get("latencyMs") or {}
    tokens = stats.get("tokens") or {}
    rate = stats.get("errorRate") or 0
    return (
        key,
        start,
        format_count(stats.get("traces")),
        f"{rate * 100:.0f}%" if stats.get("traces") else "-",
        format_count(stats.get("llmCalls")),
        format_count(stats.get("toolCalls")),
        *(format_duration_ms(latency.get(p)) for p in ("p50", "p95", "p99")),
        format_count(tokens.get("input")),
        format_count(tokens.get("output")),
        format_cost(stats),
    )


def _active(stats: Mapping[str, Any]) -> bool:
    return bool(stats.get("traces") or stats.get("llmCalls") or stats.get("toolCalls"))


def _rows(answer: Mapping[str, Any]) -> list[tuple[tuple[str, ...], bool]]:
    """(cells, has errors) per active bucket of each series, then the series' total."""
    rows = []
    for series in answer.get("series") or []:
        key = series.get("key")
        name = one_line("-" if key is None else str(key))[:MAX_KEY]
        for bucket in series.get("buckets") or []:
            if _active(bucket):
                start = str(bucket.get("start", ""))[:16].replace("T", " ")
                rows.append((_cells(name, start, bucket), bool(bucket.get("errors"))))
        totals = series.get("totals") or {}
        rows.append((_cells(name, "total", totals), bool(totals.get("errors"))))
    return rows


def format_stats(answer: Mapping[str, Any], *, color: bool) -> str:
    start, end = (str(answer.get(k, ""))[:16].replace("T", " ") for k in ("from", "to"))
    heading = f"{start} → {end} UTC, buckets of {answer.get('bucket')}"
    if answer.get("groupBy"):
        heading += f", by {answer['groupBy']}"
    if answer.get("agent"):
        heading += f", agent {one_line(str(answer['agent']))}"
    totals = answer.get("totals") or {}
    if not _active(totals):
        return heading + "\nno traces or calls in this range"
    rows = _rows(answer)
    widths = [max(len(TITLES[i]), *(len(cells[i]) for cells, _ in rows)) for i in range(12)]
    out = [heading, _dim(_line(TITLES, widths), color)]
    for cells, errors in rows:
        text = _line(cells, widths)
        out.append(f"{RED}{text}{RESET}" if color and errors else text)
    return "\n".join(out)


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    parts = [
        f"{cell:{'<' if i < 2 else '>'}{width}}"
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
    ]
    return "  ".join(parts).rstrip()


def _dim(text: str, color: bool) -> str:
    return f"{DIM}{text}{RESET}" if color else text
