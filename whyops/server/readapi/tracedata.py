"""A whole trace loaded once for the graph and span views."""

from __future__ import annotations

from typing import Any

import attrs

from whyops.server.readapi.shapes import event_json
from whyops.server.store import queries
from whyops.server.store.dialect import Connection
from whyops.server.store.queries import TS_US, Row


@attrs.frozen
class LoadedTrace:
    trace: Row
    events: list[dict[str, Any]]
    ts_us: list[int]

    @property
    def total_events(self) -> int:
        return int(self.trace["event_count"])

    @property
    def truncated(self) -> bool:
        return len(self.events) < self.total_events

    def cut(self) -> dict[str, Any]:
        """What the graph and span views add: whether the trace was cut at the configured cap."""
        return {
            "truncated": self.truncated,
            "totalEvents": self.total_events,
            "loadedEvents": len(self.events),
        }


def load_trace(
    conn: Connection, project_id: str, trace_id: str, *, max_events: int
) -> LoadedTrace | None:
    """The trace's first ``max_events`` events in time order (``--max-trace-events``)."""
    trace = queries.get_trace(conn, project_id, trace_id)
    if trace is None:
        return None
    rows = queries.trace_events(conn, project_id, trace_id, limit=max_events)
    events = [event_json(row, content=True, metadata=True) for row in rows]
    return LoadedTrace(trace, events, [row[TS_US] for row in rows])
