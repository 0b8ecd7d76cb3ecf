"""Runs inside a venv with the released ``whyops`` 0.1.1 package, against our server.

argv: base_url api_key trace_id. Prints the init result as JSON on the last line.
"""

import asyncio
import json
import sys

from whyops import WhyOps

base_url, api_key, trace_id = sys.argv[1:4]
sdk = WhyOps(
    api_key=api_key,
    agent_name="legacy-agent",
    agent_metadata={
        "systemPrompt": "You are helpful.",
        "tools": [
            {"name": "lookup", "description": "Look up", "inputSchema": "{}", "outputSchema": "{}"}
        ],
    },
    proxy_base_url=base_url,
    analyse_base_url=base_url + "/api",
)
info = sdk.init_agent_sync()
trace = sdk.trace(trace_id)
calls = [
    {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
]
usage = {"promptTokens": 12, "completionTokens": 3, "totalTokens": 15, "cacheReadTokens": 4}
trace.user_message_sync(
    [{"role": "user", "content": "hi"}],
    metadata={"systemPrompt": "You are helpful."},
    timestamp="2026-05-01T10:00:00.000Z",
)
trace.llm_thinking_sync("pondering", signature="sig", timestamp="2026-05-01T10:00:00.500Z")
trace.llm_response_sync(
    "gpt-4o",
    "openai",
    None,
    tool_calls=calls,
    finish_reason="tool_calls",
    usage=usage,
    latency_ms=900,
    timestamp="2026-05-01T10:00:01.000Z",
)
span = trace.tool_call_request_sync(
    "lookup", [{"name": "lookup", "arguments": {"q": "x"}}], timestamp="2026-05-01T10:00:02.000Z"
)
trace.tool_call_response_sync(
    "lookup",
    span,
    [{"name": "lookup", "arguments": {"q": "x"}}],
    {"answer": 42},
    latency_ms=7,
    timestamp="2026-05-01T10:00:02.007Z",
)
trace.tool_result_sync("lookup", {"answer": 42}, timestamp="2026-05-01T10:00:03.000Z")
trace.embedding_request_sync(
    ["a", "b"], timestamp="2026-05-01T10:00:04.000Z", idempotency_key="emb-1"
)
trace.embedding_request_sync(
    ["a", "b"], timestamp="2026-05-01T10:00:04.000Z", idempotency_key="emb-1"
)
trace.embedding_response_sync(
    "text-embedding-3-small",
    "openai",
    2,
    1536,
    total_tokens=2,
    latency_ms=5,
    timestamp="2026-05-01T10:00:04.005Z",
)


async def later() -> None:
    await sdk.init_agent()
    await trace.llm_response(
        "gpt-4o",
        "openai",
        "The answer is 42.",
        finish_reason="stop",
        timestamp="2026-05-01T10:00:05.000Z",
    )
    await trace.error("upstream hiccup", status=502, timestamp="2026-05-01T10:00:06.000Z")


asyncio.run(later())
print(json.dumps(info))
