"""Translated spans through a real ``whyops serve`` (SQLite and PostgreSQL): accepted by the
ingest route, read back as the span tree and graph the page draws, agents registered."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.otlp.inbound_support import MS, START, otel_span, request_of
from whyops.otlp.inbound import translate

pytest.importorskip("starlette", reason="the server extra is not installed")

from tests.server.conftest import Api
from whyops.server.run import RunningServer

AGENT, ASK, TOOL, ANSWER, FAIL = (f"{n:016x}" for n in range(1, 6))


@pytest.fixture
def api(server: RunningServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.close()


def _agent_run(trace: str) -> dict[str, Any]:
    """invoke_agent → chat (asks for a tool) → execute_tool → chat (answers); a failed call."""
    chat = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 30,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.usage.cache_read.input_tokens": 10,
        "gen_ai.usage.reasoning.output_tokens": 2,
        "gen_ai.input.messages": json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": "Rain in Oslo?"}]}]
        ),
    }
    asks = json.dumps(
        [
            {
                "role": "assistant",
                "parts": [
                    {"type": "reasoning", "content": "use the tool"},
                    {
                        "type": "tool_call",
                        "id": "call_7",
                        "name": "forecast",
                        "arguments": {"city": "Oslo"},
                    },
                ],
            }
        ]
    )
    answers = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "Yes."}]}])

    def at(n: int) -> dict[str, Any]:
        return {"trace": trace, "start": START + n * 1000 * MS}

    return request_of(
        otel_span(
            AGENT,
            "invoke_agent Forecaster",
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "Forecaster",
                "gen_ai.agent.description": "Forecasts",
                "gen_ai.system_instructions": "Answer yes or no.",
                "gen_ai.conversation.id": f"conv-{trace}",
                "user.id": "user-1",
            },
            duration=5000 * MS,
            **at(0),
        ),
        otel_span(
            ASK, "chat gpt-4o-mini", {**chat, "gen_ai.output.messages": asks}, parent=AGENT, **at(1)
        ),
        otel_span(
            TOOL,
            "execute_tool forecast",
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "forecast",
                "gen_ai.tool.call.id": "call_7",
                "gen_ai.tool.call.arguments": '{"city": "Oslo"}',
                "gen_ai.tool.call.result": "rain",
            },
            parent=AGENT,
            **at(2),
        ),
        otel_span(
            ANSWER,
            "chat gpt-4o-mini",
            {**chat, "gen_ai.output.messages": answers},
            parent=AGENT,
            **at(3),
        ),
        otel_span(
            FAIL,
            "GET /radar",
            {"http.request.method": "GET"},
            events=[("exception", {"exception.type": "TimeoutError", "exception.message": "slow"})],
            status=(2, "slow"),
            parent=AGENT,
            **at(4),
        ),
    )


def _post(api: Api, trace: str) -> Any:
    result = translate(_agent_run(trace))
    assert (result.spans, result.rejected) == (5, 0)
    response = api.ingest(result.events)
    assert response.status_code == 202, response.text
    return result


def test_translated_run_reads_back_as_the_span_tree(api: Api) -> None:
    trace = uuid.uuid4().hex
    _post(api, trace)
    body = api.get(f"/api/traces/{trace}/spans").json()
    spans = {span["id"]: span for span in body["spans"]}
    assert body["rootIds"] == [AGENT]
    assert spans[AGENT]["children"] == [ASK, TOOL, ANSWER, FAIL]
    assert (spans[AGENT]["kind"], spans[AGENT]["name"], spans[AGENT]["agentName"]) == (
        "agent",
        "Forecaster",
        "Forecaster",
    )
    ask = spans[ASK]
    assert (ask["kind"], ask["model"], ask["provider"], ask["status"]) == (
        "llm",
        "gpt-4o-mini",
        "openai",
        "ok",
    )
    assert ask["inputs"] == [{"role": "user", "content": "Rain in Oslo?"}]
    assert ask["output"]["toolCalls"][0]["id"] == "call_7"
    assert ask["thinking"][0]["text"] == "use the tool"
    assert ask["usage"] == {
        "promptTokens": 30,
        "completionTokens": 7,
        "totalTokens": 37,
        "cacheReadTokens": 10,
        "reasoningTokens": 2,
    }
    assert ask["durationMs"] == 250.0
    tool = spans[TOOL]
    assert (tool["kind"], tool["name"], tool["inputs"], tool["output"]) == (
        "tool",
        "forecast",
        {"city": "Oslo"},
        "rain",
    )
    assert spans[ANSWER]["output"] == {"content": "Yes."}
    failed = spans[FAIL]
    assert (failed["kind"], failed["status"], failed["error"]["type"]) == (
        "span",
        "error",
        "TimeoutError",
    )
    assert failed["error"]["message"] == "TimeoutError: slow"


def test_tool_span_is_linked_to_the_answer_that_asked_for_it(api: Api) -> None:
    trace = uuid.uuid4().hex
    _post(api, trace)
    graph = api.get(f"/api/threads/{trace}/graph").json()["graph"]
    node = {n["id"]: f"{n['spanId']}:{n['type']}" for n in graph["nodes"]}
    links = {(node[e["from"]], node[e["to"]]) for e in graph["edges"] if e["kind"] == "tool_call"}
    assert links == {(f"{ASK}:llm_response", f"{TOOL}:tool_call_request")}


def test_thread_user_and_a_resent_batch_stored_once(api: Api) -> None:
    trace = uuid.uuid4().hex
    result = _post(api, trace)
    first = api.thread(trace)
    assert api.ingest(result.events).status_code == 202  # the exporter retried
    again = api.thread(trace)
    assert len(again["events"]) == len(first["events"]) == len(result.events)
    assert {e["threadId"] for e in result.events} == {f"conv-{trace}"}
    assert {e["externalUserId"] for e in result.events} == {"user-1"}


def test_agent_definition_registers_like_agent_init(api: Api) -> None:
    result = translate(_agent_run(uuid.uuid4().hex))
    (agent,) = result.agents
    name = f"Forecaster-{uuid.uuid4().hex[:8]}"
    body = {"agentName": name, "metadata": agent.metadata}
    created = api.post("/api/entities/init", body)
    assert created.status_code == 201, created.text
    again = api.post("/api/entities/init", body)
    assert again.json()["status"] == "existing"
    assert again.json()["versionHash"] == created.json()["versionHash"]
