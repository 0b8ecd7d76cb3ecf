"""Fixtures shared by every part of the suite: a real ``whyops serve`` on 127.0.0.1.

The server runs uvicorn in a background thread on a free port, with a real SQLite file
in a temporary directory and the offline model simulator behind its LLM proxy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from whyops.server.run import RunningServer


def _start(db_path: Path) -> RunningServer:
    pytest.importorskip("starlette", reason="the server extra is not installed")
    from whyops.server.run import start_in_thread
    from whyops.server.settings import ServerSettings

    settings = ServerSettings(host="127.0.0.1", port=0, db_path=str(db_path), simulate=True)
    return start_in_thread(settings)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server for the whole session (per xdist worker): tests must use their own trace ids."""
    running = _start(tmp_path_factory.mktemp("whyops-server") / "whyops.db")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server with an empty database, for tests that count everything stored."""
    running = _start(tmp_path / "whyops.db")
    try:
        yield running
    finally:
        running.stop()
