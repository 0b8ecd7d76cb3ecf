"""``whyops traces`` and ``whyops show``: read a server's traces from a terminal.

Both commands talk to the read API of ``whyops serve`` (or any compatible server).
``show`` turns the spans JSON of ``GET /api/traces/{id}/spans`` into
:class:`whyops.render.TreeNode` trees (:mod:`whyops.spans_json`), so a trace prints
exactly as the SDK's console exporter prints it. Trace ids are never cut: ``show``
takes any unique start of one, and both commands print JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

from whyops.render import format_duration, render_tree
from whyops.spans_json import nodes_from_json, parse_timestamp_ns

__all__ = ["CommandError", "ReadClient", "nodes_from_json", "page_link", "parse_timestamp_ns"]

DEFAULT_BASE_URL = "http://127.0.0.1:8787"
TIMEOUT_SECONDS = 10.0


class CommandError(Exception):
    """A problem worth one clear line on stderr, not a traceback."""


class NotFound(CommandError):
    """The server answered 404."""


# --- arguments ---------------------------------------------------------------------------


def _add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-url",
        default=None,
        help=f"server root (default: $WHYOPS_BASE_URL or {DEFAULT_BASE_URL})",
    )
    parser.add_argument("--api-key", default=None, help="API key (default: $WHYOPS_API_KEY)")
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the output (default: when stdout is a terminal)",
    )


def add_traces_arguments(parser: argparse.ArgumentParser) -> None:
    _add_connection_arguments(parser)
    parser.add_argument("--limit", type=int, default=20, help="how many traces (1-100)")
    parser.add_argument("--agent", default=None, help="only traces of this agent")
    parser.add_argument("--errors", action="store_true", help="only traces with errors")
    _add_json_argument(parser)


def _add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the server's JSON, for scripts")


def add_show_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "trace_id", metavar="TRACE_ID", help="the trace to print: its id, or any unique start of it"
    )
    _add_connection_arguments(parser)
    parser.add_argument("--width", type=int, default=None, help="line width (default: terminal)")
    _add_json_argument(parser)


# --- commands ----------------------------------------------------------------------------


def run_traces(args: argparse.Namespace) -> int:
    return _guarded(lambda: _traces(args))


def run_show(args: argparse.Namespace) -> int:
    return _guarded(lambda: _show(args))


def _guarded(command: Any) -> int:
    try:
        result: int = command()
    except CommandError as exc:
        print(f"whyops: {exc}", file=sys.stderr)
        return 1
    return result


def _traces(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 100:
        raise CommandError("--limit must be between 1 and 100")
    client = ReadClient.from_args(args)
    params: dict[str, Any] = {"count": args.limit, "agentName": args.agent}
    if args.errors:
        params["hasErrors"] = "true"
    threads = client.get("/api/threads", params, raw=args.json).get("threads", [])
    if args.json:
        print(json.dumps(threads, indent=2))
        return 0
    color = _use_color(args.color, sys.stdout)
    width = shutil.get_terminal_size((80, 24)).columns
    print(format_traces_table(threads, width=max(width, 60), color=color))
    return 0


def _show(args: argparse.Namespace) -> int:
    client = ReadClient.from_args(args)
    trace_id, summary = resolve_trace(client, args.trace_id, raw=args.json)
    data = client.get_optional(f"/api/traces/{_quote(trace_id)}/spans", {}, raw=args.json)
    if data is None:
        raise CommandError(f"no trace {args.trace_id}")
    spans = data.get("spans", data) if isinstance(data, Mapping) else data
    if args.json:
        print(json.dumps({"traceId": trace_id, "summary": summary, "spans": spans}, indent=2))
        return 0
    if not spans:
        raise CommandError(f"trace {trace_id} has no spans")
    color = _use_color(args.color, sys.stdout)
    width = args.width or shutil.get_terminal_size((80, 24)).columns
    if summary:
        print(format_trace_header(str(printable(trace_id)), summary, width))
    print(render_tree(nodes_from_json(spans), color=color, width=width))
    return 0


# Matches listed when a prefix is ambiguous.
SHOWN_MATCHES = 10


def resolve_trace(
    client: ReadClient, given: str, *, raw: bool = False
) -> tuple[str, Mapping[str, Any] | None]:
    """The trace id ``given`` starts (an exact id wins) and its summary, or a CommandError
    naming the matches when there are several. A server without prefix search is asked for
    the exact id only."""
    params = {"traceIdPrefix": given, "count": SHOWN_MATCHES + 1}
    data = client.get_json("/api/threads", params)
    threads = [t for t in data.get("threads", []) if str(t.get("traceId", "")).startswith(given)]
    exact = [t for t in threads if t.get("traceId") == given]
    if exact or len(threads) == 1:
        found = (exact or threads)[0]
        return str(found["traceId"]), found if raw else printable(found)
    if threads:
        ids = [str(printable(t["traceId"])) for t in threads[:SHOWN_MATCHES]]
        more = " …" if len(threads) > SHOWN_MATCHES else ""
        raise CommandError(
            f"{printable(given)} is the start of several traces: {', '.join(ids)}{more}"
        )
    return given, None


def _use_color(choice: str, stream: TextIO) -> bool:
    if choice != "auto":
        return choice == "always"
    return stream.isatty() and "NO_COLOR" not in os.environ


def _quote(segment: str) -> str:
    from urllib.parse import quote

    return quote(segment, safe="")


def page_link(base_url: str, api_key: str, route: str = "") -> str:
    """An address of the web page that opens in any browser: the key travels in the fragment
    (``#key=K`` or ``#/route&key=K``), which the browser never sends to the server."""
    key = _quote(api_key)
    root = base_url.rstrip("/")
    return f"{root}/#{route}&key={key}" if route else f"{root}/#key={key}"


# --- HTTP ----------------------------------------------------------------------------------


class ReadClient:
    """GETs JSON from the read API and turns transport and HTTP failures into CommandError."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ReadClient:
        base_url = args.base_url or os.environ.get("WHYOPS_BASE_URL") or DEFAULT_BASE_URL
        api_key = args.api_key or os.environ.get("WHYOPS_API_KEY")
        if not api_key:
            raise CommandError("no API key: pass --api-key or set WHYOPS_API_KEY")
        return cls(base_url, api_key)

    def get(self, path: str, params: Mapping[str, Any], *, raw: bool = False) -> Any:
        """The JSON answer; strings made safe for a terminal unless ``raw``."""
        data = self.get_json(path, params)
        return data if raw else printable(data)

    def get_json(self, path: str, params: Mapping[str, Any]) -> Any:
        import httpx2

        query = {k: v for k, v in params.items() if v is not None}
        headers = {"Authorization": f"Bearer {self.api_key}"}
        try:
            response = httpx2.get(
                self.base_url + path, params=query, headers=headers, timeout=TIMEOUT_SECONDS
            )
        except httpx2.HTTPError as exc:
            raise CommandError(
                f"cannot reach {self.base_url} ({exc}); is `whyops serve` running?"
            ) from exc
        if response.status_code == 401:
            raise CommandError(f"{self.base_url} rejected the API key")
        if response.status_code == 404:
            raise NotFound(f"not found: {path}")
        if response.status_code >= 400:
            raise CommandError(f"{path}: HTTP {response.status_code}: {response.text[:200]}")
        return response.json()

    def get_optional(self, path: str, params: Mapping[str, Any], *, raw: bool = False) -> Any:
        """The JSON answer, or None when the server has nothing there (404)."""
        try:
            return self.get(path, params, raw=raw)
        except NotFound:
            return None


# A server stores ids, names and outputs as sent: their control characters must not reach the
# terminal as escapes. They print as \xNN; newlines and tabs stay.
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if c not in (9, 10)}


def printable(value: Any) -> Any:
    """``value`` (parsed JSON) with control characters in every string made visible."""
    if isinstance(value, str):
        return value.translate(_CONTROL)
    if isinstance(value, list):
        return [printable(item) for item in value]
    if isinstance(value, dict):
        return {printable(key): printable(item) for key, item in value.items()}
    return value


# --- formatting ----------------------------------------------------------------------------

RED, DIM, BOLD, RESET = "\033[31m", "\033[2m", "\033[1m", "\033[0m"


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
    """A table cell: the newlines and tabs that :func:`printable` keeps, escaped too."""
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
