"""Self-hosted overrides (WhyOps docs, python-sdk-advanced): point the client at your server.

Set both URLs on the client, once (not per request). The analyse URL ends in ``/api``.
With ``whyops serve`` one server is both: ``WHYOPS_BASE_URL`` alone is enough.
"""

from __future__ import annotations

import os

from _common import AGENT_METADATA, AGENT_NAME, new_session_id, report, whyops_key
from anthropic import Anthropic

import whyops
from whyops import WhyOps


def main() -> None:
    server = os.environ["WHYOPS_BASE_URL"].rstrip("/")
    sdk = WhyOps(
        api_key=whyops_key(),
        agent_name=AGENT_NAME,
        agent_metadata=AGENT_METADATA,
        proxy_base_url=server,  # the LLM proxy (OpenAI clients get {proxy}/v1)
        analyse_base_url=f"{server}/api",  # registration and events
    )
    info = sdk.init_agent_sync()
    print(f"agent {info['agentId']} version {info['agentVersionId']} ({info['status']})")
    client = sdk.anthropic(Anthropic(api_key=whyops_key()))
    trace_id = new_session_id()
    with whyops.trace_context(trace_id=trace_id):
        client.messages.create(
            model="claude-sonnet-5",
            max_tokens=100,
            messages=[{"role": "user", "content": "Where is order 123?"}],
        )
    sdk.flush()
    report(trace_id)


if __name__ == "__main__":
    main()
