"""Per-request trace headers under concurrency, async clients and streaming."""

from __future__ import annotations

import asyncio
import json
import threading

import anthropic
import openai
from client_helpers import KEY

import whyops
from whyops.client._hooks import AsyncTraceHook, find_hook

ANTHROPIC_2 = int(anthropic.__version__.split(".")[0]) >= 2


def session_of(request):
    """The session id the test put in the user message."""
    body = request.body
    return body["messages"][0]["content"]


async def one_session(oai, ant, session: int) -> str:
    """A session: its own trace and span; OpenAI and Anthropic, streamed and not."""
    trace_id = f"async-session-{session}"
    messages = [{"role": "user", "content": trace_id}]
    with whyops.trace_context(trace_id=trace_id, external_user_id=f"user-{session}"):
        with whyops.span("turn") as span:
            await asyncio.sleep(0)  # interleave with the other sessions
            await oai.chat.completions.create(model="gpt-4o", messages=messages)
            stream = await oai.chat.completions.create(
                model="gpt-4o", messages=messages, stream=True
            )
            text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            await ant.messages.create(model="claude-x", max_tokens=8, messages=messages)
            async with ant.messages.stream(model="claude-x", max_tokens=8, messages=messages) as s:
                final = await s.get_final_message()
            assert text == "Hi" and final.content[0].text == "Hi"
            return span.span_id


async def test_40_concurrent_async_sessions_share_clients(recorder, sdk_factory):
    """40 asyncio sessions through one AsyncOpenAI and one AsyncAnthropic never mix up."""
    sdk = sdk_factory()
    oai = sdk.openai(openai.AsyncOpenAI(api_key="sk-provider", max_retries=0))
    ant = sdk.anthropic(anthropic.AsyncAnthropic(api_key="sk-ant-provider", max_retries=0))
    assert isinstance(find_hook(oai._client), AsyncTraceHook)
    span_ids = await asyncio.gather(*(one_session(oai, ant, n) for n in range(40)))
    requests = recorder.calls(sdk.proxy_base_url)
    assert len(requests) == 160
    for request in requests:
        trace_id = session_of(request)
        session = int(trace_id.rsplit("-", 1)[1])
        assert request.headers["x-trace-id"] == request.headers["x-thread-id"] == trace_id
        assert request.headers["x-parent-span-id"] == span_ids[session]
        assert request.headers["x-external-user-id"] == f"user-{session}"
        assert request.headers["x-agent-name"] == "customer-support-agent"
        if request.path.endswith("/messages") and not ANTHROPIC_2:
            assert request.headers["x-api-key"] == KEY
        else:
            assert request.headers["authorization"] == f"Bearer {KEY}"
    streamed = [r for r in requests if r.body.get("stream")]
    assert len(streamed) == 80


def test_8_threads_share_one_sync_client(recorder, sdk_factory):
    """8 threads x 3 calls (plain and streamed) through one OpenAI client, each its own trace."""
    sdk = sdk_factory()
    client = sdk.openai(openai.OpenAI(api_key="sk-provider", max_retries=0))
    ant = sdk.anthropic(anthropic.Anthropic(api_key="sk-ant-provider", max_retries=0))
    barrier = threading.Barrier(8)
    errors = []

    def worker(n: int) -> None:
        trace_id = f"thread-session-{n}"
        messages = [{"role": "user", "content": trace_id}]
        try:
            with whyops.trace_context(trace_id=trace_id):
                barrier.wait()
                client.chat.completions.create(model="gpt-4o", messages=messages)
                for _ in client.chat.completions.create(
                    model="gpt-4o", messages=messages, stream=True
                ):
                    pass
                with ant.messages.stream(model="claude-x", max_tokens=8, messages=messages) as s:
                    s.get_final_message()
        except Exception as exc:  # surfaced below: a thread's assertion must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    requests = recorder.calls(sdk.proxy_base_url)
    assert len(requests) == 24
    assert all(r.headers["x-trace-id"] == session_of(r) for r in requests)


def test_stream_keeps_its_creation_context(recorder, sdk_factory):
    """A stream's headers are fixed when it is opened, not when it is read."""
    sdk = sdk_factory()
    client = sdk.openai(openai.OpenAI(api_key="sk-provider", max_retries=0))
    with whyops.trace_context(trace_id="opened-here"):
        stream = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}], stream=True
        )
    with whyops.trace_context(trace_id="read-here"):
        chunks = list(stream)
    assert chunks
    (request,) = recorder.calls(sdk.proxy_base_url)
    assert request.headers["x-trace-id"] == "opened-here"


def test_threads_need_propagation_or_a_pool(recorder, sdk_factory):
    """whyops.propagate carries the trace into a plain thread."""
    sdk = sdk_factory()
    client = sdk.openai(openai.OpenAI(api_key="sk-provider", max_retries=0))

    def call() -> None:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])

    with whyops.trace_context(trace_id="propagated"):
        thread = threading.Thread(target=whyops.propagate(call))
    thread.start()
    thread.join()
    (request,) = recorder.calls(sdk.proxy_base_url)
    assert request.headers["x-trace-id"] == "propagated"
    assert json.dumps(request.body)  # a real chat request went through
