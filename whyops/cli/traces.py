"""``whyops traces``: the latest traces of a server, one line each (or its JSON)."""

from __future__ import annotations

import argparse
import json
import shutil
from typing import Any

from whyops.cli.arguments import (
    add_connection_arguments,
    add_json_argument,
    read_client,
    run_guarded,
    use_color,
)
from whyops.cli.readapi_client import CommandError
from whyops.cli.tables import format_traces_table

# The read API's page size limits.
MIN_LIMIT, MAX_LIMIT = 1, 100
NARROWEST = 60


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser)
    parser.add_argument("--limit", type=int, default=20, help="how many traces (1-100)")
    parser.add_argument("--agent", default=None, help="only traces of this agent")
    parser.add_argument("--errors", action="store_true", help="only traces with errors")
    add_json_argument(parser)


def run(args: argparse.Namespace) -> int:
    return run_guarded(lambda: _traces(args))


def _traces(args: argparse.Namespace) -> int:
    if not MIN_LIMIT <= args.limit <= MAX_LIMIT:
        raise CommandError(f"--limit must be between {MIN_LIMIT} and {MAX_LIMIT}")
    client = read_client(args)
    params: dict[str, Any] = {"count": args.limit, "agentName": args.agent}
    if args.errors:
        params["hasErrors"] = "true"
    threads = client.get("/api/threads", params, raw=args.json).get("threads", [])
    if args.json:
        print(json.dumps(threads, indent=2))
        return 0
    width = shutil.get_terminal_size((80, 24)).columns
    table = format_traces_table(threads, width=max(width, NARROWEST), color=use_color(args.color))
    print(table)
    return 0
