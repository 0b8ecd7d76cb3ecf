"""Agents and their versions (WhyOps "entities"): writes run on the writer thread."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from whyops.server.store.dialect import Connection
from whyops.server.store.rows import InitOutcome
from whyops.server.store.writer import WriterState
from whyops.server.timeutil import now_iso

AUTO_SYSTEM_PROMPT = "(Auto-initialized from ingested trace event)"
AUTO_DESCRIPTION = "Auto-initialized from the first ingested trace event"


def version_hash(metadata: dict[str, Any]) -> str:
    """WhyOps' versionHash: sha256 of the schema-ordered compact JSON, first 32 hex digits.

    ``metadata`` must already be in schema order (see ``validation.parse_agent_metadata``);
    ``ensure_ascii=False`` and compact separators reproduce ``JSON.stringify``.
    """
    text = json.dumps(metadata, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def init_agent(
    conn: Connection,
    state: WriterState,
    project_id: str,
    name: str,
    metadata: dict[str, Any],
) -> InitOutcome:
    """Register ``metadata`` as the agent's current version.

    New hash: a new version (created). Same as the latest: nothing changes. Same as an older
    version (a config reverted A→B→A): that version becomes the latest again, not created.
    """
    digest = version_hash(metadata)
    now = now_iso()
    state.lock(conn, [("agent", project_id, name)])
    agent_id, latest = _find_or_create(conn, project_id, name, now)
    found = conn.execute(
        "SELECT id FROM agent_versions WHERE agent_id = ? AND hash = ?", (agent_id, digest)
    ).fetchone()
    if found is not None:
        outcome = InitOutcome(agent_id, found[0], digest, created=False)
        if found[0] != latest:  # a config that came back: its version is the latest again
            _make_latest(conn, agent_id, found[0], now)
    else:
        version_id = _insert_version(conn, agent_id, digest, metadata, now, auto=False)
        outcome = InitOutcome(agent_id, version_id, digest, created=True)
    state.remember_agent((project_id, name), (outcome.agent_id, outcome.version_id))
    return outcome


def _find_or_create(
    conn: Connection, project_id: str, name: str, now: str
) -> tuple[str, str | None]:
    """(agent id, latest version id or None)."""
    row = conn.execute(
        "SELECT id, latest_version_id FROM agents WHERE project_id = ? AND name = ?",
        (project_id, name),
    ).fetchone()
    if row is not None:
        return row[0], row[1]
    agent_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO agents (id, project_id, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        (agent_id, project_id, name, now, now),
    )
    return agent_id, None


def _insert_version(
    conn: Connection,
    agent_id: str,
    digest: str,
    metadata: dict[str, Any],
    now: str,
    *,
    auto: bool,
) -> str:
    version_id = str(uuid.uuid4())
    text = json.dumps(metadata, ensure_ascii=False)
    conn.execute(
        "INSERT INTO agent_versions (id, agent_id, hash, metadata, auto_created, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (version_id, agent_id, digest, text, int(auto), now, now),  # 0/1: an INTEGER column
    )
    _make_latest(conn, agent_id, version_id, now)
    return version_id


def _make_latest(conn: Connection, agent_id: str, version_id: str, now: str) -> None:
    conn.execute(
        "UPDATE agents SET latest_version_id = ?, updated_at = ? WHERE id = ?",
        (version_id, now, agent_id),
    )
    conn.execute("UPDATE agent_versions SET updated_at = ? WHERE id = ?", (now, version_id))


def resolve_agent(
    conn: Connection,
    state: WriterState,
    project_id: str,
    name: str,
    event_metadata: dict[str, Any] | None,
    binds: bool = True,
) -> tuple[str, str]:
    """(agent id, latest version id) for an event's agentName, creating it if unknown.

    ``binds``: a new trace takes the version returned, which must then be the latest even when
    other servers write (the cache is exact only for the only writer); an agent merely named
    needs to exist, which a cached one does.
    """
    key = (project_id, name)
    cached = state.agents.get(key) if state.exclusive or not binds else None
    if cached is not None:
        return cached
    row = conn.execute(
        "SELECT id, latest_version_id FROM agents WHERE project_id = ? AND name = ?",
        (project_id, name),
    ).fetchone()
    if row is not None and row[1] is not None:
        state.remember_agent(key, (row[0], row[1]))
        return row[0], row[1]
    outcome = init_agent(conn, state, project_id, name, _auto_metadata(event_metadata))
    conn.execute("UPDATE agent_versions SET auto_created = 1 WHERE id = ?", (outcome.version_id,))
    return outcome.agent_id, outcome.version_id


def _auto_metadata(event_metadata: dict[str, Any] | None) -> dict[str, Any]:
    """The version WhyOps derives from a first event: its system prompt, else a placeholder."""
    meta = event_metadata or {}
    prompt = meta.get("systemPrompt")
    if not isinstance(prompt, str) or not prompt:
        prompt = AUTO_SYSTEM_PROMPT
    return {"systemPrompt": prompt, "tools": [], "description": AUTO_DESCRIPTION}
