"""Trace summaries as text: the ``whyops traces`` table and the header above ``whyops show``.

Both take the read API's thread summaries (``GET /api/threads``), already made printable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from whyops.cli.spans_tree import parse_timestamp_ns
from whyops.render import format_duration

RED, DIM, RESET = "\033[31m", "\033[2m", "\033[0m"


def format_count(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1_000:.1f}k"
    return str(int(value))


def format_duration_ms(value: Any) -> str:
    """The renderer's duration format (``12.3 ms``, ``1.45 s``), from milliseconds."""
    if not isinstance(value, (int, float)):
        return "-"
    return format_duration(round(value * 1_000_000))


def _local_time(value: Any) -> str:
    nanos = parse_timestamp_ns(value)
    if nanos is None:
        return "-"
    moment = datetime.fromtimestamp(nanos / 1e9).astimezone()
    return moment.strftime("%H:%M:%S")


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _duration_of(summary: Mapping[str, Any]) -> Any:
    if isinstance(summary.get("duration"), (int, float)):
        return summary["duration"]
    first = parse_timestamp_ns(summary.get("firstEventTimestamp"))
    last = parse_timestamp_ns(summary.get("lastEventTimestamp"))
    return (last - first) / 1e6 if first is not None and last is not None else None


TABLE_TITLES = ("STARTED", "TRACE", "AGENT", "DURATION", "TOKENS", "CACHED", "EVENTS", "ERR")
# Widths of the fixed columns (TRACE and AGENT are sized to fit), and the order in which
# columns give way when the agent name would have too little room.
TABLE_WIDTHS = (8, 0, 0, 8, 6, 6, 6, 3)
DROPPED_FIRST = (5, 6, 4)  # CACHED, EVENTS, TOKENS
AGENT_ROOM = 12


def format_traces_table(threads: Sequence[Mapping[str, Any]], *, width: int, color: bool) -> str:
    """One line per trace, newest first. Trace ids are never cut (a line grows instead);
    the agent name is cut, after less useful columns have given way."""
    if not threads:
        return "no traces yet"
    rows = [_table_cells(t) for t in sorted(threads, key=_newest_first)]
    widths = _column_widths(rows, width)

    def line(cells: Sequence[str]) -> str:
        parts = [
            f"{cell if i == 1 else _fit(cell, w):{'<' if i < 3 else '>'}{w}}"
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
            if w
        ]
        return " ".join(parts).rstrip()

    header = line(TABLE_TITLES)
    out = [f"{DIM}{header}{RESET}" if color else header]
    for row in rows:
        text = line(row)
        out.append(f"{RED}{text}{RESET}" if color and row[7] != "0" else text)
    return "\n".join(out)


def _column_widths(rows: Sequence[Sequence[str]], width: int) -> list[int]:
    widths = list(TABLE_WIDTHS)
    if all(row[5] == "-" for row in rows):
        widths[5] = 0
    widths[1] = max(len(TABLE_TITLES[1]), *(len(row[1]) for row in rows))
    wanted = min(max(len(TABLE_TITLES[2]), *(len(row[2]) for row in rows)), AGENT_ROOM)

    def room() -> int:  # what is left for AGENT, one space before each column
        return width - sum(widths) - sum(1 for w in widths if w)

    for column in DROPPED_FIRST:
        if room() >= wanted:
            break
        widths[column] = 0
    widths[2] = max(room(), len(TABLE_TITLES[2]))
    return widths


def one_line(text: str) -> str:
    """A table cell: the newlines and tabs that ``printable`` keeps, escaped too."""
    return text.replace("\n", "\\n").replace("\t", "\\t")


def _table_cells(summary: Mapping[str, Any]) -> tuple[str, ...]:
    return (
        _local_time(summary.get("firstEventTimestamp")),
        one_line(str(summary.get("traceId") or summary.get("threadId") or "")),
        one_line(str(summary.get("agentName") or summary.get("entityName") or "-")),
        format_duration_ms(_duration_of(summary)),
        format_count(summary.get("totalTokens")),
        format_count(summary.get("cacheReadTokens") or None),
        format_count(summary.get("eventCount")),
        str(int(summary.get("errorCount") or 0)),
    )


def _newest_first(summary: Mapping[str, Any]) -> int:
    return -(parse_timestamp_ns(summary.get("firstEventTimestamp")) or 0)


def format_trace_header(trace_id: str, summary: Mapping[str, Any], width: int = 80) -> str:
    """Two short lines above the tree: who ran it, then what it cost."""
    who = [f"trace {trace_id}"]
    if summary.get("agentName") or summary.get("entityName"):
        who.append(f"agent {summary.get('agentName') or summary.get('entityName')}")
    if summary.get("externalUserId"):
        who.append(f"user {summary['externalUserId']}")
    errors = int(summary.get("errorCount") or 0)
    cost = [
        f"{format_count(summary.get('eventCount'))} events",
        format_duration_ms(_duration_of(summary)),
        f"{format_count(summary.get('promptTokens'))} in / "
        f"{format_count(summary.get('completionTokens'))} out tokens",
    ]
    if summary.get("cacheReadTokens") or summary.get("cacheCreationTokens"):
        cost.append(
            f"cache {format_count(summary.get('cacheReadTokens') or 0)} read / "
            f"{format_count(summary.get('cacheCreationTokens') or 0)} write"
        )
    cost.append(f"{errors} error{'s' if errors != 1 else ''}")
    return _fit("  ".join(who), width) + "\n" + _fit(" · ".join(cost), width)
