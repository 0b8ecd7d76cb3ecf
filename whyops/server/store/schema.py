"""Schema and migrations, keyed on ``PRAGMA user_version``.

Each migration is applied once, in order, inside one transaction with the version bump, so a
database is always at exactly one known version.
"""

from __future__ import annotations

import sqlite3

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

MIGRATIONS: tuple[str, ...] = (_V1,)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer whyops than this one."""


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION`; returns the version found before."""
    (found,) = conn.execute("PRAGMA user_version").fetchone()
    if found > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"database schema version {found} is newer than this server ({SCHEMA_VERSION})"
        )
    for version in range(found, SCHEMA_VERSION):
        script = MIGRATIONS[version]
        conn.executescript(
            f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {version + 1};\nCOMMIT;"
        )
    return int(found)
