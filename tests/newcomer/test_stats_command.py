"""``whyops stats`` against a real server holding the data set of tests/server/stats_data.py."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server import stats_data
from tests.server.conftest import Api
from whyops.cli import main
from whyops.server.run import RunningServer, start_in_thread
from whyops.server.settings import ServerSettings

RANGE = ("--from", stats_data.FROM, "--to", stats_data.TO, "--bucket", "1h")


@pytest.fixture(scope="module")
def stats_server(
    db_store: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    db = db_store.new_db(Path(tmp_path_factory.mktemp("stats-cli")))
    running = start_in_thread(ServerSettings(port=0, db_path=db))
    client = Api(running)
    assert client.ingest(stats_data.events()).status_code in (200, 201, 202)
    client.close()
    yield running
    running.stop()


def run_stats(running: RunningServer, capsys: Any, *argv: str) -> tuple[int, str, str]:
    connection = ("--base-url", running.base_url, "--api-key", running.api_key)
    code = main(["stats", *connection, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_prints_each_active_bucket_and_the_total_with_cost(
    stats_server: RunningServer, capsys: Any
) -> None:
    code, out, _ = run_stats(stats_server, capsys, *RANGE)
    assert code == 0
    heading, titles, *lines = out.splitlines()
    assert heading == "2031-03-04 10:00 → 2031-03-04 13:00 UTC, buckets of 1h"
    assert titles.split() == ["SERIES", "START", "(UTC)", "TRACES", "ERR%", "LLM", "TOOLS",
                              "P50", "P95", "P99", "IN", "OUT", "COST"]  # fmt: skip
    assert [line.split()[1:3] for line in lines] == [
        ["2031-03-04", "10:00"], ["2031-03-04", "11:00"], ["2031-03-04", "12:00"], ["total", "3"],
    ]  # fmt: skip
    assert lines[0].split()[3:6] == ["1", "0%", "2"]
    assert lines[0].endswith("$0.0135")
    assert lines[1].endswith("no price")  # the 11:00 call has no price, and is shown so
    assert lines[1].split()[4] == "100%"
    assert lines[3].endswith("$0.0235 +1 no price")


def test_group_by_agent_prints_a_block_per_series(stats_server: RunningServer, capsys: Any) -> None:
    code, out, _ = run_stats(stats_server, capsys, *RANGE, "--group-by", "agent")
    assert code == 0
    heading, _, *lines = out.splitlines()
    assert heading.endswith("by agent")
    assert [line.split()[0] for line in lines] == ["alpha"] * 3 + ["beta"] * 2
    assert lines[2].split()[1] == "total" and lines[2].endswith("$0.0235")


def test_json_prints_the_servers_answer(stats_server: RunningServer, capsys: Any) -> None:
    code, out, _ = run_stats(stats_server, capsys, *RANGE, "--agent", "beta", "--json")
    assert code == 0
    answer = json.loads(out)
    direct = Api(stats_server).get(
        "/api/stats", params={"from": stats_data.FROM, "to": stats_data.TO, "bucket": "1h",
                              "agent": "beta"}
    ).json()  # fmt: skip
    assert answer == direct
    assert answer["totals"]["costUsd"] is None and answer["totals"]["unpricedCalls"] == 1


def test_an_empty_range_and_a_bad_one(stats_server: RunningServer, capsys: Any) -> None:
    code, out, _ = run_stats(stats_server, capsys, "--from", "2031-01-01T00:00:00Z",
                             "--to", "2031-01-02T00:00:00Z")  # fmt: skip
    assert code == 0 and out.splitlines()[-1] == "no traces or calls in this range"
    code, _, err = run_stats(stats_server, capsys, "--from", "not-a-time")
    assert code == 1
    assert err.startswith("whyops: /api/stats: HTTP 400") and '"field":"from"' in err


def test_runs_as_a_program(stats_server: RunningServer, tmp_path: Path) -> None:
    connection = ["--base-url", stats_server.base_url, "--api-key", stats_server.api_key]
    result = subprocess.run(
        [sys.executable, "-m", "whyops", "stats", *connection, *RANGE, "--group-by", "model"],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    keys = [line.split()[0] for line in result.stdout.splitlines()[2:]]
    assert keys[0] == "gpt-4o" and "mystery-model" in keys
