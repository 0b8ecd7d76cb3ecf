"""``whyops serve`` as a real subprocess on a real SQLite file, for tests that need a process
of its own: kill -9, resource limits, thousands of sockets."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx2

from tests.server.conftest import event

KEY = "whyops_served"


class Served:
    def __init__(
        self,
        db: Path,
        *args: str,
        key: str = KEY,
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        command = [sys.executable, "-m", "whyops.server.run", "--port", "0", "--db", str(db),
                   "--api-key", key, "--log-level", "warning", *args]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=preexec_fn,  # only sets resource limits
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:(\d+))", first)
        assert match, first
        self.base_url = match.group(1)
        self.port = int(match.group(2))
        self.output: list[str] = [first]
        threading.Thread(target=self._drain, daemon=True).start()
        self.http = httpx2.Client(
            base_url=self.base_url, headers={"X-API-Key": key}, timeout=30,
            limits=httpx2.Limits(max_connections=32),
        )  # fmt: skip
        self._wait_healthy()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    @property
    def log(self) -> str:
        return "".join(self.output)

    def wait_for_log(self, text: str, timeout: float = 10) -> None:
        """Until the server has logged ``text`` (its output is read on another thread)."""
        deadline = time.monotonic() + timeout
        while text not in self.log:
            assert time.monotonic() < deadline, self.log
            time.sleep(0.02)

    def _wait_healthy(self) -> None:
        for _ in range(500):
            try:
                if self.http.get("/api/health").status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            threading.Event().wait(0.02)
        raise AssertionError(self.log)

    def post_batch(self, trace: str, index: int, size: int = 20) -> int:
        batch = [event("tool_result", trace, idempotencyKey=f"{index}:{i}") for i in range(size)]
        return self.http.post("/api/events/ingest", json=batch).status_code

    def close(self, sig_kill: bool = True) -> None:
        self.http.close()
        if self.process.poll() is None:
            if sig_kill:
                self.process.kill()
            else:
                self.process.terminate()
        self.process.wait(30)
