"""``/api/stats`` and ``/api/stats/top`` give the same answer on SQLite and on PostgreSQL for
the same stored calls (any names, latencies and token counts the ingest takes)."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests import pg
from tests.conftest import StoreUnderTest
from tests.server import stats_data
from tests.server.conftest import Api
from whyops.server.run import start_in_thread
from whyops.server.settings import ServerSettings

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(pg.missing_reason() is not None, reason=f"{pg.missing_reason()}"),
]

DAYS = itertools.count()
TIED = {"tool": "t", "model": "m", "agent": "a", "user": "u", "latency": 5, "tokens": 1,
        "failed": True, "minute": 0}  # fmt: skip
VIEWS = [("/api/stats", {"groupBy": g} if g else {}) for g in (None, "agent", "model", "user")]
VIEWS += [("/api/stats/top", {"kind": kind}) for kind in
          ("costliest_traces", "slowest_tools", "failing_tools", "heaviest_users")]  # fmt: skip
# PostgreSQL text cannot hold U+0000 (such a batch is refused there): any other character.
NAMES = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=12,
)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Api]]:
    directory = Path(tmp_path_factory.mktemp("stats-stores"))
    servers = [
        start_in_thread(ServerSettings(port=0, db_path=StoreUnderTest(name).new_db(directory)))
        for name in ("sqlite", "postgres")
    ]
    clients = [Api(running) for running in servers]
    yield clients
    for client, running in zip(clients, servers, strict=True):
        client.close()
        running.stop()


def _stored(api: Api, trace: str) -> None:
    for _ in range(200):  # the ingest answers before the writer commits
        if api.get(f"/api/threads/{trace}").status_code == 200:
            return
        time.sleep(0.02)
    raise AssertionError(f"{trace} was not stored")


def _costs_rounded(value: Any) -> Any:
    """Sums of cost in the order each database adds them: equal to 12 significant digits."""
    if isinstance(value, dict):
        return {
            k: float(f"{v:.12g}") if k == "costUsd" and isinstance(v, float) else _costs_rounded(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_costs_rounded(item) for item in value]
    return value


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(calls=st.lists(stats_data.calls(NAMES), min_size=1, max_size=5))
@example(calls=[TIED] * 4)  # equal calls in four traces: ties in every ranking
def test_both_stores_answer_alike(both: list[Api], calls: list[dict[str, Any]]) -> None:
    # A day of its own (the stores keep every example's calls), a trace per call.
    day = (date(2031, 3, 5) + timedelta(days=next(DAYS))).isoformat()
    traces = [f"st-{uuid.uuid4().hex[:10]}" for _ in calls]
    events = [
        e for t, c in zip(traces, calls, strict=True) for e in stats_data.call_events(t, c, day)
    ]
    for api in both:
        assert api.ingest(events).status_code in (200, 202)
        for trace in traces:
            _stored(api, trace)
    window = {"from": f"{day}T10:00:00Z", "to": f"{day}T13:00:00Z"}
    for path, params in VIEWS:
        sqlite, postgres = (api.get(path, params={**window, **params}) for api in both)
        assert sqlite.status_code == postgres.status_code == 200, (sqlite.text, postgres.text)
        assert _costs_rounded(sqlite.json()) == _costs_rounded(postgres.json()), (path, params)
