"""Event ids (WhyOps docs, python-sdk-advanced): span_id, step_id, parent_step_id,
idempotency_key.

- ``span_id``: the same for a request and its response (tool_call_request returns one).
- ``step_id``/``parent_step_id``: only when your framework has stable, ordered steps; give
  both, since the server infers a missing parent from the previous step.
- ``idempotency_key``: when a retry or a queue replay may send an event twice; the server
  keeps the first.
"""

from __future__ import annotations

from _common import AGENT_METADATA, AGENT_NAME, new_session_id, report, search_orders, whyops_key

from whyops import WhyOps


def main() -> None:
    sdk = WhyOps(api_key=whyops_key(), agent_name=AGENT_NAME, agent_metadata=AGENT_METADATA)
    trace_id = new_session_id()
    trace = sdk.trace(trace_id)
    trace.user_message_sync([{"role": "user", "content": "Where is order 123?"}], step_id=1)
    calls = [{"name": "search_orders", "arguments": {"orderId": "123"}}]
    span_id = trace.tool_call_request_sync(
        "search_orders", calls, step_id=2, parent_step_id=1, span_id=f"{trace_id}-tool-1"
    )
    result = search_orders("123")
    for _attempt in range(2):  # a retried send: the same key, stored once
        trace.tool_call_response_sync(
            "search_orders",
            span_id,
            calls,
            result,
            step_id=3,
            parent_step_id=2,
            idempotency_key=f"{trace_id}-tool-1-response",
        )
    sdk.flush()
    report(trace_id)


if __name__ == "__main__":
    main()
