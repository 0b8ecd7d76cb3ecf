"""What the proxy records of an answer, whole or streamed: text without signatures, usage only
when it holds a count, tool calls whose arguments are always a string."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whyops.server.proxy import signature
from whyops.server.proxy.anthropic import MESSAGES
from whyops.server.proxy.events import Draft
from whyops.server.proxy.openai_chat import CHAT
from whyops.server.proxy.openai_embeddings import EMBEDDINGS
from whyops.server.proxy.openai_responses import RESPONSES
from whyops.server.proxy.spec import RouteSpec
from whyops.server.proxy.sse import SSEFramer
from whyops.server.simulator import anthropic_messages, openai_chat, openai_responses
from whyops.wire.events import EventType

SIMULATED = {CHAT: openai_chat, MESSAGES: anthropic_messages, RESPONSES: openai_responses}


def ask(route: RouteSpec, text: str, stream: bool) -> dict[str, Any]:
    """A request body for ``route`` whose only turn is ``text``."""
    turn = [{"role": "user", "content": text}]
    body: dict[str, Any] = {"model": "sim-chat", "stream": stream}
    if route is MESSAGES:
        body.update(model="sim-claude", max_tokens=1024)
    body[route.items_key or "input"] = turn
    return body


def recorded(route: RouteSpec, body: dict[str, Any]) -> list[Draft]:
    """The drafts the proxy records for the simulator's answer to ``body``."""
    answer = SIMULATED[route].handle(json.loads(json.dumps(body)))
    if isinstance(answer, dict):
        return route.response_drafts(body, answer, 5)
    state = route.stream_state(body, None)
    framer = SSEFramer()
    for chunk in answer:
        for frame in framer.feed(chunk):
            state.record_frame(frame)
    state.drain()
    return state.finish(5, None)


def response(drafts: list[Draft]) -> Draft:
    assert drafts[-1].event_type in (EventType.LLM_RESPONSE, EventType.EMBEDDING_RESPONSE)
    return drafts[-1]


WORDS = st.text(st.characters(codec="utf-8", categories=("L", "N", "Zs")), max_size=20)


@settings(max_examples=60, deadline=None)
@given(
    route=st.sampled_from([CHAT, MESSAGES, RESPONSES]),
    before=WORDS,
    after=WORDS,
    stream=st.booleans(),
)
def test_answer_text_is_recorded_without_signatures(route, before, after, stream):
    """A model may repeat a signed text it was shown; the trace marker is never recorded."""
    signed = before + signature.encode("3f2a") + after
    drafts = recorded(route, ask(route, "sim:echo " + signed, stream))
    text = response(drafts).content.get("content")
    assert isinstance(text, str)
    assert signature.START not in text
    assert signature.strip(signed).strip() == text.strip()


CHAT_ANSWER = {"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]}
CLAUDE_ANSWER = {"content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn"}
RESPONSES_ANSWER = {"output": [{"type": "message", "content": [{"type": "output_text"}]}]}
VECTORS = {"object": "list", "data": [{"embedding": [0.5]}]}
ANSWERS = [(CHAT, CHAT_ANSWER), (MESSAGES, CLAUDE_ANSWER), (RESPONSES, RESPONSES_ANSWER)]
ANSWERS.append((EMBEDDINGS, VECTORS))
OPENAI_COUNTS = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


@pytest.mark.parametrize(("route", "answer"), ANSWERS)
@pytest.mark.parametrize(
    "usage",
    [{}, {"prompt_tokens": None, "input_tokens": None, "output_tokens": None}, {"x": 1}],
)
def test_a_usage_without_any_count_is_not_recorded(route, answer, usage):
    drafts = route.response_drafts({"model": "m"}, {**answer, "usage": usage}, 5)
    assert "usage" not in response(drafts).metadata


@pytest.mark.parametrize(("route", "answer"), ANSWERS)
def test_counts_of_zero_are_recorded(route, answer):
    usage = {"input_tokens": 0, "output_tokens": 0} if route is MESSAGES else OPENAI_COUNTS
    drafts = route.response_drafts({"model": "m"}, {**answer, "usage": usage}, 5)
    zero = {"promptTokens": 0, "completionTokens": 0, "totalTokens": 0}
    assert zero == response(drafts).metadata["usage"]


def chat_call(arguments: Any) -> dict[str, Any]:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
    return {"choices": [{"message": {"content": None, "tool_calls": [call]}}]}


def responses_call(arguments: Any) -> dict[str, Any]:
    call = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": arguments}
    return {"output": [call]}


def claude_call(arguments: Any) -> dict[str, Any]:
    return {"content": [{"type": "tool_use", "id": "c1", "name": "f", "input": arguments}]}


@pytest.mark.parametrize(
    ("route", "answer", "arguments"),
    [
        (CHAT, chat_call(None), ""),
        (CHAT, chat_call({"a": 1}), '{"a": 1}'),
        (RESPONSES, responses_call(None), ""),
        (MESSAGES, claude_call(None), "{}"),  # as a streamed tool use with no input deltas
        (MESSAGES, claude_call({"a": "é"}), '{"a": "é"}'),
    ],
)
def test_tool_call_arguments_are_always_a_string(route, answer, arguments):
    (call,) = response(route.response_drafts({"model": "m"}, answer, 5)).content["toolCalls"]
    assert {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}} == (
        call
    )
