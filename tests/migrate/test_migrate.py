"""``whyops migrate``: a real SQLite file, filled by a real server, copied into a real
PostgreSQL database; copied twice; interrupted with kill -9 and run again."""

from __future__ import annotations

import os
import pty
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests import pg
from tests.server.conftest import Api, event, new_trace
from whyops.server.run import RunningServer, start_in_thread
from whyops.server.settings import ServerSettings
from whyops.server.store import remember_key
from whyops.server.store.transfer import TABLES, Table

pytestmark = pytest.mark.postgres

# The keys of the source, stored hashed in its file: one in the project every server makes
# first ("default"), one in a project of its own.
KEYS = {"whyops_default_project_key": "default", "whyops_other_project_key": "other"}
MAIN_KEY, OTHER_KEY = KEYS


@pytest.fixture(scope="module", autouse=True)
def needs_postgres() -> None:
    reason = pg.missing_reason()
    if reason:
        pytest.skip(f"PostgreSQL: {reason}")


def migrate(source: Path, target: str, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "whyops", "migrate", "--from", f"sqlite:{source}",
               "--to", target, *extra]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def serve(db: str) -> RunningServer:
    return start_in_thread(ServerSettings(host="127.0.0.1", port=0, db_path=db))


def make_source(path: Path, traces: int = 3, per_trace: int = 20) -> list[str]:
    """A SQLite file filled by a server: in each project, an agent with two versions and
    ``traces`` traces of ``per_trace`` events; the trace ids."""
    for key, project in KEYS.items():
        remember_key(str(path), key, project)
    running = serve(str(path))
    try:
        return fill(running, traces, per_trace)
    finally:
        running.stop()


def fill(running: RunningServer, traces: int, per_trace: int) -> list[str]:
    ids = []
    for key in KEYS:
        api = Api(running, key)
        for version in ("one", "two"):
            body = {"agentName": "support", "metadata": {"systemPrompt": version, "tools": []}}
            assert api.post("/api/entities/init", body).status_code == 201
        for _ in range(traces):
            trace = new_trace()
            batch = [
                event("llm_response", trace, stepId=i, content=f"ünïcode {i}", latencyMs=1.5 * i,
                      idempotencyKey=f"k{i}", usage={"promptTokens": i, "completionTokens": 1})
                for i in range(1, per_trace + 1)
            ]  # fmt: skip
            assert api.ingest(batch).status_code == 202
            ids.append(trace)
        api.close()
    return ids


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The SQLite file every test copies, and its trace ids."""
    path = tmp_path_factory.mktemp("migrate") / "whyops.db"
    return path, make_source(path)


def rows(table: Table, read: Any, columns: list[str]) -> list[tuple[Any, ...]]:
    query = f"SELECT {', '.join(columns)} FROM {table.name}"
    return sorted((tuple(row) for row in read(query)), key=repr)


def same_rows(path: Path, url: str) -> dict[str, int]:
    """Every copied table holds the same rows in both databases; the row counts."""
    import psycopg

    counts = {}
    conn = sqlite3.connect(path)
    with psycopg.connect(url) as target:
        for table in TABLES:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table.name})")]
            columns = [c for c in columns if c != "seq"]
            expected = rows(table, conn.execute, columns)
            assert rows(table, target.execute, columns) == expected, table.name
            counts[table.name] = len(expected)
    conn.close()
    return counts


def test_everything_is_copied_once_and_served_the_same(
    source: tuple[Path, list[str]],
) -> None:
    path, traces = source
    url = pg.cluster().database()
    first = migrate(path, url)
    assert first.returncode == 0, first.stderr
    counts = same_rows(path, url)
    # Per project: agents "support" (two versions) and "agent" (one, made by its events).
    assert counts["events"] == 6 * 20 and (counts["agents"], counts["agent_versions"]) == (4, 6)
    assert counts["projects"] == 2 and counts["api_keys"] == 2
    assert "\r" not in first.stderr and "events: 100% 120/120 rows, 120 new" in first.stderr

    again = migrate(path, url)
    assert again.returncode == 0, again.stderr
    assert "copied 0 new rows" in again.stdout
    assert same_rows(path, url) == counts

    before, after = serve(str(path)), serve(url)
    try:
        for trace in traces[:1] + traces[-1:]:
            answers = []
            for running in (before, after):
                for k in KEYS:
                    api = Api(running, k)
                    answer = api.get(f"/api/threads/{trace}", params={"eventInclude": "content"})
                    answers.append((answer.status_code, answer.json()))
                    api.close()
            assert answers[:2] == answers[2:]
    finally:
        before.stop()
        after.stop()


def test_a_database_in_use_receives_the_copy_in_its_own_projects(
    source: tuple[Path, list[str]],
) -> None:
    """A server started on the target first made its own project ``default`` and key; the
    copied traces land in that project, readable with either key (once servers restart: keys
    are read at start)."""
    path, traces = source
    url = pg.cluster().database()
    first = serve(url)
    first.stop()
    assert first.api_key not in (None, MAIN_KEY)
    done = migrate(path, url)
    assert done.returncode == 0, done.stderr
    running = serve(url)
    try:
        for key in (first.api_key, MAIN_KEY):
            api = Api(running, key)
            assert len(api.thread(traces[0])["events"]) == 20
            api.close()
        other = Api(running, OTHER_KEY)
        assert other.get(f"/api/threads/{traces[0]}").status_code == 404
        assert len(other.thread(traces[-1])["events"]) == 20
        other.close()
    finally:
        running.stop()


def test_an_interrupted_copy_completes_on_the_next_run(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    make_source(path, traces=5, per_trace=1000)
    url = pg.cluster().database()
    command = [sys.executable, "-m", "whyops", "migrate", "--from", str(path), "--to", url,
               "--chunk-rows", "50"]  # fmt: skip
    copying = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        copied = wait_for_events(url, at_least=1000)
    finally:
        copying.send_signal(signal.SIGKILL)
        copying.wait()
    assert 0 < copied < 10_000 and copying.returncode == -signal.SIGKILL
    done = migrate(path, url)
    assert done.returncode == 0, done.stderr
    assert same_rows(path, url)["events"] == 10_000


def wait_for_events(url: str, at_least: int) -> int:
    import psycopg

    deadline = time.monotonic() + 60
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            found = conn.execute("SELECT to_regclass('events') IS NOT NULL").fetchone()
            if found and found[0]:
                count = conn.execute("SELECT count(*) FROM events").fetchone()
                if count and count[0] >= at_least:
                    return int(count[0])
            time.sleep(0.005)
    raise AssertionError("the copy did not start")


def test_a_terminal_shows_a_progress_bar(source: tuple[Path, list[str]]) -> None:
    path, _ = source
    url = pg.cluster().database()
    parent, child = pty.openpty()
    command = [sys.executable, "-m", "whyops", "migrate", "--from", f"sqlite:{path}", "--to", url]
    done = subprocess.run(command, stderr=child, stdout=child, timeout=120, check=False)
    os.close(child)
    shown = b""
    while True:
        try:
            chunk = os.read(parent, 65536)
        except OSError:  # the pty is closed once everything is read
            break
        if not chunk:
            break
        shown += chunk
    os.close(parent)
    assert done.returncode == 0, shown
    text = shown.decode()
    assert "\revents          [" in text and "#" * 30 + "] 100% 120/120 rows, 120 new" in text


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--from", "sqlite:{tmp}/nothing.db", "--to", "{url}"], "cannot read it as SQLite"),
        (["--from", "sqlite:{tmp}/empty.db", "--to", "{url}"], "not a whyops database"),
        (["--from", "sqlite:{tmp}/empty.db", "--to", "mysql://x"], "give a postgresql://"),
        (["--from", "sqlite:", "--to", "{url}"], "give the SQLite file"),
        (["--from", "{tmp}/empty.db", "--to", "{url}", "--chunk-rows", "0"], "--chunk-rows"),
    ],
)
def test_bad_arguments_get_one_clear_line(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    sqlite3.connect(tmp_path / "empty.db").close()
    url = pg.cluster().dsn("never_created")
    filled = [a.format(tmp=tmp_path, url=url) for a in arguments]
    done = subprocess.run(
        [sys.executable, "-m", "whyops", "migrate", *filled],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("whyops migrate: ") and message in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_rows_postgresql_cannot_hold_are_named_and_the_rest_copied(tmp_path: Path) -> None:
    """SQLite text may hold the NUL character; PostgreSQL text cannot."""
    path = tmp_path / "nul.db"
    for key, project in KEYS.items():
        remember_key(str(path), key, project)
    running = serve(str(path))
    try:
        api = Api(running, MAIN_KEY)
        kept, refused = new_trace(), new_trace() + "\x00"
        batch = [event("user_message", kept), event("user_message", refused)]
        assert api.ingest(batch).status_code == 202
        body = {"agentName": "nul\x00agent", "metadata": {"systemPrompt": "p", "tools": []}}
        assert api.post("/api/entities/init", body).status_code == 201
        api.close()
    finally:
        running.stop()
    url = pg.cluster().database()
    done = migrate(path, url)
    assert done.returncode == 1
    assert "left out the rows whose text holds the NUL character" in done.stderr
    # The agent, its version (which points at it) and the trace and event holding the NUL.
    for table in ("agents: 1", "agent_versions: 1", "traces: 1", "events: 1"):
        assert f"  {table} (" in done.stderr, done.stderr
    import psycopg

    with psycopg.connect(url) as conn:
        stored = [row[0] for row in conn.execute("SELECT trace_id FROM events")]
    assert stored == [kept]
