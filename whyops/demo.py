"""``whyops demo``: the whole product in one command, with nothing running first.

It starts ``whyops serve`` in-process (SQLite file, offline model simulator behind the
LLM proxy, loopback only), runs the example support agent of ``examples/support_agent/``
against it with the real OpenAI and Anthropic client libraries, prints every trace as a
tree, then keeps serving the web page until Ctrl-C (or exits with ``--once``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import secrets
import socket
import sqlite3
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from whyops.terminal import CommandError, ReadClient, nodes_from_json

if TYPE_CHECKING:
    from whyops.server.run import RunningServer

DEFAULT_PORT = 8787
DEFAULT_DB = os.path.join(".whyops", "demo.db")
DEMO_PROJECT = "demo"
EXAMPLE_MODULE = "support_agent"
SPANS_SETTLE_SECONDS = 15.0
# The whole reply of a turn, up to three lines of it.
REPLY_CHARS = 210


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; a free one when it is taken)",
    )
    parser.add_argument(
        "--db", default=DEFAULT_DB, help=f"SQLite file for the demo's traces (default {DEFAULT_DB})"
    )
    parser.add_argument("--once", action="store_true", help="exit after printing the traces")
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the trees (default: when stdout is a terminal)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except CommandError as exc:
        print(f"whyops demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nwhyops demo: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    example = load_example()
    Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    api_key = demo_key(Path(args.db))
    server = _start_server(args, api_key)
    try:
        say(f"server ready at {server.base_url}")
        turns = run_example(example, server.base_url, api_key)
        say(f"\nthe {len(turns)} traces, as the server stored them:")
        print_trees(server.base_url, api_key, turns, color=_color(args.color))
        say(f"\nweb page: {server.base_url}/#key={api_key}")
        if args.once:
            say(f"(--once: the server has stopped; the traces stay in {args.db}.")
            say(" Run `whyops demo` without --once to keep the page open until Ctrl-C.)")
            return 0
        say("serving the page until Ctrl-C…")
        _wait_for_interrupt()
        return 0
    finally:
        server.stop()


def _start_server(args: argparse.Namespace, api_key: str) -> RunningServer:
    from whyops.server.run import start_in_thread
    from whyops.server.settings import ServerSettings
    from whyops.server.store import remember_key

    port = args.port if port_is_free(args.port) else 0
    say(f"starting the server (SQLite {args.db}, model simulator, 127.0.0.1 only)…")
    settings = ServerSettings(
        host="127.0.0.1",
        port=port,
        db_path=args.db,
        api_keys=(f"{api_key}={DEMO_PROJECT}",),
        simulate=True,
        log_level="warning",
    )
    try:
        # Stored (hashed) too, so `whyops serve --db` of this file keeps accepting the key.
        remember_key(args.db, api_key, DEMO_PROJECT)
        return start_in_thread(settings)
    except (OSError, RuntimeError, sqlite3.Error) as exc:
        raise CommandError(f"could not start the server on 127.0.0.1:{port}: {exc}") from exc


def demo_key(db: Path) -> str:
    """The demo's API key, kept next to its database so page links survive restarts."""
    path = db.with_suffix(".key")
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    key = f"whyops_{secrets.token_urlsafe(24)}"
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def say(text: str) -> None:
    print(text, flush=True)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the server binds: connections of a previous run waiting in TIME_WAIT don't count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def example_dir() -> Path:
    """examples/support_agent/ of the checkout this package was installed from (editable)."""
    return Path(__file__).resolve().parent.parent / "examples" / "support_agent"


def load_example() -> ModuleType:
    """Import the example agent from the repository checkout, with clear errors."""
    for provider in ("openai", "anthropic"):
        if importlib.util.find_spec(provider) is None:
            raise CommandError(
                f"the demo drives the {provider} client library: "
                "pip install 'whyops[server,openai,anthropic]'"
            )
    if EXAMPLE_MODULE in sys.modules:
        return sys.modules[EXAMPLE_MODULE]
    folder = example_dir()
    init = folder / "__init__.py"
    if not init.is_file():
        raise CommandError(
            f"the example agent is not at {folder}: the demo runs from a checkout of the "
            "whyops repository, installed with pip install -e '.[server,openai,anthropic]'"
        )
    spec = importlib.util.spec_from_file_location(
        EXAMPLE_MODULE, init, submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise CommandError(f"cannot import the example agent from {init}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[EXAMPLE_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[EXAMPLE_MODULE]
        raise
    return module


def run_example(example: ModuleType, base_url: str, api_key: str) -> list[Any]:
    sessions = example.SESSIONS
    turns = sum(len(s.questions) for s in sessions)
    say(f"running the support agent: {len(sessions)} customers at once, {turns} turns…")

    def progress(turn: Any) -> None:
        reply = textwrap.shorten(str(turn.reply), REPLY_CHARS, placeholder=" …")
        say(f"  ✓ {turn.user_id}: {turn.question}")
        say(textwrap.fill(reply, 78, initial_indent="    ↳ ", subsequent_indent="      "))

    try:
        result: list[Any] = asyncio.run(example.run_sessions(base_url, api_key, on_turn=progress))
    except Exception as exc:
        raise CommandError(f"the example agent failed: {type(exc).__name__}: {exc}") from exc
    return result


def print_trees(base_url: str, api_key: str, turns: Sequence[Any], *, color: bool) -> None:
    from whyops.render import render_tree

    client = ReadClient(base_url, api_key)
    for turn in turns:
        spans = wait_for_spans(client, turn.trace_id)
        say(f"\ntrace {turn.trace_id}  ({turn.user_id}, thread {turn.thread_id})")
        say(render_tree(nodes_from_json(spans), color=color, width=80))
        say(f"  {base_url}/#/trace/{turn.trace_id}")


def wait_for_spans(client: ReadClient, trace_id: str) -> list[Any]:
    """The trace's spans once the server has stored them all (the count stops changing)."""
    deadline = time.monotonic() + SPANS_SETTLE_SECONDS
    previous: list[Any] = []
    while time.monotonic() < deadline:
        data = client.get_optional(f"/api/traces/{trace_id}/spans", {})
        spans = list((data or {}).get("spans", []))
        if spans and len(spans) == len(previous) and _all_ended(spans):
            return spans
        previous = spans
        time.sleep(0.25)
    if not previous:
        raise CommandError(f"the server stored no spans for trace {trace_id}")
    return previous


def _all_ended(spans: Sequence[Any]) -> bool:
    return all(span.get("end") or span.get("durationMs") is not None for span in spans)


def _color(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _wait_for_interrupt() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        say("\nstopping.")
