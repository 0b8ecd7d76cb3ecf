"""The ``whyops`` command: ``serve``, ``traces``, ``show`` and ``demo``.

Each subcommand lives in its own module and is imported only when chosen, so
``whyops --help`` stays fast and the server's dependencies are needed only by
the commands that use them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

from whyops._version import __version__

# name -> (module, add-arguments function, run function, help)
COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "serve": (
        "whyops.server.run",
        "add_arguments",
        "run",
        "run the collector, LLM proxy and web page",
    ),
    "demo": (
        "whyops.demo",
        "add_arguments",
        "run",
        "start a server and trace the example support agent end to end",
    ),
    "traces": (
        "whyops.terminal",
        "add_traces_arguments",
        "run_traces",
        "list recent traces from a server",
    ),
    "show": (
        "whyops.terminal",
        "add_show_arguments",
        "run_show",
        "print one trace as a tree",
    ),
}

SERVER_EXTRA_HINT = "this command needs the server extra: pip install 'whyops[server]'"


def _load(module_name: str, attribute: str) -> Callable[..., Any]:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in {"starlette", "uvicorn"}:
            raise SystemExit(f"whyops: {SERVER_EXTRA_HINT}") from exc
        raise
    function: Callable[..., Any] = getattr(module, attribute)
    return function


def build_parser(selected: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="whyops", description="Tracing for LLM agents, with a self-hosted collector."
    )
    parser.add_argument("--version", action="version", version=f"whyops {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, add_name, _run, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            _load(module_name, add_name)(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in arguments if not a.startswith("-")), None)
    selected = selected if selected in COMMANDS else None
    parser = build_parser(selected)
    args = parser.parse_args(arguments)
    if args.command is None:
        parser.print_help()
        return 2
    module_name, _add, run_name, _help = COMMANDS[args.command]
    return int(_load(module_name, run_name)(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
