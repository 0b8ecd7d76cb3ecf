"""What the read commands share: the connection and output flags, the client they name, and
one-line errors."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TextIO

from whyops.cli.readapi_client import DEFAULT_BASE_URL, CommandError, ReadClient


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-url",
        default=None,
        help=f"server root (default: $WHYOPS_BASE_URL or {DEFAULT_BASE_URL})",
    )
    parser.add_argument("--api-key", default=None, help="API key (default: $WHYOPS_API_KEY)")
    add_color_argument(parser, "colour the output")


def read_client(args: argparse.Namespace) -> ReadClient:
    """The read-API client the connection flags (or their environment variables) name."""
    base_url = args.base_url or os.environ.get("WHYOPS_BASE_URL") or DEFAULT_BASE_URL
    api_key = args.api_key or os.environ.get("WHYOPS_API_KEY")
    if not api_key:
        raise CommandError("no API key: pass --api-key or set WHYOPS_API_KEY")
    return ReadClient(base_url, api_key)


def add_color_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help=f"{what} (default: when stdout is a terminal)",
    )


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the server's JSON, for scripts")


def use_color(choice: str, stream: TextIO | None = None) -> bool:
    """The ``--color`` choice resolved: ``auto`` colours a terminal unless NO_COLOR is set."""
    if choice != "auto":
        return choice == "always"
    return (stream or sys.stdout).isatty() and "NO_COLOR" not in os.environ


def run_guarded(command: Callable[[], int], prefix: str = "whyops") -> int:
    """``command()``, with a CommandError printed as one line on stderr (exit status 1)."""
    try:
        return command()
    except CommandError as exc:
        print(f"{prefix}: {exc}", file=sys.stderr)
        return 1
