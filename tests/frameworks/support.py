"""What every framework test shares: importing the framework, the support tool, the run
under a `@whyops.agent` span, and reading the recorded trace back through the read API."""

from __future__ import annotations

import importlib
import json
import os
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

import attrs
import httpx2
import pytest

import whyops

T = TypeVar("T")
IN_FRAMEWORKS_VENV = os.environ.get("WHYOPS_FRAMEWORKS") == "1"
ORDERS = {"1234": {"order_id": "1234", "status": "shipped", "carrier": "ups"}}
ASK = "Where is order 1234?"


def require(module: str) -> ModuleType:
    """The framework module: skipped when absent, except in the frameworks venv, where a
    missing library is an error (`scripts/frameworks.sh` sets WHYOPS_FRAMEWORKS=1)."""
    if IN_FRAMEWORKS_VENV:
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=f"{module} is not installed (scripts/frameworks.sh)")


def look_up_order(order_id: str) -> dict[str, str]:
    """The support tool every framework is given (wrapped in `@whyops.tool` by the tests)."""
    return ORDERS.get(order_id.lstrip("#"), {"order_id": order_id, "error": "not found"})


# look_up_order as the chat completions API is told of it.
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_order",
            "description": "Look up an order by its id.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    }
]


@attrs.frozen
class AgentRun:
    """One run under `@whyops.agent`: its answer, trace and agent span."""

    answer: Any
    trace_id: str
    span_id: str


def run_as_agent(name: str, work: Callable[[], T]) -> AgentRun:
    """Run `work()` inside a `@whyops.agent` span, as the framework's caller would."""
    ids: dict[str, str] = {}

    @whyops.agent(name)
    def agent() -> T:
        span = whyops.current_span()
        assert span is not None
        ids.update(trace=span.trace_id, span=span.span_id)
        return work()

    answer = agent()
    return AgentRun(answer, ids["trace"], ids["span"])


async def arun_as_agent(name: str, work: Callable[[], Any]) -> AgentRun:
    """`run_as_agent` for a coroutine function."""
    ids: dict[str, str] = {}

    @whyops.agent(name)
    async def agent() -> Any:
        span = whyops.current_span()
        assert span is not None
        ids.update(trace=span.trace_id, span=span.span_id)
        return await work()

    answer = await agent()
    return AgentRun(answer, ids["trace"], ids["span"])


@attrs.frozen
class LlmCall:
    """A proxied model call as recorded: its span's events, response last."""

    span_id: str
    parent_span_id: str | None
    agent_name: str
    events: tuple[dict[str, Any], ...]

    @property
    def response(self) -> dict[str, Any]:
        [response] = [e for e in self.events if e["eventType"] == "llm_response"]
        return response

    @property
    def tool_names(self) -> list[str]:
        calls = (self.response.get("content") or {}).get("toolCalls") or []
        return [call["function"]["name"] for call in calls]

    @property
    def text(self) -> str:
        return (self.response.get("content") or {}).get("content") or ""


class Recorded:
    """Reads traces back from the server's read API."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.api_key = api_key

    def events(self, trace_id: str) -> list[dict[str, Any]]:
        answer = httpx2.get(
            f"{self.base_url}/api/events",
            params={"traceId": trace_id, "include": "content,metadata", "limit": 200},
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=10,
        )
        answer.raise_for_status()
        events: list[dict[str, Any]] = answer.json()["events"]
        return sorted(events, key=lambda e: (e["timestamp"], e["stepId"] or 0))

    @staticmethod
    def pause() -> None:
        """Between two reads of events the recorder is still writing."""
        time.sleep(0.05)

    def find_user_message(self, marker: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The recorded requests whose new messages contain `marker`, among the latest 200
        events (for calls that sent no trace id), once at least one has landed."""
        deadline = time.monotonic() + timeout
        while True:
            answer = httpx2.get(
                f"{self.base_url}/api/events",
                params={"include": "content", "limit": 200},
                headers={"Authorization": f"Bearer {self.api_key}"},
                timeout=10,
            )
            answer.raise_for_status()
            events = answer.json()["events"]
            found = [e for e in events if e["eventType"] == "user_message" and marker in str(e)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def wait(self, run: AgentRun, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The run's events, once `count` model calls have their response recorded and the
        agent span has landed (the SDK's spans are flushed first)."""
        whyops.flush(timeout=5)
        deadline = time.monotonic() + timeout
        while True:
            events = self.events(run.trace_id)
            agent_done = any(e["spanId"] == run.span_id for e in events)
            if (agent_done and len(_llm_calls(events)) >= count) or time.monotonic() > deadline:
                return events
            time.sleep(0.05)

    def check(
        self, run: AgentRun, *, count: int, tools: list[str], tool_spans: tuple[str, ...] = ()
    ) -> list[LlmCall]:
        """`count` model calls, each nested under the agent span and recorded with usage, whose
        answers called `tools` in this order; `tool_spans` (`@whyops.tool`) nested too."""
        events = self.wait(run, count)
        calls = _llm_calls(events)
        summary = json.dumps([(c.tool_names, c.text[:80]) for c in calls])
        assert len(calls) == count, summary
        for call in calls:
            assert call.parent_span_id == run.span_id, summary
            usage = call.response["metadata"].get("usage") or {}
            assert usage.get("promptTokens", 0) > 0, call.response["metadata"]
            assert usage.get("completionTokens", 0) > 0, call.response["metadata"]
        assert [name for call in calls for name in call.tool_names] == tools, summary
        spans = {(e["spanName"], e["parentSpanId"]) for e in events if e["spanKind"] == "tool"}
        assert spans == {(name, run.span_id) for name in tool_spans}
        return calls


def _llm_calls(events: list[dict[str, Any]]) -> list[LlmCall]:
    spans: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event.get("spanKind") == "llm":
            spans.setdefault(event["spanId"], []).append(event)
    calls = [
        LlmCall(span_id, group[0]["parentSpanId"], group[0]["agentName"], tuple(group))
        for span_id, group in spans.items()
        if any(e["eventType"] == "llm_response" for e in group)
    ]
    return sorted(calls, key=lambda call: call.response["timestamp"])
