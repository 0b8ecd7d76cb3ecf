"""The ``whyops`` command: ``serve``, ``traces``, ``show`` and ``demo``.

Each subcommand is a module with ``add_arguments(parser)`` and ``run(args) -> exit status``,
listed in :data:`COMMANDS` and imported only when chosen, so ``whyops --help`` stays fast and
the server's dependencies are needed only by the commands that use them. A new subcommand is
one more row there (and one in :data:`EXTRAS_OF_COMMAND` when it needs an optional extra).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from whyops._version import __version__


class Command(NamedTuple):
    """A subcommand: the module holding its ``add_arguments`` and ``run``, and its help line."""

    module: str
    help: str


COMMANDS: dict[str, Command] = {
    "serve": Command("whyops.server.run", "run the collector, LLM proxy and web page"),
    "demo": Command(
        "whyops.cli.demo", "start a server and trace the example support agent end to end"
    ),
    "traces": Command("whyops.cli.traces", "list recent traces from a server"),
    "show": Command("whyops.cli.show", "print one trace as a tree"),
    "stats": Command("whyops.cli.stats", "traces, errors, latency, tokens and cost over time"),
    "migrate": Command("whyops.server.store.transfer", "copy a SQLite database into PostgreSQL"),
    "reprice": Command("whyops.cli.reprice", "recompute stored LLM call costs with current prices"),
}

# The optional extras: which import each provides, and the extras each command needs.
EXTRA_OF_MODULE = {
    "starlette": "server",
    "uvicorn": "server",
    "openai": "openai",
    "anthropic": "anthropic",
    "psycopg": "postgres",
}
EXTRAS_OF_COMMAND = {
    "serve": ("server",),
    "demo": ("server", "openai", "anthropic"),
    "migrate": ("server", "postgres"),
    "reprice": ("server",),
}
MISSING_EXTRA_EXIT = 2


def install_command(extras: Sequence[str]) -> str:
    return f"pip install 'whyops[{','.join(extras)}]'"


def missing_extra_line(command: str, module: str) -> str:
    """One line naming the missing library and the exact command that installs it."""
    extras = EXTRAS_OF_COMMAND.get(command, (EXTRA_OF_MODULE[module],))
    return f"whyops {command}: needs {module} (not installed): {install_command(extras)}"


def require_extras(command: str) -> None:
    """Exit 2 with one line, before any import fails, when a needed extra is missing."""
    needed = EXTRAS_OF_COMMAND.get(command, ())
    for module, extra in EXTRA_OF_MODULE.items():
        if extra in needed and importlib.util.find_spec(module) is None:
            print(missing_extra_line(command, module), file=sys.stderr)
            raise SystemExit(MISSING_EXTRA_EXIT)


def _load(command: str, module_name: str, attribute: str) -> Callable[..., Any]:
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # whyops.server re-raises its missing extra as an ImportError
        cause = exc if isinstance(exc, ModuleNotFoundError) else exc.__cause__
        missing = (getattr(cause, "name", None) or "").split(".")[0]
        if missing not in EXTRA_OF_MODULE:
            raise
        print(missing_extra_line(command, missing), file=sys.stderr)
        raise SystemExit(MISSING_EXTRA_EXIT) from None
    function: Callable[..., Any] = getattr(module, attribute)
    return function


def build_parser(selected: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="whyops", description="Tracing for LLM agents, with a self-hosted collector."
    )
    parser.add_argument("--version", action="version", version=f"whyops {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, help=command.help, description=command.help)
        if name == selected:
            require_extras(name)
            _load(name, command.module, "add_arguments")(sub)
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
    run = _load(args.command, COMMANDS[args.command].module, "run")
    return int(run(args) or 0)
