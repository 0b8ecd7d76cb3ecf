"""Property: whatever a SQLite server accepted arrives unchanged in PostgreSQL, or, when
PostgreSQL cannot hold it (the NUL character in text), is left out and named, never half-copied.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import pg
from tests.server.conftest import Api
from whyops.server.run import RunningServer, start_in_thread
from whyops.server.settings import ServerSettings
from whyops.server.store.transfer import Progress, migrate

pytestmark = pytest.mark.postgres

KEY = "whyops_migrate_property"
EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Any character but lone surrogates (not valid in JSON text): the NUL character included.
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
NUMBERS = st.one_of(st.none(), st.integers(0, 2**53), st.floats(0, 1e12, allow_nan=False))


@st.composite
def batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    trace = draw(TEXT)
    events = []
    for step in range(1, draw(st.integers(1, 4)) + 1):
        events.append({
            "eventType": draw(st.sampled_from(["user_message", "llm_response", "error"])),
            "traceId": trace, "agentName": draw(TEXT), "stepId": step,
            "spanName": draw(st.one_of(st.none(), TEXT)),
            "idempotencyKey": draw(TEXT) + f"-{step}",
            "content": draw(st.one_of(TEXT, st.dictionaries(TEXT, TEXT, max_size=3))),
            "metadata": {"model": draw(TEXT), "provider": "openai", "latencyMs": draw(NUMBERS)},
        })  # fmt: skip
    return events


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, RunningServer]]:
    reason = pg.missing_reason()
    if reason:
        pytest.skip(f"PostgreSQL: {reason}")
    path = tmp_path_factory.mktemp("property") / "whyops.db"
    running = start_in_thread(ServerSettings(port=0, db_path=str(path), api_keys=(KEY,)))
    try:
        yield path, running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def target() -> str:
    return pg.cluster().database()


def event_rows(read: Any, trace: str, marker: str) -> list[tuple[Any, ...]]:
    query = f"SELECT * FROM events WHERE trace_id = {marker} ORDER BY step_id, id"
    return [tuple(row[1:]) for row in read(query, (trace,))]  # seq numbers differ


@EXAMPLES
@given(batch=batches())
def test_accepted_events_arrive_unchanged_or_are_named(
    source: tuple[Path, RunningServer], target: str, batch: list[dict[str, Any]]
) -> None:
    import psycopg

    path, running = source
    api = Api(running, KEY)
    answer = api.ingest(batch)
    api.close()
    if answer.status_code != 202:
        assert answer.status_code in (400, 413), answer.text
        return
    outcome = migrate(str(path), target, 50, Progress(io.StringIO()))
    trace = batch[0]["traceId"]
    with sqlite3.connect(path) as conn:
        expected = event_rows(conn.execute, trace, "?")
    with psycopg.connect(target) as conn:
        copied = event_rows(conn.execute, trace, "%s") if "\x00" not in trace else []
    fits = [row for row in expected if not any("\x00" in str(value) for value in row)]
    assert copied == fits
    left_out = set(outcome.left_out["events"])
    assert {repr(row[0]) for row in expected if row not in fits} <= left_out
