"""Two replicas on one database: conversations, retries and reads spread over both."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from typing import Any

import httpx2
import openai
import pytest

from tests import pg
from tests.replicas.conftest import KEY, RoundRobin, new_trace, stored_keys
from tests.server.served import Served

pytestmark = pytest.mark.postgres

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_order_status",
            "description": "Look up an order",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    }
]


def model_client(replica: Served) -> openai.OpenAI:
    headers = {"X-Agent-Name": "replica-agent"}
    return openai.OpenAI(
        base_url=replica.base_url + "/v1", api_key=KEY, max_retries=0, default_headers=headers
    )


def trace_events(balancer: RoundRobin, trace: str, count: int) -> list[dict[str, Any]]:
    """The trace's events, read from the next replica, once ``count`` have landed (the proxy
    records after answering)."""
    deadline = time.monotonic() + 10
    while True:
        answer = balancer.get("/api/events", params={"traceId": trace, "limit": 200})
        assert answer.status_code == 200, answer.text
        events: list[dict[str, Any]] = answer.json()["events"]
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.02)


def test_turns_on_different_replicas_continue_one_trace(replicas: list[Served]) -> None:
    """Turn two reaches the other replica: its tool-call id, answer id or signature is found
    in the database the first replica wrote."""
    first, second = (model_client(r) for r in replicas)
    ask = {"role": "user", "content": "Where is my order A123?"}
    asked = first.chat.completions.with_raw_response.create(
        model="gpt-4o", tools=TOOLS, messages=[ask]
    )
    message = asked.parse().choices[0].message
    assert message.tool_calls
    answered = second.chat.completions.with_raw_response.create(
        model="gpt-4o",
        tools=TOOLS,
        messages=[
            ask,
            message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": "shipped"},
        ],
    )
    trace = asked.headers["x-trace-id"]
    assert answered.headers["x-trace-id"] == trace
    reply = answered.parse().choices[0].message
    third = first.chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=[ask, {"role": "assistant", "content": reply.content}, {"role": "user",
                  "content": "thanks"}],
    )  # fmt: skip
    assert third.headers["x-trace-id"] == trace
    balancer = RoundRobin(replicas)
    # Per turn: what was new in the request (question, tool result, thanks) and the answer.
    events = trace_events(balancer, trace, 6)
    assert trace_events(balancer, trace, 6) == events
    kinds = [e["eventType"] for e in sorted(events, key=lambda e: e["stepId"])]
    assert kinds == ["user_message", "llm_response", "tool_result", "llm_response",
                     "user_message", "llm_response"]  # fmt: skip


def test_a_previous_response_id_is_found_by_the_other_replica(replicas: list[Served]) -> None:
    first, second = (model_client(r) for r in replicas)
    opened = first.responses.with_raw_response.create(model="gpt-4o", input="Hello there")
    followed = second.responses.with_raw_response.create(
        model="gpt-4o", input="And now?", previous_response_id=opened.parse().id
    )
    assert followed.headers["x-trace-id"] == opened.headers["x-trace-id"]


def test_a_batch_and_its_retry_on_the_other_replica_store_once(
    replicas: list[Served], database: str
) -> None:
    trace = new_trace()
    batch = [{"eventType": "user_message", "traceId": trace, "agentName": "agent",
              "content": str(i), "idempotencyKey": f"retry-{i}"} for i in range(50)]  # fmt: skip
    for replica in replicas:
        assert replica.http.post("/api/events/ingest", json=batch).status_code == 202
    # The same batch again, on both replicas at the same moment.
    answers: list[int] = []

    def post(replica: Served) -> None:
        answers.append(replica.http.post("/api/events/ingest", json=batch).status_code)

    posts = [threading.Thread(target=post, args=(replica,)) for replica in replicas]
    for post in posts:
        post.start()
    for post in posts:
        post.join()
    assert answers == [202, 202]
    assert sorted(stored_keys(database, trace)) == sorted(e["idempotencyKey"] for e in batch)


def test_an_agent_initialised_on_both_replicas_has_one_version(replicas: list[Served]) -> None:
    body = {"agentName": "shared-agent", "metadata": {"systemPrompt": "Be brief.", "tools": []}}
    versions = {r.http.post("/api/entities/init", json=body).json()["agentVersionId"]
                for r in replicas}  # fmt: skip
    assert len(versions) == 1
    entities = [r.http.get("/api/entities/shared-agent").json() for r in replicas]
    assert entities[0] == entities[1]


@pytest.mark.parametrize(
    "path", ["/api/threads/{trace}", "/api/threads/{trace}/graph", "/api/traces/{trace}/spans",
             "/api/threads", "/api/events?traceId={trace}&include=content,metadata"],
)  # fmt: skip
def test_reads_agree_whichever_replica_answers(replicas: list[Served], path: str) -> None:
    trace = new_trace()
    balancer = RoundRobin(replicas)
    for step in range(1, 7):
        kind = "llm_response" if step % 2 else "user_message"
        event = {"eventType": kind, "traceId": trace, "agentName": "agent", "stepId": step,
                 "content": f"step {step}", "idempotencyKey": f"read-{step}"}  # fmt: skip
        if kind == "llm_response":
            event["metadata"] = {"model": "gpt-4o", "provider": "openai"}
        assert balancer.post("/api/events/ingest", json=[event]).status_code == 202
    url = path.format(trace=trace)
    answers = [replica.http.get(url) for replica in replicas]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert trace in answers[0].text


def test_replicas_started_together_on_a_new_database_share_one_generated_key() -> None:
    """Neither is given a key: exactly one key is generated, and both accept it."""
    url = pg.cluster().database()
    command = [sys.executable, "-m", "whyops", "serve", "--port", "0", "--db", url,
               "--log-level", "warning"]  # fmt: skip
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        outputs = [_announcement(process) for process in processes]
        keys = [m.group(1) for out in outputs for m in [re.search(r"API key .*: (\S+)", out)] if m]
        assert len(keys) == 1, outputs
        for output in outputs:
            base = re.search(r"(http://127\.0\.0\.1:\d+)", output).group(1)  # type: ignore[union-attr]
            answer = httpx2.get(base + "/api/threads", headers={"X-API-Key": keys[0]}, timeout=10)
            assert answer.status_code == 200, answer.text
    finally:
        for process in processes:
            process.kill()
            process.wait(10)


def _announcement(process: subprocess.Popen[str]) -> str:
    """The server's start-up lines, up to the web page's address."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("web page:"):
            break
    return "".join(lines)
