"""Real OTLP receivers nobody here wrote, fed by whyops: Arize Phoenix, run from its own
virtualenv. `bash scripts/phoenix.sh` makes that virtualenv and runs this directory (the
"receivers" suite of `just test`); elsewhere these tests skip, and there a missing Phoenix
fails instead (WHYOPS_RECEIVERS=1)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .phoenix_process import Phoenix, phoenix_python, start_phoenix


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phoenix]:
    """One Phoenix for the session, with a new database; nothing it did may leave loopback.
    WHYOPS_PHOENIX_URL points the tests at a Phoenix already running instead (debugging)."""
    url = os.environ.get("WHYOPS_PHOENIX_URL")
    if url:
        yield Phoenix(url.rstrip("/"), None, tmp_path_factory.mktemp("phoenix"), 0.0)
        return
    python = phoenix_python()
    if not python:
        if os.environ.get("WHYOPS_RECEIVERS") == "1":
            pytest.fail("WHYOPS_PHOENIX_PYTHON is not set (scripts/phoenix.sh sets it)")
        pytest.skip("Arize Phoenix is not installed here (bash scripts/phoenix.sh)")
    running = start_phoenix(python, tmp_path_factory.mktemp("phoenix"))
    try:
        yield running
    finally:
        running.stop()
    assert not running.refused(), f"Phoenix tried to leave loopback: {running.refused()}"
