"""`whyops demo --once` end to end, in a subprocess, then its traces read back from the database."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest

import whyops
from whyops.cli import demo

REPO = Path(__file__).resolve().parents[2]
TRACE_LINE = re.compile(r"^trace (\S+)  \((\S+), thread (\S+)\)$", re.M)


def run_demo(db: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WHYOPS_", "OPENAI_", "ANTHROPIC_"))
    }
    env["NO_COLOR"] = "1"
    command = [sys.executable, "-m", "whyops", "demo", "--once", "--port", "0", "--db", str(db)]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)


def spans_of(base_url: str, key: str, trace_id: str) -> list[dict[str, Any]]:
    response = httpx2.get(
        f"{base_url}/api/traces/{trace_id}/spans", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.text
    spans: list[dict[str, Any]] = response.json()["spans"]
    return spans


def check_turn_tree(trace_id: str, spans: list[dict[str, Any]]) -> None:
    """One turn: an agent root over both providers' model calls, thinking, and tools."""
    roots = [s for s in spans if s["parentSpanId"] is None]
    assert [(r["kind"], r["name"]) for r in roots] == [("agent", "support-agent")], trace_id
    providers = {s["provider"] for s in spans if s["kind"] == "llm"}
    assert {"openai", "anthropic"} <= providers, (trace_id, providers)
    thinking = [s for s in spans if s["kind"] == "llm" and s["thinking"]]
    assert thinking, f"no thinking recorded in {trace_id}"
    assert any(s["kind"] == "tool" for s in spans), trace_id
    ids = {s["id"] for s in spans}
    assert all(s["parentSpanId"] is None or s["parentSpanId"] in ids for s in spans), trace_id


@pytest.mark.slow
def test_demo_once_traces_the_support_agent(tmp_path: Path) -> None:
    pytest.importorskip("starlette", reason="the server extra is not installed")
    from whyops.server.run import start_in_thread
    from whyops.server.settings import ServerSettings

    db = tmp_path / "demo.db"
    result = run_demo(db)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    trees = [line for line in out.splitlines() if line[:1] in ("a", "├", "└", "│", " ")]
    assert trees, out
    assert all(len(line) <= 80 for line in trees if "http" not in line), out
    turns = TRACE_LINE.findall(out)
    assert len(turns) == 5, out
    assert {user for _, user, _ in turns} == {
        f"{n}@example.com" for n in ("alice", "bob", "carol", "dave")
    }
    assert out.index("✓") < out.index("\ntrace ")
    key = re.search(r"web page: (http://127\.0\.0\.1:\d+)/#key=(\S+)$", out, re.M)
    assert key, out
    links = re.findall(r"^  (http://\S+)$", out, re.M)  # each tree's link opens it, key included
    assert links == [f"{key[1]}/#/trace/{trace_id}&key={key[2]}" for trace_id, _, _ in turns]

    stored = sqlite3.connect(db)
    for trace_id, _, _ in turns:
        (count,) = stored.execute(
            "SELECT COUNT(*) FROM events WHERE trace_id = ?", (trace_id,)
        ).fetchone()
        assert count >= 8, trace_id
    stored.close()

    assert demo.demo_key(db) == key[2]  # kept next to the database for the next run
    # `whyops serve --db demo.db` afterwards: no key configured, none generated, and the
    # demo's key (stored hashed) still opens the demo's traces.
    settings = ServerSettings(host="127.0.0.1", port=0, db_path=str(db))
    with start_in_thread(settings) as server:
        assert server.api_key is None
        traces = {trace_id: spans_of(server.base_url, key[2], trace_id) for trace_id, _, _ in turns}
    failed_tools = []
    for trace_id, spans in traces.items():
        check_turn_tree(trace_id, spans)
        failed_tools += [
            (trace_id, s) for s in spans if s["kind"] == "tool" and s["status"] == "error"
        ]
    assert len(failed_tools) == 1, failed_tools
    trace_id, failed = failed_tools[0]
    assert failed["name"] == "track_shipment"
    assert "CarrierTimeout" in str(failed["error"])
    retried = [s for s in traces[trace_id] if s["name"] == "track_shipment" and s["status"] == "ok"]
    assert retried and retried[0]["start"] > failed["start"]


def test_the_demo_agent_ships_in_the_package() -> None:
    agent = demo.load_example()
    assert agent.__name__ == "whyops.demo_agent"
    assert Path(agent.__file__).parent == Path(whyops.__file__).parent / "demo_agent"
    assert len(agent.SESSIONS) == 4
    from examples import support_agent  # the readable example runs the same agent

    assert support_agent.run_sessions is agent.run_sessions


def test_a_taken_port_is_noticed() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert not demo.port_is_free(taken.getsockname()[1])


def test_an_explicit_port_that_is_taken_is_an_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "whyops", "demo", "--once", "--port", str(port)]
        command += ["--db", str(tmp_path / "demo.db")]
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"whyops demo: port {port} is in use on 127.0.0.1 (another server?);"
        " choose another with --port, or --port 0 for any free port"
    ]
    assert "running the support agent" not in result.stdout


def test_serve_names_the_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "whyops", "serve", "--port", str(port), "--db", "s.db"]
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr.splitlines()) == (
        2,
        [
            f"whyops serve: port {port} is in use on 127.0.0.1 (another server?);"
            " choose another with --port, or --port 0 for any free port"
        ],
    )


def test_without_a_port_a_taken_default_moves_and_says_so(monkeypatch: Any, capsys: Any) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(demo, "DEFAULT_PORT", port)
        assert demo._choose_port(port) == port  # given: kept, the server start will say it
        assert demo._choose_port(None) == 0
    assert (
        f"port {port} is taken: using a free port (choose one with --port)"
        in capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("db", "message"),
    [
        ("folder", "--db {db} is a directory, not a database file; e.g. --db {db}/whyops.db"),
        ("afile/x.db", "--db {db} is under {tmp}/afile, which is a file, not a directory"),
        ("missing/x.db", "--db {db}: the directory {tmp}/missing does not exist; create it first"),
        ("afile", "--db {db} is not a SQLite database (it holds something else)"),
    ],
)
def test_bad_db_paths_are_named(tmp_path: Path, db: str, message: str) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_text("not a database")
    path = str(tmp_path / db)
    for command in ("demo", "serve"):
        argv = [sys.executable, "-m", "whyops", command, "--db", path, "--port", "0"]
        result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert result.returncode == (1 if command == "demo" else 2), result.stderr
        expected = message.format(db=path, tmp=tmp_path)
        assert result.stderr.splitlines() == [f"whyops {command}: {expected}"]
    assert not (tmp_path / "missing").exists()


def test_only_the_default_directory_is_made(tmp_path: Path, monkeypatch: Any) -> None:
    from whyops.server.run import StartupError, check_db_path

    monkeypatch.chdir(tmp_path)
    check_db_path(".whyops/whyops.db")
    assert (tmp_path / ".whyops").is_dir()
    with pytest.raises(StartupError, match="the directory elsewhere does not exist"):
        check_db_path("elsewhere/whyops.db")


@pytest.mark.browser
def test_every_printed_link_opens_the_page_in_a_fresh_browser(
    browser: Any, tmp_path: Path, capsys: Any
) -> None:
    """The links `whyops serve` and `whyops demo` print carry the key: no key prompt."""
    import attrs
    from webdata import post_trace, support_trace, unique

    from whyops.server.run import _announce, start_in_thread
    from whyops.server.settings import ServerSettings

    expect = pytest.importorskip("playwright.sync_api").expect
    settings = ServerSettings(host="127.0.0.1", port=0, db_path=str(tmp_path / "links.db"))
    with start_in_thread(settings) as server:
        trace = post_trace(server.base_url, server.api_key, support_trace(unique("linked")))
        _announce(server.settings, server.api_key)  # a generated key
        _announce(attrs.evolve(server.settings, api_keys=(server.api_key,)), None)  # a given one
        turn = type("Turn", (), {"trace_id": trace.trace_id, "user_id": "u", "thread_id": "t"})
        demo.print_trees(server.base_url, server.api_key, [turn], color=False)
        printed = capsys.readouterr().out
        links = re.findall(r"(http://127\.0\.0\.1:\d+/#\S+)", printed)
        assert len(links) == 3, printed
        for link in links:
            context = browser.new_context()  # nothing stored: as a fresh browser
            page = context.new_page()
            try:
                page.goto(link)
                if "/trace/" in link:
                    expect(page.locator(".span-row[data-span-id]").first).to_be_visible()
                else:
                    row = page.locator(f'tr[data-trace-id="{trace.trace_id}"]')
                    expect(row).to_be_visible()
                expect(page.locator(".key-prompt")).to_have_count(0)
            finally:
                context.close()
