"""Prompt-caching-aware usage (WhyOps docs, python-sdk-advanced).

``cacheReadTokens`` are prompt tokens served from the provider's cache,
``cacheCreationTokens`` the ones written to it. With Anthropic's counting,
``promptTokens`` excludes both, so the total is the sum of all four.
"""

from __future__ import annotations

from _common import AGENT_METADATA, AGENT_NAME, new_session_id, report, whyops_key

from whyops import WhyOps


def main() -> None:
    sdk = WhyOps(api_key=whyops_key(), agent_name=AGENT_NAME, agent_metadata=AGENT_METADATA)
    trace_id = new_session_id()
    trace = sdk.trace(trace_id)
    trace.user_message_sync([{"role": "user", "content": "Summarise my order history."}])
    trace.llm_response_sync(
        "claude-sonnet-5",
        "anthropic",
        "You ordered three times this year.",
        finish_reason="end_turn",
        latency_ms=920,
        usage={
            "promptTokens": 1200,
            "completionTokens": 240,
            "cacheReadTokens": 8200,
            "cacheCreationTokens": 300,
            "totalTokens": 9940,
        },
    )
    sdk.flush()
    report(trace_id)


if __name__ == "__main__":
    main()
