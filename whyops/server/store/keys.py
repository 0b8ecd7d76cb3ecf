"""Projects and API keys. Keys are stored as SHA-256 hashes only, never in clear."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence

from whyops.server.settings import KeySpec
from whyops.server.store.dialect import Connection, begin_locked
from whyops.server.store.rows import Project
from whyops.server.timeutil import now_iso

GENERATED_KEY_PREFIX = "whyops_"
DEFAULT_PROJECT = "default"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_key() -> str:
    return GENERATED_KEY_PREFIX + secrets.token_urlsafe(24)


def project_name_for(spec: KeySpec) -> str:
    """A nameless key gets a project of its own, named after (a hash of) the key."""
    return spec.project or f"key-{hash_key(spec.key)[:12]}"


def _project(conn: Connection, name: str) -> Project:
    row = conn.execute("SELECT id FROM projects WHERE name = ?", (name,)).fetchone()
    if row is not None:
        return Project(id=row[0], name=name)
    project = Project(id=str(uuid.uuid4()), name=name)
    conn.execute(
        "INSERT INTO projects (id, name, created_at) VALUES (?, ?, ?)",
        (project.id, project.name, now_iso()),
    )
    return project


def resolve_keys(
    conn: Connection, specs: Sequence[KeySpec]
) -> tuple[dict[str, Project], str | None]:
    """The valid keys, as ``{sha256(key): project}``, plus a key generated just now, if any.

    Configured keys (flags or environment) are the only valid ones when given; their projects
    are kept in the database so data stays visible across restarts. Without configured keys,
    the keys stored in the database are used, and one is generated when there are none.
    """
    begin_locked(conn, "keys")  # servers starting together generate one key, not two
    try:
        if specs:
            keys = {hash_key(s.key): _project(conn, project_name_for(s)) for s in specs}
            generated = None
        else:
            keys, generated = _stored_keys(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return keys, generated


def _stored_keys(conn: Connection) -> tuple[dict[str, Project], str | None]:
    rows = conn.execute(
        "SELECT k.key_hash, p.id, p.name FROM api_keys k JOIN projects p ON p.id = k.project_id"
    ).fetchall()
    if rows:
        return {digest: Project(id=pid, name=name) for digest, pid, name in rows}, None
    key = generate_key()
    project = _project(conn, DEFAULT_PROJECT)
    conn.execute(
        "INSERT INTO api_keys (key_hash, project_id, prefix, created_at) VALUES (?, ?, ?, ?)",
        (hash_key(key), project.id, key[:12], now_iso()),
    )
    return {hash_key(key): project}, key


def store_key(conn: Connection, key: str, project_name: str) -> Project:
    """Keep ``key`` (hashed) for ``project_name``, so later starts without configured keys
    accept it; a key stored already keeps its project."""
    begin_locked(conn, "keys")
    try:
        project = _project(conn, project_name)
        conn.execute(
            "INSERT INTO api_keys (key_hash, project_id, prefix, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (hash_key(key), project.id, key[:12], now_iso()),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return project
