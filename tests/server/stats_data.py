"""A small data set for the stats tests, posted through the real ingest route, with the
numbers a reader can check by hand.

gpt-4o is priced at $2.50 input and $10 output per million tokens (whyops/pricing/prices.csv);
``mystery-model`` has no price.

| trace | agent | user | first | LLM calls (prompt/completion tokens, latency) | cost |
|---|---|---|---|---|---|
| A | alpha | u1 | 10:05 | 1000/500 100 ms, 2000/100 300 ms; tool lookup 30 ms | 0.0075 + 0.006 |
| B | beta | u2 | 11:30 | mystery-model 100/10 200 ms; lookup failed 50 ms; an error | none |
| C | alpha | u1 | 12:10 | 4000/0 400 ms | 0.01 |
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.server.conftest import event

DAY = "2031-03-04"
FROM, TO = f"{DAY}T10:00:00Z", f"{DAY}T13:00:00Z"


def llm(trace: str, time: str, model: str, tokens: tuple[int, int], latency: int, **fields: Any):
    prompt, completion = tokens
    usage = {"promptTokens": prompt, "completionTokens": completion}
    metadata = {"model": model, "provider": "openai", "latencyMs": latency, "usage": usage}
    return event("llm_response", trace, timestamp=f"{DAY}T{time}Z", metadata=metadata, **fields)


def tool(trace: str, time: str, latency: int, *, failed: bool = False, **fields: Any):
    metadata = {"tool": "lookup", "latencyMs": latency, "status": "error" if failed else "ok"}
    stamp = {"timestamp": f"{DAY}T{time}Z", "spanId": f"{trace}-t", **fields}
    return [
        event("tool_call_request", trace, **stamp),
        event("tool_call_response", trace, metadata=metadata, **stamp),
    ]


def events() -> list[dict[str, Any]]:
    alpha_u1 = {"agentName": "alpha", "externalUserId": "u1"}
    beta_u2 = {"agentName": "beta", "externalUserId": "u2"}
    return [
        event("user_message", "A", timestamp=f"{DAY}T10:05:00Z", **alpha_u1),
        llm("A", "10:06:00", "gpt-4o", (1000, 500), 100, **alpha_u1),
        *tool("A", "10:07:00", 30, **alpha_u1),
        llm("A", "10:08:00", "gpt-4o", (2000, 100), 300, **alpha_u1),
        llm("B", "11:30:00", "mystery-model", (100, 10), 200, **beta_u2),
        *tool("B", "11:30:30", 50, failed=True, **beta_u2),
        event("error", "B", timestamp=f"{DAY}T11:31:00Z", content={"message": "x"}, **beta_u2),
        llm("C", "12:10:00", "gpt-4o", (4000, 0), 400, **alpha_u1),
    ]


COST_A, COST_C = 1000 * 2.5e-6 + 500 * 10e-6 + 2000 * 2.5e-6 + 100 * 10e-6, 4000 * 2.5e-6


def calls(names: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    """An LLM call and a tool call of one agent and user, with ``names`` for their names (a
    model of them priced now and then), any latency and token count the ingest takes, between
    10:00 and 13:00 (of 2031-03-05, unless ``call_events`` is given another day)."""
    return st.fixed_dictionaries(
        {
            "tool": names,
            "model": st.one_of(names, st.just("gpt-4o")),
            "agent": names,
            "user": st.one_of(st.none(), names),
            "latency": st.one_of(st.integers(0, 10**9), st.floats(0, 1e15)),
            "tokens": st.integers(0, 2**40),
            "failed": st.booleans(),
            "minute": st.integers(0, 179),
        }
    )


def call_events(trace: str, call: dict[str, Any], day: str = "2031-03-05") -> list[dict[str, Any]]:
    stamp = f"{day}T{10 + call['minute'] // 60}:{call['minute'] % 60:02d}:00Z"
    shared = {"agentName": call["agent"], "timestamp": stamp}
    if call["user"] is not None:
        shared["externalUserId"] = call["user"]
    usage = {"promptTokens": call["tokens"], "reasoningTokens": call["tokens"]}
    status = "error" if call["failed"] else "ok"
    return [
        event("llm_response", trace, **shared, metadata={
            "model": call["model"], "provider": "openai", "latencyMs": call["latency"],
            "usage": usage}),
        event("tool_call_response", trace, **shared, spanName=call["tool"], metadata={
            "tool": call["tool"], "latencyMs": call["latency"], "status": status}),
    ]  # fmt: skip
