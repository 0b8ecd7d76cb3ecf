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

from whyops import demo
from whyops.terminal import CommandError

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
    key = re.search(r"web page: http://127\.0\.0\.1:\d+/#key=(\S+)", out)
    assert key, out

    stored = sqlite3.connect(db)
    for trace_id, _, _ in turns:
        (count,) = stored.execute(
            "SELECT COUNT(*) FROM events WHERE trace_id = ?", (trace_id,)
        ).fetchone()
        assert count >= 8, trace_id
    stored.close()

    assert demo.demo_key(db) == key.group(1)  # kept next to the database for the next run
    # `whyops serve --db demo.db` afterwards: no key configured, none generated, and the
    # demo's key (stored hashed) still opens the demo's traces.
    settings = ServerSettings(host="127.0.0.1", port=0, db_path=str(db))
    with start_in_thread(settings) as server:
        assert server.api_key is None
        traces = {
            trace_id: spans_of(server.base_url, key.group(1), trace_id) for trace_id, _, _ in turns
        }
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


def test_demo_says_clearly_when_the_example_is_missing(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(demo, "example_dir", lambda: tmp_path / "examples" / "support_agent")
    monkeypatch.delitem(sys.modules, demo.EXAMPLE_MODULE, raising=False)
    with pytest.raises(CommandError, match=r"the example agent is not at .*checkout of the"):
        demo.load_example()


def test_demo_finds_the_example_in_this_checkout() -> None:
    assert (demo.example_dir() / "agent.py").is_file()
    assert demo.example_dir() == REPO / "examples" / "support_agent"


def test_a_taken_port_is_noticed() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert not demo.port_is_free(taken.getsockname()[1])
