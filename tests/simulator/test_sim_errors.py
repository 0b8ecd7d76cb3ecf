"""Provider-shaped errors raise the SDKs' own exception classes; streams can fail midway."""

from __future__ import annotations

import anthropic
import httpx2
import openai
import pytest
from anthropic._types import Omit

HI = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("model", "exception", "status"),
    [
        ("sim-error-400", openai.BadRequestError, 400),
        ("sim-error-401", openai.AuthenticationError, 401),
        ("sim-error-403", openai.PermissionDeniedError, 403),
        ("sim-error-404", openai.NotFoundError, 404),
        ("sim-error-429", openai.RateLimitError, 429),
        ("sim-error-500", openai.InternalServerError, 500),
        ("sim-overloaded", openai.InternalServerError, 503),
    ],
)
def test_openai_error_models(oai, model, exception, status):
    with pytest.raises(exception) as caught:
        oai.chat.completions.create(model=model, messages=HI)
    error = caught.value
    assert error.status_code == status
    assert set(error.body) == {"message", "type", "param", "code"}
    assert error.response.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize(
    ("model", "exception", "kind"),
    [
        ("sim-error-400", anthropic.BadRequestError, "invalid_request_error"),
        ("sim-error-401", anthropic.AuthenticationError, "authentication_error"),
        ("sim-error-404", anthropic.NotFoundError, "not_found_error"),
        ("sim-error-429", anthropic.RateLimitError, "rate_limit_error"),
        ("sim-error-500", anthropic.InternalServerError, "api_error"),
        ("sim-overloaded", anthropic.OverloadedError, "overloaded_error"),
        ("sim-error-529", anthropic.OverloadedError, "overloaded_error"),
    ],
)
def test_anthropic_error_models(claude, model, exception, kind):
    with pytest.raises(exception) as caught:
        claude.messages.create(model=model, max_tokens=16, messages=HI)
    body = caught.value.body
    assert body["type"] == "error" and body["error"]["type"] == kind
    assert body["request_id"] == caught.value.response.headers["request-id"]


def test_rate_limit_carries_retry_after(oai, claude):
    with pytest.raises(openai.RateLimitError) as caught:
        oai.responses.create(model="gpt-4o", input="please sim:error=429")
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.response.headers["retry-after-ms"] == "50"
    with pytest.raises(anthropic.RateLimitError) as caught_anthropic:
        claude.messages.create(
            model="sim-claude",
            max_tokens=16,
            messages=[{"role": "user", "content": "sim:error=429"}],
        )
    assert caught_anthropic.value.response.headers["retry-after-ms"] == "50"


def test_sdk_retries_then_gives_up(simulator):
    client = openai.OpenAI(base_url=simulator.openai_base_url, api_key="k", max_retries=1)
    with client, pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="sim-error-429", messages=HI)
    assert caught.value.response.request.headers["x-stainless-retry-count"] == "1"


def test_unknown_model_is_404(oai, claude):
    with pytest.raises(openai.NotFoundError) as caught:
        oai.chat.completions.create(model="llama-3-70b", messages=HI)
    assert caught.value.code == "model_not_found" and "llama-3-70b" in caught.value.message
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.create(model="gpt-4o", max_tokens=16, messages=HI)


def test_invalid_requests_name_the_field(oai, claude):
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model="gpt-4o", messages=[])
    assert caught.value.param == "messages"
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model="gpt-4o", messages=[{"role": "robot", "content": "x"}])
    assert caught.value.param == "messages[0].role"
    with pytest.raises(anthropic.BadRequestError) as caught_anthropic:
        claude.messages.create(
            model="sim-claude",
            max_tokens=2000,
            messages=HI,
            thinking={"type": "enabled", "budget_tokens": 10},
        )
    assert "budget_tokens" in caught_anthropic.value.message


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/chat/completions", {"messages": HI}, "'model'"),
        ("/v1/responses", {"model": "gpt-4o"}, "'input'"),
        ("/v1/embeddings", {"model": "text-embedding-3-small"}, "'input'"),
        ("/v1/messages", {"model": "sim-claude", "messages": HI}, "max_tokens: Field required"),
        ("/v1/messages", {"model": "sim-claude", "max_tokens": 5}, "messages: Field required"),
        (
            "/v1/messages",
            {"model": "sim-claude", "max_tokens": 5, "messages": [{"role": "user"}]},
            "messages.0.content",
        ),
    ],
)
def test_missing_fields_over_raw_http(simulator, path, body, field):
    response = httpx2.post(simulator.base_url + path, json=body, headers={"x-api-key": "k"})
    assert response.status_code == 400
    assert field in response.text


def test_missing_key_is_401_in_each_shape(simulator):
    openai_answer = httpx2.post(
        f"{simulator.base_url}/v1/chat/completions", json={"model": "gpt-4o", "messages": HI}
    )
    assert openai_answer.status_code == 401
    assert openai_answer.json()["error"]["type"] == "invalid_request_error"
    anthropic_answer = httpx2.post(
        f"{simulator.base_url}/v1/messages",
        json={"model": "sim-claude", "max_tokens": 5, "messages": HI},
        headers={"anthropic-version": "2023-06-01"},
    )
    assert anthropic_answer.status_code == 401
    assert anthropic_answer.json()["error"]["type"] == "authentication_error"


def test_no_bearer_key_raises_authentication_error(oai, claude):
    with pytest.raises(openai.AuthenticationError):
        oai.chat.completions.create(
            model="gpt-4o", messages=HI, extra_headers={"Authorization": "Basic eDp5"}
        )
    with pytest.raises(anthropic.AuthenticationError):
        claude.messages.create(
            model="sim-claude",
            max_tokens=8,
            messages=HI,
            # anthropic 2.x sends the key as a Bearer token, 0.x as X-Api-Key: drop both
            extra_headers={"Authorization": "Basic eDp5", "X-Api-Key": Omit()},
        )


def test_bad_json_and_unknown_routes(simulator):
    headers = {"authorization": "Bearer k", "content-type": "application/json"}
    broken = httpx2.post(f"{simulator.base_url}/v1/chat/completions", content=b"{", headers=headers)
    assert broken.status_code == 400 and "JSON" in broken.json()["error"]["message"]
    listed = httpx2.post(
        f"{simulator.base_url}/v1/chat/completions", content=b"[]", headers=headers
    )
    assert listed.status_code == 400
    missing = httpx2.get(f"{simulator.base_url}/v1/nothing-here", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "invalid_request_error"
    wrong_method = httpx2.get(f"{simulator.base_url}/v1/chat/completions", headers=headers)
    assert wrong_method.status_code == 405


def test_openai_chat_stream_fails_midway(oai):
    stream = oai.chat.completions.create(model="sim-stream-error", messages=HI, stream=True)
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received.append(chunk)
    assert received, "the failure comes after the stream started"
    assert "streaming" in caught.value.message


def test_stream_error_trigger_fails_whole_answers_with_500(oai):
    with pytest.raises(openai.InternalServerError):
        oai.chat.completions.create(model="sim-stream-error", messages=HI)


def test_responses_stream_yields_an_error_event(oai):
    events = list(oai.responses.create(model="gpt-4o", input="hi sim:stream-error", stream=True))
    assert events[-1].type == "error"
    assert events[-1].code == "server_error"
    assert "response.completed" not in [event.type for event in events]


def test_anthropic_stream_fails_midway(claude):
    stream = claude.messages.create(
        model="sim-stream-error", max_tokens=64, messages=HI, stream=True
    )
    kinds = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        for event in stream:
            kinds.append(event.type)
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert caught.value.body["error"]["type"] == "overloaded_error"
