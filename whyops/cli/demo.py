"""``whyops demo``: the whole product in one command, with nothing running first.

It starts ``whyops serve`` in-process (SQLite file, offline model simulator behind the
LLM proxy, loopback only), runs the support agent of :mod:`whyops.demo_agent` (shipped in
the package, so the demo runs from any installation) against it with the real OpenAI and
Anthropic client libraries, prints every trace as a tree, then keeps serving the web page
until Ctrl-C (or exits with ``--once``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import secrets
import signal
import socket
import sqlite3
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from whyops.cli.arguments import add_color_argument, run_guarded, use_color
from whyops.cli.readapi_client import CommandError, ReadClient
from whyops.cli.spans_tree import nodes_from_json
from whyops.render import render_tree
from whyops.server.pagelink import page_link

if TYPE_CHECKING:
    from whyops.server.run import RunningServer

DEFAULT_PORT = 8787
DEFAULT_DB = os.path.join(".whyops", "demo.db")
DEMO_PROJECT = "demo"
AGENT_MODULE = "whyops.demo_agent"
SPANS_SETTLE_SECONDS = 15.0
# The whole reply of a turn, up to three lines of it.
REPLY_CHARS = 210


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}, or a free one when that is taken;"
        " a given port that is taken is an error; 0 = any free port)",
    )
    parser.add_argument(
        "--db", default=DEFAULT_DB, help=f"SQLite file for the demo's traces (default {DEFAULT_DB})"
    )
    parser.add_argument("--once", action="store_true", help="exit after printing the traces")
    add_color_argument(parser, "colour the trees")


def run(args: argparse.Namespace) -> int:
    try:
        return run_guarded(lambda: _run(args), "whyops demo")
    except KeyboardInterrupt:
        print("\nwhyops demo: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    from whyops.server.run import StartupError, check_db_path

    example = load_example()
    try:
        check_db_path(args.db)
    except StartupError as exc:
        raise CommandError(str(exc)) from exc
    api_key = demo_key(Path(args.db))
    server = _start_server(args, api_key)
    try:
        say(f"server ready at {server.base_url}")
        turns = run_example(example, server.base_url, api_key)
        say(f"\nthe {len(turns)} traces, as the server stored them:")
        print_trees(server.base_url, api_key, turns, color=use_color(args.color))
        say(f"\nweb page: {page_link(server.base_url, api_key)}")
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
    from whyops.server.run import StartupError, start_in_thread
    from whyops.server.settings import ServerSettings
    from whyops.server.store import remember_key

    port = _choose_port(args.port)
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
    except StartupError as exc:
        raise CommandError(str(exc)) from exc
    except (OSError, RuntimeError, sqlite3.Error) as exc:
        raise CommandError(f"could not start the server on 127.0.0.1:{port}: {exc}") from exc


def _choose_port(given: int | None) -> int:
    """The given port as is (taken: the server says so); else 8787, or any free one."""
    if given is not None:
        return given
    if port_is_free(DEFAULT_PORT):
        return DEFAULT_PORT
    say(f"port {DEFAULT_PORT} is taken: using a free port (choose one with --port)")
    return 0


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


def load_example() -> ModuleType:
    """The support agent shipped in the package (the client libraries are checked by the CLI)."""
    return importlib.import_module(AGENT_MODULE)


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
    client = ReadClient(base_url, api_key)
    for turn in turns:
        spans = wait_for_spans(client, turn.trace_id)
        say(f"\ntrace {turn.trace_id}  ({turn.user_id}, thread {turn.thread_id})")
        say(render_tree(nodes_from_json(spans), color=color, width=80))
        say(f"  {page_link(base_url, api_key, f'/trace/{turn.trace_id}')}")


def wait_for_spans(client: ReadClient, trace_id: str) -> list[Any]:
    """The trace's spans once the server has stored them all (the count stops changing)."""
    deadline = time.monotonic() + SPANS_SETTLE_SECONDS
    previous: list[Any] = []
    while time.monotonic() < deadline:
        data = client.trace_spans(trace_id)
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


def _wait_for_interrupt() -> None:
    """Until Ctrl-C or SIGTERM, as ``whyops serve`` does: handled here even when the shell
    started us with SIGINT ignored (a background job), and woken every 0.2 s because the
    kernel may hand the signal to another thread while Python runs handlers on this one."""
    stop = threading.Event()
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in handled}
    try:
        while not stop.wait(0.2):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    say("\nstopping.")
