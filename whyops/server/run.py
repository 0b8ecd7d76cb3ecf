"""``whyops serve``: flags, start-up, signals, and ``start_in_thread`` for tests and the demo."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import attrs
import uvicorn

from whyops.pricing import PriceTable
from whyops.server.app import create_app
from whyops.server.connections import ConnectionLimits, guarded_protocol, usable_connections
from whyops.server.dblock import DatabaseInUseError, DatabaseLock, acquire
from whyops.server.otlp_export import check_settings as check_export
from whyops.server.pagelink import page_link
from whyops.server.proxy.budgets import parse_budgets
from whyops.server.serve_args import add_arguments, settings_from_args
from whyops.server.settings import KeySpec, ServerSettings
from whyops.server.startup import StartupError, bind, check_db_path
from whyops.server.store import StorageUnavailableError, bootstrap_keys
from whyops.server.store.dialect import display_target
from whyops.server.store.schema import SchemaTooNewError

log = logging.getLogger("whyops.server")
# Seconds an idle keep-alive connection stays open between requests.
KEEP_ALIVE_S = 5


class _Server(uvicorn.Server):
    """uvicorn, minus re-raising the signal after a graceful shutdown (we exit 0 instead)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


@attrs.frozen
class _Prepared:
    settings: ServerSettings
    sock: socket.socket
    generated: str | None
    lock: DatabaseLock


def _prepare(settings: ServerSettings) -> _Prepared:
    """Lock the database, bind the port, migrate and resolve keys; undo all of it on failure."""
    check_db_path(settings.db_path)
    check_export(settings.otlp_export_url, settings.otlp_export_headers)
    PriceTable.load(settings.prices_path)  # a bad --prices file stops the start (ValueError)
    parse_budgets(settings.budgets)  # so does a bad --budget (ValueError naming it)
    lock = acquire(settings.db_path)
    try:
        sock = bind(settings)
    except BaseException:
        lock.release()
        raise
    try:
        settings = settings.with_port(sock.getsockname()[1])
        _, generated = bootstrap_keys(settings.db_path, settings.key_specs)
    except BaseException:
        sock.close()
        lock.release()
        raise
    return _Prepared(settings, sock, generated, lock)


def _config(settings: ServerSettings, *, own_logging: bool, access_log: bool) -> uvicorn.Config:
    kwargs: dict[str, Any] = {} if own_logging else {"log_config": None}
    limits = ConnectionLimits(usable_connections(settings.max_connections), settings.header_timeout)
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=access_log,
        lifespan="on",
        timeout_graceful_shutdown=30,
        # The protocol refuses connections past the cap as they open; uvicorn's own limit
        # (in-flight requests) can then never be reached, and stays only as a backstop.
        http=guarded_protocol(limits),
        limit_concurrency=limits.max_connections + 1,
        timeout_keep_alive=KEEP_ALIVE_S,
        loop="whyops.server.connections:new_event_loop",
        **kwargs,
    )


def _startup_errors() -> tuple[type[BaseException], ...]:
    """What a failed start raises that is the operator's to fix (said in one line)."""
    errors: tuple[type[BaseException], ...] = (
        OSError,
        ValueError,
        sqlite3.Error,
        SchemaTooNewError,
        DatabaseInUseError,
        StartupError,
        StorageUnavailableError,
    )
    psycopg = sys.modules.get("psycopg")  # loaded only when the database is PostgreSQL
    return errors if psycopg is None else (*errors, psycopg.Error)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; everything acknowledged is committed before exit."""
    try:
        prepared = _prepare(settings_from_args(args))
    except _startup_errors() as exc:
        print(f"whyops serve: {exc}", file=sys.stderr)
        return 2
    settings = prepared.settings
    _announce(settings, prepared.generated)
    try:
        server = _Server(_config(settings, own_logging=True, access_log=bool(args.access_log)))
        with prepared.sock:
            server.run(sockets=[prepared.sock])
    except KeyboardInterrupt:  # interrupted while starting, before the handlers were set
        return 130
    finally:
        prepared.lock.release()
    return 0


def _announce(settings: ServerSettings, generated: str | None) -> None:
    """What someone starting the server needs: where it is, its key, where the page is."""
    base = settings.loopback_base_url
    lines = [f"whyops serve: {base} (database {display_target(settings.db_path)})"]
    if generated is not None:
        lines += [
            f"API key (shown once, stored hashed): {generated}",
            f"web page: {page_link(base, generated)}",
            f"SDK: export WHYOPS_BASE_URL={base} WHYOPS_API_KEY={generated}",
        ]
    elif settings.api_keys:  # given on the command line or in the environment: shown there too
        lines.append(f"web page: {page_link(base, KeySpec.parse(settings.api_keys[0]).key)}")
    elif settings.api_key_file:  # keys kept in a file stay out of the output (and its logs)
        lines.append(f"web page: {base}/#key=KEY (KEY: one of the keys in {settings.api_key_file})")
    else:
        # The key is stored hashed: no working link can be printed, so none is.
        lines.append(f"web page: {base}/#key=KEY (KEY: the one printed when the database was made)")
    if settings.simulate:
        lines.append(f"proxy upstreams: the simulator at {base}/simulator (no model is called)")
    print("\n".join(lines), flush=True)


@attrs.define
class RunningServer:
    """A server on a background thread (tests, the demo). Also a context manager."""

    base_url: str
    api_key: str | None
    db_path: str
    settings: ServerSettings
    _server: uvicorn.Server
    _thread: threading.Thread
    _sock: socket.socket
    _lock: DatabaseLock

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful stop: finish in-flight requests, commit queued writes, close the port."""
        self._server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()
        if not self._thread.is_alive():
            self._lock.release()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_in_thread(settings: ServerSettings, *, timeout: float = 30.0) -> RunningServer:
    """Start uvicorn on a thread (port 0 = a free port) and return once it answers."""
    prepared = _prepare(settings)
    settings, sock, generated = prepared.settings, prepared.sock, prepared.generated
    api_key = generated or (settings.key_specs[0].key if settings.key_specs else None)
    server = uvicorn.Server(_config(settings, own_logging=False, access_log=False))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="whyops-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            thread.join(timeout)
            prepared.lock.release()
            raise RuntimeError("whyops server failed to start (see the log)")
        time.sleep(0.01)
    return RunningServer(
        settings.loopback_base_url,
        api_key,
        settings.db_path,
        settings,
        server,
        thread,
        sock,
        prepared.lock,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m whyops.server.run``: the ``serve`` command without the rest of the CLI."""
    parser = argparse.ArgumentParser(prog="whyops serve", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
