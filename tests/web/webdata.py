"""Build traces as the SDK sends them (docs/wire-format.md) and post them to a server.

The events follow the wire contract: one span = a first event at its start, thinking
events between, and a last event (or an ``error`` event) at its end, all sharing the
span's id, with the extension fields (parentSpanId, spanKind, spanName, threadId).
"""

from __future__ import annotations

import itertools
import os
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx2

CHROMIUM = os.environ.get("WHYOPS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_span_id() -> str:
    return secrets.token_hex(8)


def new_trace_id(prefix: str = "trace") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


@dataclass
class Span:
    name: str
    kind: str
    start_ms: float
    duration_ms: float
    inputs: Any = None
    output: Any = None
    error: tuple[str, str] | None = None  # (type, message)
    thinking: Sequence[str] = ()
    usage: dict[str, int] | None = None
    model: str | None = None
    provider: str | None = None
    children: list[Span] = field(default_factory=list)
    span_id: str = field(default_factory=new_span_id)


@dataclass
class Trace:
    agent_name: str
    root: Span
    trace_id: str = field(default_factory=new_trace_id)
    thread_id: str | None = None
    user_id: str | None = None
    start: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


def trace_events(trace: Trace) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    _walk(trace, trace.root, None, events)
    return events


def _walk(trace: Trace, span: Span, parent: str | None, out: list[dict[str, Any]]) -> None:
    out.extend(span_events(trace, span, parent))
    for child in span.children:
        _walk(trace, child, span.span_id, out)


def _common(trace: Trace, span: Span, parent: str | None, when: datetime) -> dict[str, Any]:
    event: dict[str, Any] = {
        "traceId": trace.trace_id,
        "agentName": trace.agent_name,
        "spanId": span.span_id,
        "timestamp": iso(when),
        "spanKind": span.kind,
        "spanName": span.name,
    }
    if parent:
        event["parentSpanId"] = parent
    if trace.thread_id:
        event["threadId"] = trace.thread_id
    if trace.user_id:
        event["externalUserId"] = trace.user_id
    return event


def span_events(trace: Trace, span: Span, parent: str | None) -> list[dict[str, Any]]:
    start = trace.start + timedelta(milliseconds=span.start_ms)
    end = start + timedelta(milliseconds=span.duration_ms)
    counter = itertools.count()

    def event(event_type: str, when: datetime, content: Any, metadata: dict[str, Any]) -> None:
        item = _common(trace, span, parent, when)
        item.update(eventType=event_type, content=content, metadata=metadata)
        item["idempotencyKey"] = f"{span.span_id}:{next(counter)}"
        events.append(item)

    events: list[dict[str, Any]] = []
    model_meta = {"model": span.model or "unknown", "provider": span.provider or "unknown"}
    if span.kind == "llm":
        messages = (span.inputs or {}).get("messages") or [{"role": "user", "content": "?"}]
        event("user_message", start, {"messages": messages}, dict(model_meta))
    else:
        calls = [{"name": span.name, "arguments": span.inputs or {}}]
        event("tool_call_request", start, {"toolCalls": calls}, {"tool": span.name})
    for text in span.thinking:
        block = {"type": "thinking", "thinking": text, "signature": "sig-" + span.span_id}
        event("llm_thinking", start, block, dict(model_meta))
    last_meta: dict[str, Any] = {
        "latencyMs": round(span.duration_ms),
        "durationNs": int(span.duration_ms * 1e6),
        "status": "error" if span.error else "ok",
    }
    if span.kind != "llm":
        last_meta["tool"] = span.name
    else:
        last_meta.update(model_meta)
    if span.usage:
        last_meta["usage"] = span.usage
    if span.error:
        kind, message = span.error
        stack = f'Traceback (most recent call last):\n  File "shop.py", line 7\n{kind}: {message}'
        content = {"message": f"{kind}: {message}", "type": kind, "stack": stack}
        event("error", end, content, last_meta)
    elif span.kind == "llm":
        content = span.output if isinstance(span.output, dict) else {"content": span.output}
        event("llm_response", end, {"finishReason": "stop", **content}, last_meta)
    else:
        calls = [{"name": span.name, "arguments": span.inputs or {}}]
        results = {"toolCalls": calls, "toolResults": span.output}
        event("tool_call_response", end, results, last_meta)
    return events


def post_events(base_url: str, api_key: str, events: Iterable[dict[str, Any]]) -> None:
    batch = list(events)
    for start in range(0, len(batch), 500):
        response = httpx2.post(
            f"{base_url}/api/events/ingest",
            json=batch[start : start + 500],
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=30,
        )
        assert response.status_code in (200, 201, 202), response.text


def post_trace(base_url: str, api_key: str, trace: Trace) -> Trace:
    post_events(base_url, api_key, trace_events(trace))
    return trace


USAGE = {"promptTokens": 420, "completionTokens": 36, "totalTokens": 456}
TOOL_CALL = {
    "id": "call_1",
    "function": {"name": "track_shipment", "arguments": '{"order_id": "A1001"}'},
}


def chat_span(
    start_ms: float, duration_ms: float, messages: list[Any], output: Any, **kw: Any
) -> Span:
    fields = {"usage": USAGE, "model": "gpt-4o-mini", "provider": "openai", **kw}
    inputs = {"messages": messages}
    name = "chat.completions gpt-4o-mini"
    return Span(name, "llm", start_ms, duration_ms, inputs=inputs, output=output, **fields)


def review_span(start_ms: float) -> Span:
    review = Span("review", "span", start_ms, 480, inputs={"reply": "Your order has shipped."})
    review.children = [
        Span(
            "messages claude-sonnet-4-5",
            "llm",
            start_ms + 10,
            460,
            inputs={"messages": [{"role": "user", "content": "Review this"}]},
            output="The reply is accurate and friendly.",
            thinking=["The customer asked about A1001; the tool says shipped."],
            usage={"promptTokens": 120, "completionTokens": 80, "totalTokens": 200},
            model="claude-sonnet-4-5",
            provider="anthropic",
        )
    ]
    return review


def support_trace(
    agent_name: str,
    *,
    question: str = "Where is my order A1001?",
    tool_output: Any = None,
    thread_id: str | None = None,
    user_id: str | None = "alice@example.com",
    start: datetime | None = None,
    fail: bool = True,
) -> Trace:
    """A demo-like turn: agent -> llm (tool call) -> failing tool, retried -> llm -> review."""
    output = tool_output if tool_output is not None else {"status": "shipped", "eta": "tomorrow"}
    messages = [
        {"role": "system", "content": "You are Sam."},
        {"role": "user", "content": question},
    ]
    timeout = ("CarrierTimeout", "tracking API did not answer within 2.0s")
    args = {"order_id": "A1001"}
    root = Span("support-agent", "agent", 0, 1450, inputs={"question": question})
    root.children = [
        chat_span(10, 300, messages, {"content": None, "toolCalls": [TOOL_CALL]}),
        Span("track_shipment", "tool", 320, 120, inputs=args, error=timeout),
        Span("track_shipment", "tool", 450, 90, inputs=args, output=output),
        chat_span(
            560,
            380,
            messages,
            "Your order A1001 has shipped and arrives tomorrow.",
            usage={**USAGE, "cacheReadTokens": 256, "cacheCreationTokens": 0},
        ),
        review_span(950),
    ]
    if not fail:
        root.children = [span for span in root.children if span.error is None]
    trace = Trace(agent_name, root, thread_id=thread_id, user_id=user_id)
    if start is not None:
        trace.start = start
    return trace


def big_trace(agent_name: str, iterations: int, steps: int) -> Trace:
    """An agent loop: iterations x (one llm call + steps tool calls), 2 events per span."""
    root = Span("loop-agent", "agent", 0, iterations * (steps + 2) * 2)
    for i in range(iterations):
        base = i * (steps + 2) * 2
        iteration = Span(f"iteration_{i}", "span", base, (steps + 1) * 2)
        iteration.children = [
            Span(
                "plan",
                "llm",
                base + 0.1,
                1.5,
                inputs={"messages": [{"role": "user", "content": f"step {i}"}]},
                output=f"plan {i}",
                model="gpt-4o-mini",
                provider="openai",
                usage={"promptTokens": 10, "completionTokens": 5, "totalTokens": 15},
            ),
            *[
                Span(
                    f"step_{i}_{j}",
                    "tool",
                    base + 2 + j * 2,
                    1.5,
                    inputs={"j": j},
                    output={"ok": j},
                )
                for j in range(steps)
            ],
        ]
        root.children.append(iteration)
    return Trace(agent_name, root)


def open_page(page: Any, server: Any, route: str = "/traces") -> Any:
    """Open the page the way `whyops serve` prints it: the key in the URL fragment."""
    page.goto(f"{server.base_url}/#{route}&key={server.api_key}")
    return page


def init_agent(base_url: str, api_key: str, name: str, metadata: dict[str, Any]) -> None:
    response = httpx2.post(
        f"{base_url}/api/entities/init",
        json={"agentName": name, "metadata": metadata},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=10,
    )
    assert response.status_code in (200, 201), response.text


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
