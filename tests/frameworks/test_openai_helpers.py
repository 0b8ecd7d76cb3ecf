"""The provider SDKs configured only by their environment variables (no whyops headers, so
the proxy signs its answers): the `chat.completions.stream()` helper sees a stream shaped as
the provider's, usage is recorded for streams that did not ask for it, JSON asked for in the
prompt parses, and the proxy's own errors read as the provider's."""

from __future__ import annotations

import json
import socket
import uuid

import anthropic
import openai
import pydantic
import pytest

from .support import Recorded


class OrderStatus(pydantic.BaseModel):
    order_id: str
    status: str


def marked(text: str) -> tuple[str, str]:
    marker = uuid.uuid4().hex
    return marker, f"{text} (request {marker})"


def recorded_usage(recorded: Recorded, marker: str) -> dict[str, int]:
    """The usage recorded for the one call whose prompt holds `marker` (default agent)."""
    [request] = recorded.find_user_message(marker)
    assert request["agentName"] == "default"
    for _ in range(100):
        responses = [
            event
            for event in recorded.events(request["traceId"])
            if event["spanId"] == request["spanId"] and event["eventType"] == "llm_response"
        ]
        if responses:
            return dict(responses[0]["metadata"]["usage"])
        recorded.pause()
    raise AssertionError("no response recorded")


def test_stream_helper_sees_the_provider_stream(served, recorded):
    marker, prompt = marked("sim:words=40")
    with openai.OpenAI() as client:
        with client.chat.completions.stream(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": prompt}],
            stream_options={"include_usage": True},
        ) as stream:
            kinds = [event.type for event in stream]
            final = stream.get_final_completion()
    assert kinds.count("content.done") == 1
    assert "content.delta" not in kinds[kinds.index("content.done") :]
    assert final.usage is not None and final.usage.completion_tokens > 0
    assert final.choices[0].message.content.startswith("the simulator streams")
    usage = recorded_usage(recorded, marker)
    assert usage["completionTokens"] == final.usage.completion_tokens


def test_stream_without_include_usage_is_recorded_with_usage(served, recorded):
    marker, prompt = marked("Hello!")
    with openai.OpenAI() as client:
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], stream=True
            )
        )
    assert all(chunk.usage is None for chunk in chunks)  # the client sees what it asked for
    usage = recorded_usage(recorded, marker)
    assert usage["promptTokens"] > 0 and usage["completionTokens"] > 0


def test_json_asked_for_in_the_prompt_parses(served, recorded):
    marker, prompt = marked(
        'Order 1234 has shipped. Respond with JSON like {"order_id": "...", "status": "..."}'
    )
    with openai.OpenAI() as client:
        for stream in (False, True):
            if stream:
                chunks = client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], stream=True
                )
                text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            else:
                completion = client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
                )
                text = completion.choices[0].message.content or ""
            assert json.loads(text)["order_id"] == "1234"
            assert OrderStatus.model_validate_json(text).order_id == "1234"
    assert len(recorded.find_user_message(marker)) == 2


def test_the_proxys_own_errors_read_as_the_providers(served):
    too_long = {"X-Trace-ID": "t" * 129}
    with openai.OpenAI(max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as raised:
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                extra_headers=too_long,
            )  # fmt: skip
    assert "X-Trace-ID must be at most 128 characters" in str(raised.value)
    assert set(raised.value.body) >= {"message", "type", "param", "code"}
    with anthropic.Anthropic(max_retries=0) as claude:
        with pytest.raises(anthropic.BadRequestError) as raised_anthropic:
            claude.messages.create(
                model="claude-sonnet-4-5", max_tokens=10, extra_headers=too_long,
                messages=[{"role": "user", "content": "hi"}],
            )  # fmt: skip
    assert "X-Trace-ID must be at most 128 characters" in str(raised_anthropic.value)
    error = raised_anthropic.value.body
    assert error["type"] == "error" and set(error["error"]) >= {"type", "message"}


def test_the_suite_refuses_addresses_beyond_loopback(loopback_only):
    # A numeric address: getaddrinfo resolves it without any traffic, guarded or not.
    with pytest.raises(OSError, match="loopback only"):
        socket.getaddrinfo("192.0.2.1", 443)
    assert loopback_only == ["('192.0.2.1', 0)"]
    loopback_only.clear()  # expected here; anything else refused fails the module
    assert socket.getaddrinfo("127.0.0.1", 443)
