"""A version 1 database (written by whyops before cost columns existed) opened by this server:
migrated to version 2, its old calls unpriced until ``whyops reprice``, its new calls priced."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import StoreUnderTest
from tests.server.conftest import Api, read_only
from tests.server.test_cost_ingest import query_rows
from whyops.cli import main
from whyops.pricing import PriceTable
from whyops.server.run import start_in_thread
from whyops.server.settings import ServerSettings
from whyops.server.store.dialect import POSTGRESQL
from whyops.server.store.schema import MIGRATIONS, PG_EXTRAS

DUMP = Path(__file__).parent / "data" / "whyops_v1.sql"
KEY = "whyops_v1_key"  # the key the version 1 server took; its project holds trace-v1
M = 1_000_000
GPT4O_USD = (600 * 2.5 + 400 * 1.25 + 500 * 10) / M  # 1000 prompt (400 cached), 500 output
HAIKU_USD = (10 * 1 + 200 * 0.1 + 100 * 1.25 + 7 * 5) / M  # Anthropic: input excludes cache


def _restore_v1(db_store: StoreUnderTest, directory: Path) -> str:
    """The version 1 schema with the dump's rows, marked as version 1 as that server did."""
    db = db_store.new_db(directory)
    inserts = DUMP.read_text("utf-8").splitlines()
    tables = ("projects", "api_keys", "agents", "agent_versions", "traces", "events")
    ordered = [line for t in tables for line in inserts if line.startswith(f'INSERT INTO "{t}" ')]
    assert len(ordered) == sum(line.startswith("INSERT") for line in inserts) == 7
    if db_store.name == "sqlite":
        import sqlite3

        conn = sqlite3.connect(db)
        conn.executescript(MIGRATIONS[0] + "\n".join(ordered))
        conn.execute("PRAGMA user_version = 1")
        conn.close()
        return db
    import psycopg

    with psycopg.connect(db, autocommit=True) as pg:
        pg.execute(POSTGRESQL.schema(MIGRATIONS[0]) + PG_EXTRAS[0])
        pg.execute("CREATE TABLE whyops_schema (version INTEGER NOT NULL)")
        pg.execute("INSERT INTO whyops_schema (version) VALUES (1)")
        for line in ordered:
            pg.execute(line)
        # Rows inserted with their ids: the identity continues after them.
        pg.execute("SELECT setval(pg_get_serial_sequence('events', 'seq'), max(seq)) FROM events")
    return db


def _version(db: str) -> int:
    conn = read_only(db)
    try:
        query = "PRAGMA user_version" if "://" not in db else "SELECT version FROM whyops_schema"
        return int(conn.execute(query).fetchone()[0])
    finally:
        conn.close()


CALLS = (
    "SELECT model, cost_usd, reasoning_tokens FROM events"
    " WHERE event_type = 'llm_response' ORDER BY ts_us"
)
TRACE = "SELECT cost_usd, unpriced_calls, reasoning_tokens, llm_calls FROM traces"


def test_v1_database_is_migrated_and_repriced(
    db_store: StoreUnderTest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _restore_v1(db_store, tmp_path)
    settings = ServerSettings(port=0, db_path=db, api_keys=(KEY,))
    with start_in_thread(settings) as running:
        assert _version(db) == 2
        api = Api(running)
        # Stored before prices existed: no cost, and not counted as unpriced either.
        assert query_rows(db, CALLS) == [
            ("gpt-4o", None, None),
            ("claude-haiku-4-5-20251001", None, None),
        ]
        assert query_rows(db, TRACE) == [(None, 0, 0, 2)]
        assert api.get("/api/threads/trace-v1").status_code == 200
        new_call = {"eventType": "llm_response", "traceId": "trace-v1", "agentName": "v1-agent",
                    "timestamp": "2026-11-03T10:00:00.000000Z",
                    "metadata": {"model": "gpt-4o-mini", "provider": "openai",
                                 "usage": {"promptTokens": 100,
                                           "completionTokens": 10}}}  # fmt: skip
        assert api.ingest(new_call).status_code == 202
        new_usd = (100 * 0.15 + 10 * 0.6) / M
        assert query_rows(db, TRACE) == [(pytest.approx(new_usd), 0, 0, 3)]
        # The old calls get their cost on purpose, with the server still running.
        assert main(["reprice", "--db", db]) == 0
        assert query_rows(db, CALLS) == [
            ("gpt-4o", pytest.approx(GPT4O_USD), 100),
            ("claude-haiku-4-5-20251001", pytest.approx(HAIKU_USD), None),
            ("gpt-4o-mini", pytest.approx(new_usd), None),
        ]
        assert query_rows(db, TRACE) == [
            (pytest.approx(GPT4O_USD + HAIKU_USD + new_usd), 0, 100, 3)
        ]
        assert api.get("/api/threads/trace-v1").status_code == 200
        api.close()
    out = capsys.readouterr().out
    assert f"price version {PriceTable.load().version}: 3 LLM calls read, 2 changed" in out
    assert "claude-haiku-4-5-20251001" in out
