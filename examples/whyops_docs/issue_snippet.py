"""The WhyOps docs' core flow: register, patch OpenAI, pin the trace, add tool events.

Run against a server: ``WHYOPS_BASE_URL=http://127.0.0.1:8787 WHYOPS_API_KEY=... python
examples/whyops_docs/issue_snippet.py``.
"""

from __future__ import annotations

from _common import AGENT_METADATA, new_session_id, report, whyops_key
from openai import OpenAI

from whyops import WhyOps


def main() -> None:
    trace_id = new_session_id()
    sdk = WhyOps(
        api_key=whyops_key(),
        agent_name="customer-support-agent",
        agent_metadata=AGENT_METADATA,
    )
    sdk.init_agent_sync()  # or: await sdk.init_agent()
    client = sdk.openai(OpenAI(api_key="sk-anything"))  # mutates in place, returns the client
    client.default_headers = {
        **(client.default_headers or {}),
        "X-Trace-ID": trace_id,
        "X-Thread-ID": trace_id,
    }
    reply = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Where is order 123?"}]
    )
    print(reply.choices[0].message.content)
    trace = sdk.trace(trace_id)
    calls = [{"name": "search_orders", "arguments": {"orderId": "123"}}]
    span_id = trace.tool_call_request_sync("search_orders", calls)
    trace.tool_call_response_sync(
        "search_orders", span_id, calls, {"status": "shipped"}, latency_ms=42
    )
    sdk.flush()
    report(trace_id)


if __name__ == "__main__":
    main()
