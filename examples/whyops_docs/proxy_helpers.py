"""Proxy helpers (WhyOps docs, python-sdk-proxy): patch OpenAI and Anthropic clients.

The WhyOps key authenticates the proxy; the provider's own key stays in the server's
provider settings. ``sdk.openai()``/``sdk.anthropic()`` change the client in place
(proxy URL, WhyOps key, ``X-Agent-Name``) and return it; requests then carry the
ambient trace (``X-Trace-ID``, ``X-Parent-Span-ID``, ...) automatically.
"""

from __future__ import annotations

import asyncio

from _common import AGENT_METADATA, AGENT_NAME, new_session_id, report, whyops_key
from anthropic import Anthropic, AsyncAnthropic
from openai import AsyncOpenAI, OpenAI

import whyops
from whyops import WhyOps

QUESTION = [{"role": "user", "content": "Where is order 123?"}]


def sync_clients(sdk: WhyOps, trace_id: str) -> None:
    openai_client = sdk.openai(OpenAI(api_key=whyops_key()))
    anthropic_client = sdk.anthropic(Anthropic(api_key=whyops_key()))
    with whyops.trace_context(trace_id=trace_id):
        openai_client.chat.completions.create(model="gpt-4o", messages=QUESTION)
        anthropic_client.messages.create(model="claude-sonnet-5", max_tokens=200, messages=QUESTION)


async def async_clients(sdk: WhyOps, trace_id: str) -> None:
    openai_client = sdk.openai(AsyncOpenAI(api_key=whyops_key()))
    anthropic_client = sdk.anthropic(AsyncAnthropic(api_key=whyops_key()))
    with whyops.trace_context(trace_id=trace_id):
        stream = await openai_client.chat.completions.create(
            model="gpt-4o", messages=QUESTION, stream=True
        )
        async for _chunk in stream:
            pass
        async with anthropic_client.messages.stream(
            model="claude-sonnet-5", max_tokens=200, messages=QUESTION
        ) as stream_:
            await stream_.get_final_message()


def main() -> None:
    sdk = WhyOps(api_key=whyops_key(), agent_name=AGENT_NAME, agent_metadata=AGENT_METADATA)
    sdk.init_agent_sync()
    sync_trace, async_trace = new_session_id(), new_session_id()
    sync_clients(sdk, sync_trace)
    asyncio.run(async_clients(sdk, async_trace))
    sdk.flush()
    report(sync_trace, async_trace)


if __name__ == "__main__":
    main()
