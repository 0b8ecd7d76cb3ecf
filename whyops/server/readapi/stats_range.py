"""The query parameters ``/api/stats`` and ``/api/stats/top`` share: a time range and an agent."""

from __future__ import annotations

from typing import Any

import attrs

from whyops.server.readapi.params import Query
from whyops.server.timeutil import _MAX_US as LAST_US
from whyops.server.timeutil import _MIN_US as FIRST_US
from whyops.server.timeutil import now_us

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
DEFAULT_RANGE_US = DAY_US
MAX_RANGE_US = 400 * DAY_US
MAX_NAME = 255  # agent names are at most this long (validation.py)


@attrs.frozen
class Range:
    from_us: int
    to_us: int
    agent: str | None

    def where(self, project_id: str, time_column: str) -> tuple[str, list[Any]]:
        """The SQL condition (and its params) for a project's rows in ``[from, to)`` of
        ``time_column``, of the agent when one was asked for."""
        clause = f"project_id = ? AND {time_column} >= ? AND {time_column} < ?"
        params: list[Any] = [project_id, self.from_us, self.to_us]
        if self.agent is not None:
            clause += " AND agent_name = ?"
            params.append(self.agent)
        return clause, params


def read_range(query: Query) -> Range:
    """``from``/``to`` (default: the 24 hours before ``to``, which defaults to now) and
    ``agent``; problems go to ``query``."""
    known = len(query.issues.items)
    start, end = query.time_us("from"), query.time_us("to")
    agent = _agent(query)
    if len(query.issues.items) > known:
        return Range(0, 1, None)
    end = now_us() if end is None else end
    start = end - DEFAULT_RANGE_US if start is None else start
    for name, moment in (("from", start), ("to", end)):
        if not FIRST_US <= moment <= LAST_US:  # an offset can carry a time past year 9999
            query.issues.add(name, "Must be in the years 1 to 9999 (UTC)", "out_of_range")
    if len(query.issues.items) > known:
        return Range(0, 1, None)
    if end <= start:
        query.issues.add("to", "Must be later than from", "out_of_range")
    elif end - start > MAX_RANGE_US:
        query.issues.add("to", "Must be at most 400 days after from", "out_of_range")
    return Range(start, end, agent)


def _agent(query: Query) -> str | None:
    agent = query.text("agent")
    if agent is None:
        return None
    if len(agent) > MAX_NAME or "\x00" in agent:
        query.issues.add(
            "agent", f"Expected an agent name of at most {MAX_NAME} characters", "invalid_string"
        )
        return None
    return agent
