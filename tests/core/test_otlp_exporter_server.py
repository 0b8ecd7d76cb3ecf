"""The otlp exporter with ``whyops serve`` itself as the receiver (``POST /v1/traces``): the
trace it stores reads back through the read API as the SDK recorded it."""

from __future__ import annotations

from typing import Any

import httpx2

import whyops
from whyops._config import OtlpOptions
from whyops.export.otlp import OtlpExporter

ANSWER = {
    "id": "chatcmpl-7",
    "object": "chat.completion",
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "It shipped yesterday."},
        }
    ],
    "usage": {
        "prompt_tokens": 40,
        "completion_tokens": 6,
        "total_tokens": 46,
        "prompt_tokens_details": {"cached_tokens": 32},
    },
}


@whyops.span(kind="llm", name="openai.chat")
def ask_model(messages: list[dict[str, str]]) -> dict[str, Any]:
    return ANSWER


@whyops.tool
def find_order(order: str) -> dict[str, str]:
    return {"order": order, "status": "shipped"}


@whyops.agent("order-desk")
def desk(question: str) -> str:
    find_order("A1")
    answer = ask_model([{"role": "user", "content": question}])
    return str(answer["choices"][0]["message"]["content"])


def test_whyops_serve_stores_what_the_otlp_exporter_sends(server: Any, restore_tracer: Any) -> None:
    headers = (("Authorization", f"Bearer {server.api_key}"),)
    exporter = OtlpExporter(
        OtlpOptions(endpoint=server.base_url + "/v1/traces", headers=headers, compression="gzip")
    )
    whyops.configure(exporter=exporter, flush_interval=0.05)
    with whyops.trace_context(thread_id="conv-otlp") as trace:
        assert desk("where is A1?") == "It shipped yesterday."
    report = whyops.flush(15)
    assert (report.delivered, report.dropped, report.pending) == (3, 0, 0), report

    with httpx2.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {server.api_key}"}
    ) as http:
        response = http.get(f"/api/traces/{trace.trace_id}/spans")
    assert response.status_code == 200, response.text
    spans = {span["kind"]: span for span in response.json()["spans"]}
    assert set(spans) == {"agent", "tool", "llm"}
    agent, tool, llm = spans["agent"], spans["tool"], spans["llm"]
    assert agent["name"] == "order-desk" and agent["parentSpanId"] is None
    assert tool["name"] == "find_order" and tool["parentSpanId"] == agent["id"]
    assert tool["inputs"] == {"order": "A1"}
    assert tool["output"] == {"order": "A1", "status": "shipped"}
    assert llm["parentSpanId"] == agent["id"]
    assert (llm["model"], llm["provider"]) == ("gpt-4o-mini", "openai")
    assert llm["usage"]["promptTokens"] == 40 and llm["usage"]["completionTokens"] == 6
    assert llm["usage"]["cacheReadTokens"] == 32
    assert llm["output"]["content"] == "It shipped yesterday."
    assert llm["inputs"] == [{"role": "user", "content": "where is A1?"}]
