"""Helpers for the core tests: sync/async twins and a real HTTP sink on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import http.server
import inspect
import json
import threading
from collections.abc import Callable
from typing import Any


def make(flavor: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` as written (sync) or as an ``async def`` doing the same (async)."""
    if flavor == "sync":
        return func

    async def coroutine(*args: Any, **kwargs: Any) -> Any:
        result = func(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        await asyncio.sleep(0)
        return result

    coroutine.__name__ = func.__name__
    coroutine.__qualname__ = func.__qualname__
    return coroutine


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` and, if it is a coroutine function, run it to completion."""
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        return asyncio.run(_await(result))
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def acall(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Inside a running loop: call ``fn`` and await the result when there is one."""
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


class Sink:
    """A real HTTP server on 127.0.0.1 that records ingested events.

    ``script`` holds the statuses to answer first (then 202 forever); ``headers`` extra
    response headers per scripted answer.
    """

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.requests = 0
        self.script: list[tuple[int, dict[str, str], bytes]] = []
        self.auth: list[str | None] = []
        self.lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api"

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                with sink.lock:
                    sink.requests += 1
                    sink.auth.append(self.headers.get("Authorization"))
                    status, headers, reply = sink.script.pop(0) if sink.script else (202, {}, b"{}")
                    if status < 300 and self.path == "/api/events/ingest":
                        sink.events.extend(json.loads(body))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def run_python(code: str, timeout: float = 30.0, env: dict[str, str] | None = None) -> Any:
    """Run ``code`` in a fresh interpreter using this checkout of whyops.

    ``WHYOPS_*`` variables of this process are not passed on; ``env`` adds variables.
    """
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if not k.startswith("WHYOPS_")}
    env = {**clean, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


# A process that configures whyops ({configure}), sends a span and a failed one, and prints
# what was delivered and which modules the flusher imported (a fork during an import on the
# flusher would leave a child a half-loaded module).
FIRST_SEND_SCRIPT = """
import importlib.abc, sys, threading
import whyops
{configure}
imported = []

class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if threading.current_thread() is not threading.main_thread():
            imported.append(name)
        return None

sys.meta_path.insert(0, Spy())

@whyops.tool
def work(i):
    return i

@whyops.tool
def fails():
    raise ValueError("no")

work(1)
try:
    fails()
except ValueError:
    pass
print(whyops.flush(10).delivered, imported)
"""
