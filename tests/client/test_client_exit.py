"""At exit, events held while registration is stuck are sent (or counted), never lost."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


class _StuckInit(BaseHTTPRequestHandler):
    """Agent registration never answers; ingest stores what it gets."""

    server: Any

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if "init" in self.path:
            self.server.release.wait(30)
            return
        self.server.events.extend(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stuck_backend() -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _StuckInit)
    server.daemon_threads = True
    server.events, server.release = [], threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


SCRIPT = """
import whyops
from whyops.client import WhyOps
sdk = WhyOps("key", "stuck-agent", {{"systemPrompt": "p", "description": "d"}},
             proxy_base_url="{base}", analyse_base_url="{base}/api")
trace = sdk.trace("trace-held")
for i in range(10):
    trace.user_message_sync([{{"role": "user", "content": str(i)}}])
report = sdk.flush(1)
print("flush", report.pending, report.timed_out, flush=True)
"""


def test_events_held_by_a_stuck_registration_are_sent_at_exit(stuck_backend: Any) -> None:
    base = f"http://127.0.0.1:{stuck_backend.server_address[1]}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WHYOPS_EXIT_TIMEOUT": "3"}
    for var in ("WHYOPS_EXPORTER", "WHYOPS_DISABLED", "WHYOPS_BASE_URL", "WHYOPS_API_KEY"):
        env.pop(var, None)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(base=base)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["flush", "10", "True"]
    assert "sending its 10 held events unregistered" in done.stderr
    assert [e["content"]["messages"][0]["content"] for e in stuck_backend.events] == [
        str(i) for i in range(10)
    ]
    assert time.monotonic() - started < 30  # exit bounded, not waiting on registration
