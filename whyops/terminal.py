"""``whyops traces`` and ``whyops show``: read a server's traces from a terminal.

Both commands talk to the read API of ``whyops serve`` (or any compatible server).
``show`` turns the spans JSON of ``GET /api/traces/{id}/spans`` into
:class:`whyops.render.TreeNode` trees, so a trace prints exactly as the SDK's
console exporter prints it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TextIO

from whyops.models import SpanKind, Status, TokenUsage
from whyops.render import TreeNode, format_duration, render_tree

DEFAULT_BASE_URL = "http://127.0.0.1:8787"
TIMEOUT_SECONDS = 10.0


class CommandError(Exception):
    """A problem worth one clear line on stderr, not a traceback."""


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


def add_show_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace_id", metavar="TRACE_ID", help="the trace to print")
    _add_connection_arguments(parser)
    parser.add_argument("--width", type=int, default=None, help="line width (default: terminal)")


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
    threads = client.get("/api/threads", params).get("threads", [])
    color = _use_color(args.color, sys.stdout)
    width = shutil.get_terminal_size((80, 24)).columns
    print(format_traces_table(threads, width=max(width, 60), color=color))
    return 0


def _show(args: argparse.Namespace) -> int:
    client = ReadClient.from_args(args)
    data = client.get(f"/api/traces/{_quote(args.trace_id)}/spans", {})
    spans = data.get("spans", data) if isinstance(data, Mapping) else data
    if not spans:
        raise CommandError(f"trace {args.trace_id!r} has no spans")
    color = _use_color(args.color, sys.stdout)
    width = args.width or shutil.get_terminal_size((80, 24)).columns
    summary = client.get_optional(f"/api/threads/{_quote(args.trace_id)}", {"eventLimit": 1})
    if summary:
        print(format_trace_header(args.trace_id, summary, width))
    print(render_tree(nodes_from_json(spans), color=color, width=width))
    return 0


def _use_color(choice: str, stream: TextIO) -> bool:
    if choice != "auto":
        return choice == "always"
    return stream.isatty() and "NO_COLOR" not in os.environ


def _quote(segment: str) -> str:
    from urllib.parse import quote

    return quote(segment, safe="")


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

    def get(self, path: str, params: Mapping[str, Any]) -> Any:
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
            raise CommandError(f"not found: {path}")
        if response.status_code >= 400:
            raise CommandError(f"{path}: HTTP {response.status_code}: {response.text[:200]}")
        return printable(response.json())

    def get_optional(self, path: str, params: Mapping[str, Any]) -> Any:
        try:
            return self.get(path, params)
        except CommandError:
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


# --- spans JSON -> TreeNode --------------------------------------------------------------


def parse_timestamp_ns(value: Any) -> int | None:
    """ISO 8601 (``Z`` or offset, any fraction) or epoch milliseconds -> epoch nanoseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        whole = int(value)  # integer maths: floats near 1e18 lose nanoseconds
        return whole * 1_000_000 + round((value - whole) * 1_000_000)
    text = str(value).replace("Z", "+00:00")
    seconds_part, _, rest = text.partition(".")
    fraction = ""
    if rest:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, text = rest[:digits], seconds_part + rest[digits:]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    seconds = int(moment.timestamp())
    return seconds * 1_000_000_000 + int((fraction or "0").ljust(9, "0")[:9])


def nodes_from_json(spans: Sequence[Mapping[str, Any]]) -> list[TreeNode]:
    """Build render TreeNodes from the spans API: children ordered by start, orphans as roots."""
    by_id = {str(span.get("id")): span for span in spans}
    children: dict[str | None, list[Mapping[str, Any]]] = {}
    for span in spans:
        parent = span.get("parentSpanId")
        key = str(parent) if parent and str(parent) in by_id else None
        children.setdefault(key, []).append(span)
    for group in children.values():
        group.sort(key=lambda s: parse_timestamp_ns(s.get("start")) or 0)

    def build(span: Mapping[str, Any], seen: frozenset[str]) -> TreeNode:
        span_id = str(span.get("id"))
        kids = [] if span_id in seen else children.get(span_id, [])
        return _tree_node(span, [build(kid, seen | {span_id}) for kid in kids])

    return [build(root, frozenset()) for root in children.get(None, [])]


def _tree_node(span: Mapping[str, Any], kids: list[TreeNode]) -> TreeNode:
    start_ns = parse_timestamp_ns(span.get("start")) or 0
    duration_ms = span.get("durationMs")
    if duration_ms is None:
        end_ns = parse_timestamp_ns(span.get("end"))
        duration_ns = max(end_ns - start_ns, 0) if end_ns else 0
    else:
        duration_ns = int(float(duration_ms) * 1_000_000)
    return TreeNode(
        name=str(span.get("name") or span.get("kind") or "span"),
        kind=_kind(span.get("kind")),
        start_ns=start_ns,
        duration_ns=duration_ns,
        status=_status(span),
        error=_error_text(span.get("error")),
        usage=_usage(span.get("usage")),
        attributes=_attributes(span),
        children=tuple(kids),
    )


def _kind(value: Any) -> SpanKind:
    try:
        return SpanKind(value)
    except ValueError:
        return SpanKind.SPAN


def _status(span: Mapping[str, Any]) -> Status:
    try:
        return Status(span.get("status"))
    except ValueError:
        return Status.ERROR if span.get("error") else Status.OK


def _error_text(error: Any) -> str | None:
    if not error:
        return None
    if isinstance(error, Mapping):
        message = str(error.get("message") or error.get("error") or "")
        kind = str(error.get("type") or "")
        return message if not kind or message.startswith(kind) else f"{kind}: {message}"
    return str(error)


def _usage(usage: Any) -> TokenUsage | None:
    if not isinstance(usage, Mapping) or not usage:
        return None
    return TokenUsage(
        prompt_tokens=usage.get("promptTokens"),
        completion_tokens=usage.get("completionTokens"),
        total_tokens=usage.get("totalTokens"),
        cache_read_tokens=usage.get("cacheReadTokens"),
        cache_creation_tokens=usage.get("cacheCreationTokens"),
    )


def _attributes(span: Mapping[str, Any]) -> dict[str, Any]:
    attributes = dict(span.get("attributes") or {})
    if span.get("model"):
        attributes.setdefault("model", span["model"])
    if span.get("status") not in (None, "ok", "error"):
        attributes.setdefault("status", span["status"])  # e.g. "unfinished"
    return attributes


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


def format_traces_table(threads: Sequence[Mapping[str, Any]], *, width: int, color: bool) -> str:
    """One line per trace, newest first; the trace id is kept whole when it fits."""
    if not threads:
        return "no traces yet"
    rows = [_table_cells(t) for t in sorted(threads, key=_newest_first)]
    cached = any(row[5] != "-" for row in rows)
    titles = ("STARTED", "TRACE", "AGENT", "DURATION", "TOKENS", "CACHED", "EVENTS", "ERR")
    widths = [8, 0, 0, 9, 7, 7 if cached else 0, 6, 3]
    fixed = sum(widths) + sum(1 for w in widths if w)  # plus one space per column
    widths[1] = min(max(len(row[1]) for row in rows), max(width - fixed - 12, 12))
    widths[2] = max(width - fixed - widths[1] - 1, 6)

    def line(cells: Sequence[str]) -> str:
        parts = [
            f"{_fit(cell, w):{'<' if i < 3 else '>'}{w}}"
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
            if w
        ]
        return " ".join(parts).rstrip()

    header = line(titles)
    out = [f"{DIM}{header}{RESET}" if color else header]
    for row in rows:
        text = line(row)
        out.append(f"{RED}{text}{RESET}" if color and row[7] != "0" else text)
    return "\n".join(out)


def _table_cells(summary: Mapping[str, Any]) -> tuple[str, ...]:
    return (
        _local_time(summary.get("firstEventTimestamp")),
        str(summary.get("traceId") or summary.get("threadId") or ""),
        str(summary.get("agentName") or summary.get("entityName") or "-"),
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
