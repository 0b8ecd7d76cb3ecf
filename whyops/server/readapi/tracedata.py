"""A whole trace loaded once for the graph and span views."""

from __future__ import annotations

import sqlite3
from typing import Any

import attrs

from whyops.server.readapi.shapes import event_json
from whyops.server.store import queries
from whyops.server.store.queries import TS_US

# The graph and span views always cover the whole trace, up to this many events.
MAX_TRACE_EVENTS = 100_000


@attrs.frozen
class LoadedTrace:
    trace: sqlite3.Row
    events: list[dict[str, Any]]
    ts_us: list[int]


def load_trace(conn: sqlite3.Connection, project_id: str, trace_id: str) -> LoadedTrace | None:
    trace = queries.get_trace(conn, project_id, trace_id)
    if trace is None:
        return None
    rows = queries.trace_events(conn, project_id, trace_id, limit=MAX_TRACE_EVENTS)
    events = [event_json(row, content=True, metadata=True) for row in rows]
    return LoadedTrace(trace, events, [row[TS_US] for row in rows])
