"""Schema and migrations, keyed on ``PRAGMA user_version`` (SQLite) or the ``whyops_schema``
table (PostgreSQL).

Each migration is applied once, in order, inside one transaction with the version bump, so a
database is always at exactly one known version. PostgreSQL runs the same scripts, rewritten by
its dialect, plus its own additions, under an advisory lock: servers starting together migrate
one after the other, and all but the first find nothing left to do.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from whyops.server.store.dialect import POSTGRESQL

_V1 = """
CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE api_keys (
    key_hash TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    prefix TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    latest_version_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (project_id, name)
);
CREATE TABLE agent_versions (
    id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents(id),
    hash TEXT NOT NULL,
    metadata TEXT NOT NULL,
    auto_created INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (agent_id, hash)
);
CREATE TABLE traces (
    project_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    agent_name TEXT,
    agent_id TEXT,
    agent_version_id TEXT,
    thread_id TEXT,
    external_user_id TEXT,
    first_ts TEXT NOT NULL,
    first_ts_us INTEGER NOT NULL,
    last_ts TEXT NOT NULL,
    last_ts_us INTEGER NOT NULL,
    event_count INTEGER NOT NULL DEFAULT 0,
    error_count INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    total_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
    total_latency_ms REAL NOT NULL DEFAULT 0,
    llm_calls INTEGER NOT NULL DEFAULT 0,
    last_model TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (project_id, trace_id)
) WITHOUT ROWID;
CREATE INDEX traces_by_last_event ON traces (project_id, last_ts_us DESC);
CREATE INDEX traces_by_update ON traces (project_id, updated_us);
CREATE INDEX traces_by_agent ON traces (project_id, agent_id);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    step_id INTEGER,
    parent_step_id INTEGER,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    span_kind TEXT,
    span_name TEXT,
    thread_id TEXT,
    event_type TEXT NOT NULL,
    ts TEXT NOT NULL,
    ts_us INTEGER NOT NULL,
    agent_name TEXT NOT NULL,
    external_user_id TEXT,
    idempotency_key TEXT,
    content TEXT,
    metadata TEXT,
    model TEXT,
    provider TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    total_tokens INTEGER,
    cache_read_tokens INTEGER,
    cache_creation_tokens INTEGER,
    latency_ms REAL,
    finish_reason TEXT,
    is_error INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX events_by_trace ON events (project_id, trace_id, ts_us, seq);
CREATE UNIQUE INDEX events_by_idempotency_key
    ON events (project_id, trace_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
"""

# Version 2: cost and OTLP. An LLM call's cost in USD with the price-table version that priced
# it (NULL: no price for that model, never a made-up zero), reasoning tokens as a column for
# the aggregates, per-trace sums, an index for time ranges (/api/stats), and the positions of
# the durable OTLP forwarder (--otlp-export).
_V2 = """
ALTER TABLE events ADD COLUMN reasoning_tokens INTEGER;
ALTER TABLE events ADD COLUMN cost_usd REAL;
ALTER TABLE events ADD COLUMN price_version TEXT;
ALTER TABLE traces ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE traces ADD COLUMN cost_usd REAL;
ALTER TABLE traces ADD COLUMN unpriced_calls INTEGER NOT NULL DEFAULT 0;
CREATE INDEX events_by_time ON events (project_id, ts_us);
CREATE TABLE export_cursors (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2)
SCHEMA_VERSION = len(MIGRATIONS)

# What PostgreSQL adds to each version: the insertion order SQLite's rowid gives, the index
# that finds a trace's last step (the writer cannot keep it in memory when several servers
# write), and the proxy's remembered answer ids (in memory on SQLite, where one server runs).
_PG_V1 = """
ALTER TABLE agent_versions ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;
CREATE INDEX events_by_step ON events (project_id, trace_id, step_id);
CREATE TABLE proxy_answers (
    project_id TEXT COLLATE "C" NOT NULL,
    answer_id TEXT COLLATE "C" NOT NULL,
    trace_id TEXT COLLATE "C" NOT NULL,
    created_us BIGINT NOT NULL,
    PRIMARY KEY (project_id, answer_id)
);
CREATE INDEX proxy_answers_by_age ON proxy_answers (created_us);
"""
PG_EXTRAS: tuple[str, ...] = (_PG_V1, "")
# pg_advisory_xact_lock key serializing migrations ("whyops" in ASCII).
MIGRATION_LOCK = 0x7768796F7073


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer whyops than this one."""


def _refuse_newer(found: int) -> None:
    if found > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"database schema version {found} is newer than this server ({SCHEMA_VERSION})"
        )


def migrate(conn: Any) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION`; returns the version found before."""
    if not isinstance(conn, sqlite3.Connection):
        return _migrate_pg(conn)
    (found,) = conn.execute("PRAGMA user_version").fetchone()
    _refuse_newer(found)
    for version in range(found, SCHEMA_VERSION):
        script = MIGRATIONS[version]
        conn.executescript(
            f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {version + 1};\nCOMMIT;"
        )
    return int(found)


def _migrate_pg(conn: Any) -> int:
    """PostgreSQL: every step in one transaction, holding the migration lock."""
    raw = conn.raw
    raw.execute("BEGIN")
    try:
        raw.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        raw.execute("CREATE TABLE IF NOT EXISTS whyops_schema (version INTEGER NOT NULL)")
        row = raw.execute("SELECT max(version) FROM whyops_schema").fetchone()
        found = int(row[0] or 0)
        _refuse_newer(found)
        for version in range(found, SCHEMA_VERSION):
            raw.execute(POSTGRESQL.schema(MIGRATIONS[version]) + PG_EXTRAS[version])
        if found < SCHEMA_VERSION:
            raw.execute("DELETE FROM whyops_schema")
            raw.execute("INSERT INTO whyops_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
        raw.execute("COMMIT")
    except BaseException:
        if not raw.broken:
            raw.execute("ROLLBACK")
        raise
    return found
