"""Arize Phoenix as a real OTLP receiver: started from its own virtualenv (`scripts/phoenix.sh`
makes it and names its Python in WHYOPS_PHOENIX_PYTHON) on 127.0.0.1, ports chosen by the
system, a SQLite file in a directory of its own, and everything that could call out switched
off. Spans are read back through its REST API (`GET /v1/projects/{project}/spans`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import httpx2

LAUNCHER = Path(__file__).with_name("phoenix_server.py")
PROJECT = "default"  # where Phoenix files spans without an openinference.project.name
START_TIMEOUT_S = 180.0  # a first start migrates a new database; CI runs suites side by side

# Phoenix's settings (phoenix/config.py): loopback, no telemetry pixels, no web fonts or other
# resources fetched, no assistant, MCP server or metrics endpoint.
SETTINGS = {
    "PHOENIX_HOST": "127.0.0.1",
    "PHOENIX_PORT": "0",
    "PHOENIX_GRPC_PORT": "0",
    "PHOENIX_TELEMETRY_ENABLED": "false",
    "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
    "PHOENIX_DISABLE_AGENT_ASSISTANT": "true",
    "PHOENIX_AGENTS_DISABLE_WEB_ACCESS": "true",
    "PHOENIX_AGENTS_DISABLE_GITHUB": "true",
    "PHOENIX_AGENTS_DISABLE_BASH": "true",
    "PHOENIX_ENABLE_MCP_SERVER": "false",
    "PHOENIX_ENABLE_PROMETHEUS": "false",
    "DO_NOT_TRACK": "1",
}
_PORT_LINE = re.compile(r"^PHOENIX_HTTP_PORT=(\d+)$", re.MULTILINE)


def phoenix_python() -> str | None:
    python = os.environ.get("WHYOPS_PHOENIX_PYTHON")
    return os.path.abspath(python) if python else None


@attrs.define
class Phoenix:
    """A running Phoenix: its base URL, process and log files."""

    base_url: str
    process: subprocess.Popen[bytes] | None  # None: one the tests did not start
    directory: Path
    started_in_s: float

    def spans(self, trace_id: str, expected: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The trace's spans once `expected` have landed (Phoenix inserts in batches)."""
        deadline = time.monotonic() + timeout
        while True:
            answer = httpx2.get(
                f"{self.base_url}/v1/projects/{PROJECT}/spans",
                params={"trace_id": trace_id, "limit": 1000},
                timeout=10,
            )
            answer.raise_for_status()
            spans: list[dict[str, Any]] = answer.json()["data"]
            if len(spans) >= expected:
                return spans
            assert time.monotonic() < deadline, (
                f"Phoenix has {len(spans)} of {expected} spans of {trace_id}: {spans}"
            )
            time.sleep(0.2)

    def refused(self) -> list[str]:
        """Connections beyond loopback the launcher refused (phoenix_server.py)."""
        log_file = self.directory / "stderr.log"
        log = log_file.read_text(errors="replace") if log_file.exists() else ""
        return [line for line in log.splitlines() if line.startswith("PHOENIX_REFUSED")]

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def start_phoenix(python: str, directory: Path) -> Phoenix:
    """Start Phoenix and wait until it listens; its output goes to files in `directory`."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(directory),
        "LANG": "C.UTF-8",
        "PHOENIX_WORKING_DIR": str(directory),
        "PHOENIX_SQL_DATABASE_URL": f"sqlite:///{directory / 'phoenix.db'}",
        **SETTINGS,
    }
    began = time.monotonic()
    with open(directory / "stdout.log", "wb") as out, open(directory / "stderr.log", "wb") as err:
        process = subprocess.Popen(
            [python, str(LAUNCHER)], env=env, cwd=directory, stdout=out, stderr=err
        )
    phoenix = Phoenix("", process, directory, 0.0)
    try:
        port = _wait_for_port(phoenix)
        phoenix.base_url = f"http://127.0.0.1:{port}"
        _wait_healthy(phoenix)
    except BaseException:
        phoenix.stop()
        raise
    phoenix.started_in_s = time.monotonic() - began
    print(f"Phoenix started in {phoenix.started_in_s:.1f}s", file=sys.stderr)
    return phoenix


def _wait_for_port(phoenix: Phoenix) -> int:
    process = phoenix.process
    assert process is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        found = _PORT_LINE.search((phoenix.directory / "stdout.log").read_text(errors="replace"))
        if found:
            return int(found.group(1))
        exit_code = process.poll()
        if exit_code is not None or time.monotonic() > deadline:
            log = (phoenix.directory / "stderr.log").read_text(errors="replace")
            raise RuntimeError(f"Phoenix did not start (exit {exit_code}):\n{log}")
        time.sleep(0.2)


def _wait_healthy(phoenix: Phoenix) -> None:
    deadline = time.monotonic() + 30
    while httpx2.get(f"{phoenix.base_url}/healthz", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "Phoenix listens but is not healthy"
        time.sleep(0.2)


def by_name(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {span["name"]: span for span in spans}
