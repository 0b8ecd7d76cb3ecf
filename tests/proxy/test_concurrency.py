"""Many concurrent streamed calls: each answer and each recorded span stays its own."""

from __future__ import annotations

import asyncio

import anthropic
import openai

from .conftest import PROXY_KEY, headers_for, new_trace


async def test_concurrent_streams_do_not_mix(proxy):
    chat = openai.AsyncOpenAI(
        base_url=proxy.base_url + "/v1",
        api_key=PROXY_KEY,
        max_retries=0,
        default_headers=headers_for(),
    )
    claude = anthropic.AsyncAnthropic(
        base_url=proxy.base_url, api_key=PROXY_KEY, max_retries=0, default_headers=headers_for()
    )

    async def via_openai(trace: str, n: int) -> str:
        stream = await chat.chat.completions.create(
            model="gpt-4o",
            stream=True,
            extra_headers={"X-Trace-ID": trace},
            messages=[{"role": "user", "content": f"sim:echo openai answer {n}"}],
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    async def via_anthropic(trace: str, n: int) -> str:
        async with claude.messages.stream(
            model="claude-haiku-4-5",
            max_tokens=256,
            extra_headers={"X-Trace-ID": trace},
            messages=[{"role": "user", "content": f"sim:echo anthropic answer {n}"}],
        ) as stream:
            return "".join([text async for text in stream.text_stream])

    traces = [new_trace() for _ in range(24)]
    calls = [(via_openai if n % 2 else via_anthropic)(trace, n) for n, trace in enumerate(traces)]
    answers = await asyncio.gather(*calls)
    for n, (trace, answer) in enumerate(zip(traces, answers)):
        expected = f"{'openai' if n % 2 else 'anthropic'} answer {n}"
        assert expected == answer
        request, response = proxy.events(trace, 2)
        assert request["spanId"] == response["spanId"]
        assert expected == response["content"]["content"]
