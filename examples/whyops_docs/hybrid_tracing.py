"""Hybrid tracing (WhyOps docs, python-sdk-advanced): proxied LLM calls and manual tool
events in one trace.

The docs pin the trace on the client with default headers, which works after patching.
With whyops you can instead let the ambient trace travel with each request, which stays
correct when one client serves many concurrent conversations.
"""

from __future__ import annotations

from _common import AGENT_METADATA, AGENT_NAME, new_session_id, report, search_orders, whyops_key
from openai import OpenAI

import whyops
from whyops import WhyOps

QUESTION = [{"role": "user", "content": "Where is order 123?"}]
CALLS = [{"name": "search_orders", "arguments": {"orderId": "123"}}]


def pinned_headers(sdk: WhyOps) -> str:
    """The docs' recipe: one client per conversation, trace pinned in default headers."""
    trace_id = new_session_id()
    client = sdk.openai(OpenAI(api_key=whyops_key()))
    client.default_headers = {
        **(client.default_headers or {}),
        "X-Trace-ID": trace_id,
        "X-Thread-ID": trace_id,
    }
    client.chat.completions.create(model="gpt-4o", messages=QUESTION)
    trace = sdk.trace(trace_id)
    span_id = trace.tool_call_request_sync("search_orders", CALLS)
    trace.tool_call_response_sync("search_orders", span_id, CALLS, search_orders("123"))
    return trace_id


@whyops.tool
def lookup(order_id: str) -> dict[str, str]:
    return search_orders(order_id)


def ambient_trace(sdk: WhyOps, client: OpenAI) -> str:
    """The whyops way: a shared client; the trace (and the current span) ride along."""
    trace_id = new_session_id()
    with whyops.trace_context(trace_id=trace_id):
        client.chat.completions.create(model="gpt-4o", messages=QUESTION)
        lookup("123")  # a decorated tool: a span of the same trace
        sdk.trace().tool_result_sync("search_orders", {"status": "shipped"})
    return trace_id


def main() -> None:
    sdk = WhyOps(api_key=whyops_key(), agent_name=AGENT_NAME, agent_metadata=AGENT_METADATA)
    sdk.init_agent_sync()
    shared = sdk.openai(OpenAI(api_key=whyops_key()))
    traces = [pinned_headers(sdk), ambient_trace(sdk, shared)]
    sdk.flush()
    report(*traces)


if __name__ == "__main__":
    main()
