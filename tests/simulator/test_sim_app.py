"""Mounting under a prefix, real streaming (frames leave as they are built) and delays."""

from __future__ import annotations

import time

import anthropic
import httpx2
import openai
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from whyops.server.simulator import create_app
from whyops.server.simulator.thread import SimulatorThread


@pytest.fixture(scope="module")
def mounted():
    parent = Starlette(routes=[Mount("/simulator", app=create_app())])
    with SimulatorThread(app=parent) as running:
        yield running.base_url + "/simulator"


def test_sdks_work_under_the_server_prefix(mounted):
    with openai.OpenAI(base_url=f"{mounted}/v1", api_key="k", max_retries=0) as client:
        answer = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.choices[0].message.content
        with pytest.raises(openai.NotFoundError):
            client.post("/nowhere", cast_to=object, body={})
    with anthropic.Anthropic(base_url=mounted, api_key="k", max_retries=0) as claude:
        message = claude.messages.create(
            model="claude-haiku-4-5", max_tokens=32, messages=[{"role": "user", "content": "hi"}]
        )
        assert message.content[0].text


def test_frames_leave_as_they_are_built(simulator):
    body = {
        "model": "gpt-4o",
        "stream": True,
        "messages": [{"role": "user", "content": "sim:words=30"}],
    }
    headers = {"authorization": "Bearer k", "x-sim-chunk-delay-ms": "40"}
    arrivals = []
    with httpx2.stream(
        "POST", f"{simulator.openai_base_url}/chat/completions", json=body, headers=headers
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                arrivals.append(time.monotonic())
    assert len(arrivals) >= 12
    # 11+ gaps of 40 ms: a buffered response would deliver every frame at once at the end.
    assert arrivals[-1] - arrivals[0] >= 0.4


def test_first_byte_delay(simulator):
    started = time.monotonic()
    response = httpx2.post(
        f"{simulator.anthropic_base_url}/v1/messages",
        json={
            "model": "sim-claude",
            "max_tokens": 16,
            "messages": [{"role": "user", "content": "hi"}],
        },
        headers={"x-api-key": "k", "x-sim-delay-ms": "200"},
    )
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.2


ASK = [{"role": "user", "content": "Refund order #1234 please"}]
TOOL = {"name": "issue_refund", "input_schema": {"type": "object", "properties": {
    "order_id": {"type": "string"}}, "required": ["order_id"]}}  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"model": "o3", "messages": ASK}),
        ("/v1/chat/completions", {"model": "o3", "messages": ASK, "stream": True}),
        ("/v1/responses", {"model": "o3", "input": ASK}),
        ("/v1/embeddings", {"model": "text-embedding-3-small", "input": ["a", "b"]}),
        ("/v1/messages", {"model": "sim-claude", "max_tokens": 4096, "messages": ASK,
                          "thinking": {"type": "enabled", "budget_tokens": 2048},
                          "tools": [TOOL]}),
        ("/v1/messages", {"model": "sim-claude", "max_tokens": 4096, "messages": ASK,
                          "stream": True, "tools": [TOOL]}),
    ],
)  # fmt: skip
def test_same_request_same_bytes_everywhere(simulator, path, body):
    first = httpx2.post(simulator.base_url + path, json=body, headers={"x-api-key": "one"})
    second = httpx2.post(simulator.base_url + path, json=body, headers={"x-api-key": "two"})
    assert first.status_code == 200
    assert first.content == second.content
    assert first.headers.get("x-request-id") == second.headers.get("x-request-id")
