"""``GET /api/stats``: counts, error rate, LLM latency percentiles, tokens and cost over time.

Buckets are aligned to multiples of their size since the epoch (hours on the hour, days at
UTC midnight); every bucket of the range is present. A trace counts in the bucket of its first
event; LLM and tool calls, tokens and cost in the bucket of their own event. The JSON shape is
documented in docs/server.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from whyops.server.auth import Project, authenticated
from whyops.server.readapi import stats_sql
from whyops.server.readapi.common import read
from whyops.server.readapi.params import Query
from whyops.server.readapi.stats_range import Range, read_range
from whyops.server.readapi.stats_sql import GROUP_KEYS, Window
from whyops.server.store.dialect import Connection
from whyops.server.timeutil import format_us

# Bucket sizes a client may ask for, smallest first.
BUCKETS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "6h": 21_600, "1d": 86_400}
DEFAULT_MAX_BUCKETS = 200
MAX_BUCKETS = 5000
MAX_SERIES = 20  # the rest are summed in one series
OTHER = "(other)"
_TOKENS = ("input", "output", "cacheRead", "cacheWrite", "reasoning")

# A series: (1, key) shown on its own; (0, None) the rest summed, past MAX_SERIES.
SeriesKey = tuple[int, Any]


@attrs.define
class Tally:
    """The summable part of STATS for one bucket or series, and its LLM latencies."""

    traces: int = 0
    errors: int = 0
    sums: dict[str, int] = attrs.field(factory=lambda: dict.fromkeys(stats_sql.EVENT_SUM_NAMES, 0))
    cost: float | None = None
    latencies: list[float] = attrs.field(factory=list)

    def add_events(self, values: Sequence[Any]) -> None:
        *sums, latencies = values
        for name, value in zip(stats_sql.EVENT_SUM_NAMES, sums, strict=True):
            if name == "costUsd":
                self.cost = _add_cost(self.cost, value)
            else:
                self.sums[name] += int(value or 0)
        self.latencies += stats_sql.numbers(latencies)
        self.latencies.sort()  # sorted runs: the sums of cells sort in one merge

    def add(self, other: Tally) -> None:
        self.traces += other.traces
        self.errors += other.errors
        for name, value in other.sums.items():
            self.sums[name] += value
        self.cost = _add_cost(self.cost, other.cost)
        self.latencies += other.latencies

    def to_json(self) -> dict[str, Any]:
        sums = self.sums
        self.latencies.sort()
        return {
            "traces": self.traces,
            "llmCalls": sums["llmCalls"],
            "toolCalls": sums["toolCalls"],
            "errors": self.errors,
            "errorRate": self.errors / self.traces if self.traces else 0.0,
            "latencyMs": stats_sql.percentiles(self.latencies),
            "tokens": {name: sums[name] for name in _TOKENS},
            "costUsd": self.cost,
            "unpricedCalls": sums["unpricedCalls"],
        }


def _add_cost(total: float | None, value: float | None) -> float | None:
    """Cost sums: None (nothing priced) stays None until a priced value comes."""
    if value is None:
        return total
    return float(value) if total is None else total + float(value)


@attrs.frozen
class StatsRequest:
    range: Range
    bucket: str
    group_by: str | None

    def window(self, project_id: str) -> Window:
        origin, size = _grid(self.range, self.bucket)
        span = self.range
        return Window(project_id, span.from_us, span.to_us, origin, size, span.agent)

    @property
    def bucket_count(self) -> int:
        return bucket_count(self.range, self.bucket)


def _grid(span: Range, bucket: str) -> tuple[int, int]:
    """The first bucket's start (a multiple of the size since the epoch) and the size, in µs."""
    size = BUCKETS[bucket] * 1_000_000
    return span.from_us // size * size, size


def bucket_count(span: Range, bucket: str) -> int:
    origin, size = _grid(span, bucket)
    return -(-(span.to_us - origin) // size)


def read_stats_request(query: Query) -> StatsRequest:
    span = read_range(query)
    group_by = query.text("groupBy")
    if group_by is not None and group_by not in GROUP_KEYS:
        query.issues.add("groupBy", "Expected agent, model or user", "invalid_enum_value")
    bucket = query.text("bucket")
    if bucket is not None and bucket not in BUCKETS:
        query.issues.add("bucket", f"Expected one of {', '.join(BUCKETS)}", "invalid_enum_value")
    if query.issues:
        return StatsRequest(span, "1d", None)
    if bucket is None:
        fitting = (b for b in BUCKETS if bucket_count(span, b) <= DEFAULT_MAX_BUCKETS)
        bucket = next(fitting, "1d")
    elif bucket_count(span, bucket) > MAX_BUCKETS:
        query.issues.add("bucket", f"Gives more than {MAX_BUCKETS} buckets", "too_big")
    return StatsRequest(span, bucket, group_by)


@authenticated()
async def get_stats(request: Request, project: Project) -> Response:
    query = Query(request)
    asked = read_stats_request(query)
    if (error := query.error()) is not None:
        return error
    return JSONResponse(await read(request, compute_stats, project.id, asked))


def compute_stats(conn: Connection, project_id: str, asked: StatsRequest) -> dict[str, Any]:
    window = asked.window(project_id)
    cells: dict[tuple[SeriesKey, int], Tally] = {}
    for key, bucket, *values in stats_sql.event_sums(conn, window, asked.group_by):
        _cell(cells, (1, key), bucket).add_events(values)
    for key, bucket, traces, errors in stats_sql.trace_counts(conn, window, asked.group_by):
        cell = _cell(cells, (1, key), bucket)
        cell.traces, cell.errors = int(traces), int(errors or 0)
    ordered = _ordered_series(cells)
    if len(ordered) > MAX_SERIES:
        cells = _fold_other(cells, {key for _, key in ordered[:MAX_SERIES]})
        ordered = [*ordered[:MAX_SERIES], (0, None)]
    if not ordered and asked.group_by is None:
        ordered = [(1, None)]
    series = [_series_json(key, cells, asked.bucket_count, window) for key in ordered]
    everything = Tally()
    for cell in cells.values():
        everything.add(cell)
    return {
        "from": format_us(window.from_us),
        "to": format_us(window.to_us),
        "bucket": asked.bucket,
        "bucketSeconds": BUCKETS[asked.bucket],
        "groupBy": asked.group_by,
        "agent": window.agent,
        "totals": everything.to_json(),
        "series": series,
    }


def _cell(cells: dict[tuple[SeriesKey, int], Tally], key: SeriesKey, bucket: int) -> Tally:
    found = cells.get((key, int(bucket)))
    if found is None:
        found = cells[(key, int(bucket))] = Tally()
    return found


def _series_totals(cells: dict[tuple[SeriesKey, int], Tally]) -> dict[SeriesKey, Tally]:
    totals: dict[SeriesKey, Tally] = {}
    for (key, _), cell in cells.items():
        totals.setdefault(key, Tally()).add(cell)
    return totals


def _ordered_series(cells: dict[tuple[SeriesKey, int], Tally]) -> list[SeriesKey]:
    """Costliest first (unpriced last), then most traces, then by key."""
    totals = _series_totals(cells)

    def rank(key: SeriesKey) -> tuple[Any, ...]:
        tally = totals[key]
        cost = tally.cost
        return (cost is None, -(cost or 0.0), -tally.traces, key[1] is not None, key[1] or "")

    return sorted(totals, key=rank)


def _fold_other(
    cells: dict[tuple[SeriesKey, int], Tally], top: set[Any]
) -> dict[tuple[SeriesKey, int], Tally]:
    folded: dict[tuple[SeriesKey, int], Tally] = {}
    for ((_, key), bucket), cell in cells.items():
        target = (1, key) if key in top else (0, None)
        _cell(folded, target, bucket).add(cell)
    return folded


def _series_json(
    key: SeriesKey, cells: dict[tuple[SeriesKey, int], Tally], count: int, window: Window
) -> dict[str, Any]:
    totals = Tally()
    buckets = []
    for index in range(count):
        cell = cells.get((key, index)) or Tally()
        totals.add(cell)
        start = format_us(window.origin_us + index * window.bucket_us)
        buckets.append({"start": start, **cell.to_json()})
    name = key[1] if key[0] else OTHER
    return {"key": name, "totals": totals.to_json(), "buckets": buckets}
