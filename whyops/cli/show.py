"""``whyops show``: one trace as a tree, exactly as the SDK's console exporter prints it.

Trace ids are never cut: ``show`` takes any unique start of one; ``--json`` prints the
server's JSON instead.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Mapping
from typing import Any

from whyops.cli.arguments import (
    add_connection_arguments,
    add_json_argument,
    read_client,
    run_guarded,
    use_color,
)
from whyops.cli.readapi_client import CommandError, ReadClient, printable
from whyops.cli.spans_tree import nodes_from_json
from whyops.cli.tables import format_trace_header
from whyops.render import render_tree

# Matches listed when a prefix is ambiguous.
SHOWN_MATCHES = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "trace_id", metavar="TRACE_ID", help="the trace to print: its id, or any unique start of it"
    )
    add_connection_arguments(parser)
    parser.add_argument("--width", type=int, default=None, help="line width (default: terminal)")
    add_json_argument(parser)


def run(args: argparse.Namespace) -> int:
    return run_guarded(lambda: _show(args))


def _show(args: argparse.Namespace) -> int:
    client = read_client(args)
    trace_id, summary = resolve_trace(client, args.trace_id, raw=args.json)
    data = client.trace_spans(trace_id, raw=args.json)
    if data is None:
        raise CommandError(f"no trace {args.trace_id}")
    spans = data.get("spans", data) if isinstance(data, Mapping) else data
    if args.json:
        print(json.dumps({"traceId": trace_id, "summary": summary, "spans": spans}, indent=2))
        return 0
    if not spans:
        raise CommandError(f"trace {trace_id} has no spans")
    width = args.width or shutil.get_terminal_size((80, 24)).columns
    if summary:
        print(format_trace_header(str(printable(trace_id)), summary, width))
    print(render_tree(nodes_from_json(spans), color=use_color(args.color), width=width))
    return 0


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
