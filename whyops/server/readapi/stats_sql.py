"""The aggregate queries behind ``GET /api/stats``: one SQL text for both stores.

Counts, tokens and cost are summed per (series key, bucket) by the database, in one pass over
the range's LLM and tool calls. Latency percentiles are exact, and the same on SQLite (which
has no percentile function) and PostgreSQL: the same pass returns each bucket's LLM latencies
as one text (``Dialect.number_list``: no row per call crosses into Python), which are sorted
per bucket, series and overall, and read as ``percentile_cont`` does (linear interpolation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from whyops.server.readapi.stats_range import Range
from whyops.server.store.dialect import Connection, dialect_of
from whyops.wire.events import NEEDS_MODEL, EventType

# The percentiles reported, in hundredths; ranks are computed with integer arithmetic so
# both stores pick the same rows.
PERCENTILES = (("p50", 50), ("p95", 95), ("p99", 99))

_LLM = "event_type IN ({})".format(", ".join(f"'{t.value}'" for t in sorted(NEEDS_MODEL)))
_ANSWER = f"event_type = '{EventType.LLM_RESPONSE.value}'"
# A tool call ends with its response, or with an error event of a tool span.
TOOL_END = (
    f"((event_type = '{EventType.TOOL_CALL_RESPONSE.value}'"
    " AND coalesce(span_kind, 'tool') = 'tool')"
    f" OR (event_type = '{EventType.ERROR.value}' AND span_kind = 'tool'))"
)

# A call without any token count has nothing to price: it is not "unpriced".
_HAS_TOKENS = (
    "coalesce(prompt_tokens, completion_tokens, total_tokens, cache_read_tokens,"
    " cache_creation_tokens) IS NOT NULL"
)

# groupBy -> (the key on events, the key on traces). A trace has one model: its last one.
GROUP_KEYS: dict[str | None, tuple[str, str]] = {
    None: ("CAST(NULL AS TEXT)", "CAST(NULL AS TEXT)"),
    "agent": ("agent_name", "agent_name"),
    "model": ("model", "last_model"),
    "user": ("external_user_id", "external_user_id"),
}


@attrs.frozen
class Window:
    """The rows a stats request reads: a project's, in ``[from_us, to_us)``, maybe one agent's,
    cut into buckets of ``bucket_us`` starting at ``origin_us``."""

    project_id: str
    from_us: int
    to_us: int
    origin_us: int
    bucket_us: int
    agent: str | None = None

    def where(self, time_column: str) -> tuple[str, list[Any]]:
        return Range(self.from_us, self.to_us, self.agent).where(self.project_id, time_column)

    def bucket(self, time_column: str) -> tuple[str, list[Any]]:
        return f"({time_column} - CAST(? AS BIGINT)) / CAST(? AS BIGINT)", [
            self.origin_us,
            self.bucket_us,
        ]


_LATENCY = f"CASE WHEN {_ANSWER} THEN latency_ms END"


def _sum_of(column: str, condition: str = _LLM) -> str:
    return f"sum(CASE WHEN {condition} THEN {column} END)"


_EVENT_SUMS = ", ".join(
    (
        f"sum(CASE WHEN {_LLM} THEN 1 ELSE 0 END)",
        f"sum(CASE WHEN {TOOL_END} THEN 1 ELSE 0 END)",
        _sum_of("prompt_tokens"),
        _sum_of("completion_tokens"),
        _sum_of("cache_read_tokens"),
        _sum_of("cache_creation_tokens"),
        _sum_of("reasoning_tokens"),
        _sum_of("cost_usd"),
        f"sum(CASE WHEN {_LLM} AND cost_usd IS NULL AND {_HAS_TOKENS} THEN 1 ELSE 0 END)",
    )
)
# The order of the sums above, as STATS names them (then the latencies' text).
EVENT_SUM_NAMES = (
    "llmCalls",
    "toolCalls",
    "input",
    "output",
    "cacheRead",
    "cacheWrite",
    "reasoning",
    "costUsd",
    "unpricedCalls",
)


def event_sums(conn: Connection, window: Window, group_by: str | None) -> list[Sequence[Any]]:
    """``(key, bucket, *EVENT_SUM_NAMES, latencies)`` per key and bucket holding LLM or tool
    calls; ``latencies``: the LLM answers' ``latency_ms``, comma-separated (None: none)."""
    key = GROUP_KEYS[group_by][0]
    where, params = window.where("ts_us")
    bucket, bucket_params = window.bucket("ts_us")
    latencies = dialect_of(conn).number_list.format(value=_LATENCY)
    query = (
        f"SELECT {key} AS k, {bucket} AS b, {_EVENT_SUMS}, {latencies} FROM events"
        f" WHERE {where} AND ({_LLM} OR {TOOL_END}) GROUP BY 1, 2"
    )
    return _tuples(conn, query, [*bucket_params, *params])


def trace_counts(conn: Connection, window: Window, group_by: str | None) -> list[Sequence[Any]]:
    """``(key, bucket, traces, traces with an error)``; a trace counts where it began."""
    key = GROUP_KEYS[group_by][1]
    where, params = window.where("first_ts_us")
    bucket, bucket_params = window.bucket("first_ts_us")
    query = (
        f"SELECT {key} AS k, {bucket} AS b, count(*),"
        " sum(CASE WHEN error_count > 0 THEN 1 ELSE 0 END)"
        f" FROM traces WHERE {where} GROUP BY 1, 2"
    )
    return _tuples(conn, query, [*bucket_params, *params])


def percentile(values: Mapping[int, float] | Sequence[float], count: int, hundredths: int) -> float:
    """``percentile_cont`` of ``count`` sorted values (or of the ranks of them it reads)."""
    low, rest = divmod(hundredths * (count - 1), 100)
    value = values[low]
    if rest:
        value += (values[low + 1] - value) * rest / 100
    return value


def percentiles(ordered: Sequence[float]) -> dict[str, float] | None:
    """The reported percentiles of sorted ``ordered`` (None: no values)."""
    if not ordered:
        return None
    return {name: percentile(ordered, len(ordered), level) for name, level in PERCENTILES}


def numbers(text: str | None) -> list[float]:
    """A ``Dialect.number_list`` text as numbers."""
    return list(map(float, text.split(","))) if text else []


def _tuples(conn: Connection, query: str, params: Sequence[Any]) -> list[Sequence[Any]]:
    rows: list[Sequence[Any]] = conn.execute(query, params).fetchall()
    return rows
