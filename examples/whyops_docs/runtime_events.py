"""Runtime events (WhyOps docs, python-sdk-runtime): the events the proxy cannot see.

Use the same trace id for manual events and proxied calls of one conversation, and
``external_user_id`` to link every event to your own user. Each method exists as
``*_sync`` and as a coroutine with the same arguments; neither waits on the network.
"""

from __future__ import annotations

import asyncio
import time

from _common import AGENT_METADATA, AGENT_NAME, new_session_id, report, search_orders, whyops_key

from whyops import WhyOps

USER = "customer-42"


def sync_turn(sdk: WhyOps, trace_id: str) -> None:
    trace = sdk.trace(trace_id)
    trace.user_message_sync(
        [{"role": "user", "content": "Where is order 123?"}], external_user_id=USER
    )
    calls = [{"name": "search_orders", "arguments": {"orderId": "123"}}]
    started = time.perf_counter()
    span_id = trace.tool_call_request_sync("search_orders", calls, external_user_id=USER)
    result = search_orders("123")
    latency = round((time.perf_counter() - started) * 1000)
    trace.tool_call_response_sync(
        "search_orders", span_id, calls, result, latency_ms=latency, external_user_id=USER
    )
    trace.llm_response_sync(
        "gpt-4o",
        "openai",
        "Order 123 has shipped.",
        finish_reason="stop",
        latency_ms=840,
        usage={"promptTokens": 120, "completionTokens": 12, "totalTokens": 132},
        external_user_id=USER,
    )


async def async_turn(sdk: WhyOps, trace_id: str) -> None:
    trace = sdk.trace(trace_id)
    await trace.user_message([{"role": "user", "content": "And order 456?"}], external_user_id=USER)
    calls = [{"name": "search_orders", "arguments": {"orderId": "456"}}]
    span_id = await trace.tool_call_request("search_orders", calls, external_user_id=USER)
    await trace.tool_call_response(
        "search_orders", span_id, calls, search_orders("456"), latency_ms=9, external_user_id=USER
    )
    await trace.llm_thinking("The order tool answered; summarise it.", signature="sig-1")
    await trace.llm_response(
        "claude-sonnet-5",
        "anthropic",
        "Order 456 has shipped too.",
        finish_reason="end_turn",
        latency_ms=610,
        usage={"promptTokens": 140, "completionTokens": 10, "totalTokens": 150},
        external_user_id=USER,
    )


def main() -> None:
    sdk = WhyOps(api_key=whyops_key(), agent_name=AGENT_NAME, agent_metadata=AGENT_METADATA)
    sync_trace, async_trace = new_session_id(), new_session_id()
    sync_turn(sdk, sync_trace)
    asyncio.run(async_turn(sdk, async_trace))
    sdk.flush()
    report(sync_trace, async_trace)


if __name__ == "__main__":
    main()
