"""Proxy budgets: ``--budget agent=support:10USD/day`` refuses new model calls once the spend
recorded for that scope in the current period reaches the limit.

The spend is read from the store (the cost written at ingest, docs/cost.md), so every server
sharing one database sees the same spend. It is read at most once a second per budget and
project; calls already running when a budget is reached still finish, so a period can end a
little over its limit (by the calls in flight), never under it by refusing too early.
Periods are calendar periods in UTC: an hour, a day, a month.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import attrs
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from whyops.server.auth import extract_key
from whyops.server.proxy import errors
from whyops.server.proxy.providers import Provider
from whyops.wire.events import NEEDS_MODEL

SPEC_FORMAT = "SCOPE=NAME:AMOUNT UNIT/PERIOD, e.g. agent=support:10USD/day"
SCOPES = ("agent", "key")
PERIODS = ("hour", "day", "month")
_SPEC = re.compile(
    r"(?P<scope>[a-z]+)=(?P<name>[^:]+):(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>[a-zA-Z]+)"
    r"/(?P<period>[a-z]+)"
)
REFRESH_S = 1.0  # how stale a spend read may be
# The units, and what a budget in each sums per call. A call's tokens: its total, else
# prompt + completion (as a trace's total sums them at ingest, store/ingest.py).
UNITS = {
    "usd": "cost_usd",
    "tokens": "coalesce(total_tokens, coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0))",
}
_MODEL_EVENT_TYPES = tuple(sorted(t.value for t in NEEDS_MODEL))


@attrs.frozen
class Budget:
    """One ``--budget``: a limit of ``amount`` (USD or tokens) per period for one scope."""

    scope: str  # "agent": calls with that X-Agent-Name; "key": calls with a key of that prefix
    name: str
    amount: float
    unit: str  # "usd" | "tokens"
    period: str  # "hour" | "day" | "month"

    @classmethod
    def parse(cls, text: str) -> Budget:
        """``agent=NAME:10USD/day``, ``key=PREFIX:2000000tokens/hour``; ValueError says which
        part is wrong."""
        found = _SPEC.fullmatch(text.strip())
        if found is None:
            raise ValueError(f"--budget {text!r}: expected {SPEC_FORMAT}")
        scope, unit, period = found["scope"], found["unit"].lower(), found["period"]
        if scope not in SCOPES:
            raise ValueError(f"--budget {text!r}: scope must be one of {', '.join(SCOPES)}")
        if unit not in UNITS:
            raise ValueError(f"--budget {text!r}: unit must be USD or tokens")
        if period not in PERIODS:
            raise ValueError(f"--budget {text!r}: period must be one of {', '.join(PERIODS)}")
        name = found["name"].strip()
        if not name:
            raise ValueError(f"--budget {text!r}: expected {SPEC_FORMAT}")
        return cls(scope, name, float(found["amount"]), unit, period)

    def applies(self, agent_name: str, key: str | None) -> bool:
        if self.scope == "agent":
            return agent_name == self.name
        return key is not None and key.startswith(self.name)

    @property
    def unit_text(self) -> str:
        return "USD" if self.unit == "usd" else "tokens"

    def describe(self) -> str:
        amount = f"{_plain(self.amount)} {self.unit_text}"
        return f"{self.scope} {self.name!r}: {amount} per {self.period}"

    def describe_spec(self) -> str:
        """The ``--budget`` text of this budget."""
        return f"{self.scope}={self.name}:{_plain(self.amount)}{self.unit_text}/{self.period}"


def _plain(amount: float) -> str:
    """``0.000001``, ``10``: a number as typed, never in exponent form."""
    text = format(Decimal(repr(amount)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def parse_budgets(texts: Sequence[str]) -> tuple[Budget, ...]:
    return tuple(Budget.parse(text) for text in texts)


def period_bounds(period: str, now: float) -> tuple[float, float]:
    """The UTC calendar period holding ``now``: (start, end) in epoch seconds."""
    moment = datetime.fromtimestamp(now, timezone.utc)
    if period == "hour":
        start = moment.replace(minute=0, second=0, microsecond=0)
        return start.timestamp(), start.timestamp() + 3600
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return start.timestamp(), start.timestamp() + 86400
    start = start.replace(day=1)
    days = calendar.monthrange(start.year, start.month)[1]
    return start.timestamp(), start.timestamp() + days * 86400


def spend_query(conn: Any, project_id: str, budget: Budget, period_us: tuple[int, int]) -> float:
    """The spend of ``budget``'s scope in ``[start, end)`` of ``period_us`` (runs on a store
    reader); a call stamped past the period (a client clock ahead) counts in its own."""
    marks = ", ".join("?" * len(_MODEL_EVENT_TYPES))
    sql = (
        f"SELECT coalesce(sum({UNITS[budget.unit]}), 0) FROM events"
        f" WHERE project_id = ? AND ts_us >= ? AND ts_us < ? AND event_type IN ({marks})"
    )
    args: list[Any] = [project_id, *period_us, *_MODEL_EVENT_TYPES]
    if budget.scope == "agent":
        sql += " AND agent_name = ?"
        args.append(budget.name)
    (spent,) = conn.execute(sql, args).fetchone()
    return float(spent or 0)


@attrs.define
class _Reading:
    spent: float
    read_at: float
    period_start: float


class Budgets:
    """The configured budgets and the last spend read for each (budget, project)."""

    def __init__(self, budgets: Sequence[Budget]) -> None:
        self.budgets = tuple(budgets)
        self._readings: dict[tuple[Budget, str], _Reading] = {}

    def __bool__(self) -> bool:
        return bool(self.budgets)

    def applicable(self, agent_name: str, key: str | None) -> list[Budget]:
        return [b for b in self.budgets if b.applies(agent_name, key)]

    def cached(self, budget: Budget, project_id: str, now: float) -> float | None:
        reading = self._readings.get((budget, project_id))
        start, _ = period_bounds(budget.period, now)
        if reading is None or reading.period_start != start or now - reading.read_at > REFRESH_S:
            return None
        return reading.spent

    def remember(self, budget: Budget, project_id: str, spent: float, now: float) -> None:
        start, _ = period_bounds(budget.period, now)
        self._readings[(budget, project_id)] = _Reading(spent, now, start)


def refusal_message(budget: Budget, spent: float, now: float) -> tuple[str, int]:
    """What the caller reads, and the seconds until the period ends (Retry-After)."""
    _, end = period_bounds(budget.period, now)
    used = f"{spent:.4f} USD" if budget.unit == "usd" else f"{spent:.0f} tokens"
    reset = datetime.fromtimestamp(end, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    message = (
        f"whyops proxy: budget exceeded for {budget.describe()}; {used} used this"
        f" {budget.period}. New calls are refused until {reset}."
    )
    return message, max(1, int(end - now))


async def refuse_over_budget(
    request: Request, provider: Provider, project_id: str, agent_name: str
) -> Response | None:
    """The provider-shaped 429 for a call whose budget is spent; None: let it through.

    ``x-should-retry: false`` keeps the OpenAI and Anthropic SDKs from retrying a refusal
    that holds until the period ends (Retry-After says when)."""
    budgets: Budgets = request.app.state.budgets
    if not budgets:
        return None
    moment = time.time()
    for budget in budgets.applicable(agent_name, extract_key(request)):
        spent = budgets.cached(budget, project_id, moment)
        if spent is None:
            spent = await _read_spend(request, budget, project_id, moment)
            budgets.remember(budget, project_id, spent, moment)
        if spent >= budget.amount:
            message, retry_after = refusal_message(budget, spent, moment)
            response = errors.refusal(provider, 429, message, code="budget_exceeded")
            response.headers["retry-after"] = str(retry_after)
            response.headers["x-should-retry"] = "false"
            return response
    return None


async def _read_spend(request: Request, budget: Budget, project_id: str, moment: float) -> float:
    start, end = period_bounds(budget.period, moment)
    period_us = (int(start * 1_000_000), int(end * 1_000_000))
    store = request.app.state.store
    spent: float = await run_in_threadpool(store.read, spend_query, project_id, budget, period_us)
    return spent
