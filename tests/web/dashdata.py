"""Traces for the dashboard tests, at known times in a past window, and the page's helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx2
from webdata import Span, Trace, iso, post_events, trace_events

# Token counts of one model call, every kind the dashboard stacks.
CALL_USAGE = {
    "promptTokens": 1200,
    "completionTokens": 300,
    "totalTokens": 1500,
    "cacheReadTokens": 400,
    "cacheCreationTokens": 100,
    "reasoningTokens": 50,
}


@dataclass
class Window:
    """A six-hour window that ended an hour before the test started, hour-aligned."""

    start: datetime = field(
        default_factory=lambda: (
            datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
            - timedelta(hours=7)
        )
    )

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=6)

    def at(self, minutes: float) -> datetime:
        return self.start + timedelta(minutes=minutes)

    def query(self, agent: str) -> dict[str, str]:
        return {"from": iso(self.start), "to": iso(self.end), "agent": agent}

    def route(self, agent: str) -> str:
        from urllib.parse import urlencode

        return "/dashboard?" + urlencode(self.query(agent))


def agent_turn(
    agent: str,
    start: datetime,
    *,
    user: str | None = "alice@example.com",
    tool: str = "lookup_order",
    tool_ms: float = 120,
    fail: bool = False,
    model: str = "gpt-4o-mini",
    provider: str = "openai",
    llm_ms: tuple[float, float] = (200, 300),
) -> Trace:
    """agent -> llm call -> tool (failing or not) -> llm call, one after the other."""
    error = ("ToolError", "the order service said no") if fail else None
    ask = {"messages": [{"role": "user", "content": "Where is my order?"}]}

    def call(start_ms: float, duration_ms: float, answer: str) -> Span:
        return Span(f"chat {model}", "llm", start_ms, duration_ms, inputs=ask, output=answer,
                    usage=CALL_USAGE, model=model, provider=provider)  # fmt: skip

    tool_at = 20 + llm_ms[0]
    answer_at = tool_at + tool_ms + 10
    root = Span("turn", "agent", 0, answer_at + llm_ms[1] + 10)
    root.children = [
        call(10, llm_ms[0], "calling a tool"),
        Span(
            tool, "tool", tool_at, tool_ms, inputs={"order": "A1"}, output={"ok": True}, error=error
        ),
        call(answer_at, llm_ms[1], "It has shipped."),
    ]
    return Trace(agent, root, user_id=user, start=start)


def post_turns(server: Any, turns: list[Trace]) -> list[Trace]:
    post_events(server.base_url, server.api_key, [e for t in turns for e in trace_events(t)])
    return turns


def get_stats(server: Any, path: str = "/api/stats", **params: str) -> Any:
    response = httpx2.get(
        f"{server.base_url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def buckets_of(stats: dict[str, Any]) -> list[dict[str, Any]]:
    (series,) = stats["series"]
    return list(series["buckets"])


TOKEN_KINDS = ("input", "output", "cacheRead", "cacheWrite", "reasoning")

# Collects what the page reports about itself: CSP violations and console errors.
WATCH_SCRIPT = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective));
"""
