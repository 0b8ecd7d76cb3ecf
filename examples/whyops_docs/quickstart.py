"""Quickstart (WhyOps docs, python-sdk): one client, register at start-up, patch, send events.

1. Create the client once, with a stable agent name and the metadata that versions it.
2. Register at start-up (``init_agent_sync()``, or ``await init_agent()`` in async code):
   a bad key or an unreachable server fails here, loudly, not later.
3. Patch the provider client; its calls go through the proxy.
4. Record what the proxy cannot see (the user's turn, tool calls) as manual events.
"""

from __future__ import annotations

import asyncio

from _common import AGENT_METADATA, AGENT_NAME, new_session_id, report, search_orders, whyops_key
from openai import AsyncOpenAI, OpenAI

import whyops
from whyops import WhyOps


def sync_flow(sdk: WhyOps) -> str:
    sdk.init_agent_sync()
    client = sdk.openai(OpenAI(api_key=whyops_key()))
    trace_id = new_session_id()
    trace = sdk.trace(trace_id)
    question = [{"role": "user", "content": "Where is order 123?"}]
    trace.user_message_sync(question)
    with whyops.trace_context(trace_id=trace_id):  # proxied calls join the same trace
        client.chat.completions.create(model="gpt-4o", messages=question)
    return trace_id


async def async_flow(sdk: WhyOps) -> str:
    await sdk.init_agent()
    client = sdk.openai(AsyncOpenAI(api_key=whyops_key()))
    trace_id = new_session_id()
    trace = sdk.trace(trace_id)
    calls = [{"name": "search_orders", "arguments": {"orderId": "123"}}]
    span_id = await trace.tool_call_request("search_orders", calls)
    result = search_orders("123")
    await trace.tool_call_response("search_orders", span_id, calls, result, latency_ms=12)
    with whyops.trace_context(trace_id=trace_id):
        await client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": f"Order 123 is {result['status']}"}],
        )
    return trace_id


def main() -> None:
    sdk = WhyOps(api_key=whyops_key(), agent_name=AGENT_NAME, agent_metadata=AGENT_METADATA)
    traces = [sync_flow(sdk), asyncio.run(async_flow(sdk))]
    sdk.flush()
    report(*traces)


if __name__ == "__main__":
    main()
