"""Fixtures shared by every part of the suite: a real ``whyops serve`` on 127.0.0.1.

The server runs uvicorn in a background thread on a free port, with the offline model
simulator behind its LLM proxy, on either store: a real SQLite file in a temporary directory,
or a database of its own on a real PostgreSQL server (tests/pg.py). Every test that uses a
server fixture runs once per store (``[sqlite]`` / ``[postgres]`` in its id).

``WHYOPS_TEST_STORES`` (default ``sqlite,postgres``) picks the halves to run: ``postgres``
runs only the tests on the PostgreSQL store (and those marked ``postgres``); ``sqlite`` runs
everything else. ``just test`` runs the two halves side by side.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests import pg
from tests.ports import refused_port

if TYPE_CHECKING:
    from whyops.server.run import RunningServer

STORES = ("sqlite", "postgres")

# Tests that stay on SQLite, and why: they look at the SQLite file itself.
SQLITE_ONLY = {
    "tests/server/test_nesting.py::test_rows_stored_past_the_limit_still_render_everywhere":
        "writes rows straight into the SQLite file",
}  # fmt: skip


def chosen_stores() -> frozenset[str]:
    text = os.environ.get("WHYOPS_TEST_STORES", ",".join(STORES))
    chosen = frozenset(name.strip() for name in text.split(",") if name.strip())
    unknown = chosen - set(STORES)
    if unknown or not chosen:
        raise pytest.UsageError(f"WHYOPS_TEST_STORES={text!r}: pick from {', '.join(STORES)}")
    return chosen


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: needs a real PostgreSQL server (tests/pg.py)")
    chosen_stores()


def _store_of(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "db_store" in callspec.params:
        return str(callspec.params["db_store"])
    return "postgres" if item.get_closest_marker("postgres") else "sqlite"


def _sqlite_only_reason(item: pytest.Item) -> str | None:
    test = item.nodeid.split("[", 1)[0]
    return SQLITE_ONLY.get(test) or SQLITE_ONLY.get(test.split("::", 1)[0])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the chosen half; mark the PostgreSQL runs of SQLite-only tests as skipped."""
    chosen = chosen_stores()
    kept, dropped = [], []
    for item in items:
        store = _store_of(item)
        (kept if store in chosen else dropped).append(item)
        reason = _sqlite_only_reason(item) if store == "postgres" else None
        if reason:
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {reason}"))
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


class StoreUnderTest:
    """Where a test server keeps its data: a new SQLite file, or a new PostgreSQL database."""

    def __init__(self, name: str) -> None:
        self.name = name

    def new_db(self, directory: Path, filename: str = "whyops.db") -> str:
        """The ``--db`` of a new, empty store."""
        if self.name == "sqlite":
            return str(directory / filename)
        return pg.cluster().database()

    def __repr__(self) -> str:
        return self.name


@pytest.fixture(scope="session", params=STORES)
def db_store(request: pytest.FixtureRequest) -> StoreUnderTest:
    """The store of the servers a test starts (every test using it runs once per store)."""
    if request.param == "postgres":
        reason = pg.missing_reason()
        if reason:
            pytest.skip(f"PostgreSQL: {reason}")
    return StoreUnderTest(request.param)


def _start(db: str) -> RunningServer:
    pytest.importorskip("starlette", reason="the server extra is not installed")
    from whyops.server.run import start_in_thread
    from whyops.server.settings import ServerSettings

    settings = ServerSettings(host="127.0.0.1", port=0, db_path=db, simulate=True)
    return start_in_thread(settings)


@pytest.fixture(scope="session")
def server(
    db_store: StoreUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """One server per store for the whole session (per xdist worker): tests must use their
    own trace ids."""
    running = _start(db_store.new_db(tmp_path_factory.mktemp("whyops-server")))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def fresh_server(db_store: StoreUnderTest, tmp_path: Path) -> Iterator[RunningServer]:
    """A server with an empty database, for tests that count everything stored."""
    running = _start(db_store.new_db(tmp_path))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback base URL whose port refuses connections, held for the test (tests/ports.py)."""
    with refused_port() as port:
        yield f"http://127.0.0.1:{port}"
