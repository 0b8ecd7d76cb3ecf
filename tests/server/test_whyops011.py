"""The released ``whyops`` 0.1.1 package (the WhyOps SDK) reports to our server unchanged.

It needs a separate virtualenv with that package (it has the same import name as ours):
``just wo011`` makes ``.venv-wo011`` in the repository root (``just test`` does it first), or
set ``WHYOPS_011_PYTHON`` to another interpreter that has it. The test skips, saying so, otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.server.conftest import Api, new_trace

CLIENT = Path(__file__).parent / "data" / "whyops011_client.py"
REPO = Path(__file__).resolve().parents[2]
VENV_PYTHON = os.environ.get("WHYOPS_011_PYTHON", str(REPO / ".venv-wo011" / "bin" / "python"))


def _legacy_python() -> str:
    if not Path(VENV_PYTHON).exists():
        pytest.skip(f"no whyops 0.1.1 interpreter at {VENV_PYTHON} (see this module's docstring)")
    probe = subprocess.run(
        [VENV_PYTHON, "-I", "-c", "import whyops._config_gen as c; print(c.SDK_VERSION)"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if probe.stdout.strip() != "0.1.1":
        pytest.skip(f"{VENV_PYTHON} does not have whyops 0.1.1: {probe.stderr.strip()[-200:]}")
    return VENV_PYTHON


@pytest.mark.slow
def test_whyops_011_client_talks_to_our_server(api: Api) -> None:
    python = _legacy_python()
    trace = new_trace()
    run = subprocess.run(
        [python, "-I", str(CLIENT), api.running.base_url, api.key or "", trace],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "[whyops]" not in run.stdout + run.stderr  # it prints on any failed request
    info = json.loads(run.stdout.strip().splitlines()[-1])
    assert info["versionHash"] and info["agentId"]

    detail = api.thread(trace, eventInclude="content,metadata")
    types = [e["eventType"] for e in detail["events"]]
    assert types == [
        "user_message",
        "llm_thinking",
        "llm_response",
        "tool_call_request",
        "tool_call_response",
        "tool_result",
        "embedding_request",
        "embedding_response",
        "llm_response",
        "error",
    ]  # fmt: skip  (the repeated embedding_request had the same idempotency key)
    assert detail["agentId"] == info["agentId"]
    assert (detail["promptTokens"], detail["cacheReadTokens"], detail["totalTokens"]) == (12, 4, 17)
    assert detail["errorCount"] == 1
    request, response = detail["events"][3], detail["events"][4]
    assert request["spanId"] == response["spanId"]
    assert response["content"]["toolResults"] == {"answer": 42}
    assert detail["events"][0]["timestamp"] == "2026-05-01T10:00:00.000Z"

    graph = api.get(f"/api/threads/{trace}/graph").json()["graph"]
    kinds = {(e["from"], e["to"]): e["kind"] for e in graph["edges"]}
    assert kinds[(detail["events"][2]["id"], request["id"])] == "tool_call"
    agent = api.get(f"/api/entities/{info['agentId']}").json()
    assert agent["latestVersion"]["hash"] == info["versionHash"]
    assert agent["versions"][0]["metadata"]["tools"][0]["name"] == "lookup"
