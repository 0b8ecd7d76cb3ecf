"""Bodies that are not UTF-8 JSON are refused before anything goes upstream, and every error
the proxy itself makes reads, through the providers' own SDKs, like that provider's."""

from __future__ import annotations

import json

import anthropic
import httpx2
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import PROXY_KEY, headers_for, new_trace
from .shapes import error_message, openai_message

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = {"model": "claude-haiku-4-5", "max_tokens": 16, "messages": CHAT["messages"]}
ROUTES = [
    ("/v1/chat/completions", CHAT, "openai"),
    ("/v1/responses", {"model": "gpt-4o-mini", "input": "hi"}, "openai"),
    ("/v1/embeddings", {"model": "text-embedding-3-small", "input": "hi"}, "openai"),
    ("/v1/messages", MESSAGES, "anthropic"),
    ("/v1/messages/count_tokens", {"model": "claude-haiku-4-5", "messages": []}, "anthropic"),
]


def with_text(body: dict, text: str) -> bytes:
    """``body`` as JSON with ``"x": "<text>"`` added, written out byte for byte."""
    return json.dumps(body)[:-1].encode() + b', "x": "' + text.encode("latin-1") + b'"}'


# (how the body is written, what the message must name)
BAD_BODIES = [
    (lambda body: json.dumps(body).encode("utf-16"), "UTF-16"),  # with a byte order mark
    (lambda body: json.dumps(body).encode("utf-16-le"), "UTF-16"),
    (lambda body: json.dumps(body).encode("utf-16-be"), "UTF-16"),
    (lambda body: json.dumps(body).encode("utf-32"), "UTF-32"),
    (lambda body: json.dumps(body).encode("utf-32-le"), "UTF-32"),
    (lambda body: json.dumps(body).encode("utf-32-be"), "UTF-32"),
    (lambda body: with_text(body, "\xed\xa0\x80"), "surrogate"),  # raw lone high surrogate
    (lambda body: with_text(body, "a\xed\xbf\xbfb"), "surrogate"),  # raw lone low surrogate
    (lambda body: with_text(body, "\\ud800"), "surrogate"),  # escaped
    (lambda body: with_text(body, "x\\udfffy"), "surrogate"),
    (lambda body: with_text(body, "\xff\xfe"), "UTF-8"),  # not UTF-8 at all
]


def post(base_url: str, path: str, content: bytes, trace: str) -> httpx2.Response:
    headers = {
        "Authorization": f"Bearer {PROXY_KEY}",
        "content-type": "application/json",
        **headers_for(trace),
    }
    if path.startswith("/v1/messages"):
        headers["anthropic-version"] = "2023-06-01"
    return httpx2.post(base_url + path, content=content, headers=headers)


@pytest.mark.parametrize(("write", "named"), BAD_BODIES)
@pytest.mark.parametrize(("path", "body", "provider"), ROUTES)
def test_a_body_that_is_not_utf8_json_is_a_400_before_going_upstream(
    proxy, upstream, path, body, provider, write, named
):
    trace = new_trace()
    seen = len(upstream.requests)
    answer = post(proxy.base_url, path, write(body), trace)
    assert 400 == answer.status_code, answer.text
    assert named in error_message(answer, provider)
    assert [] == upstream.requests[seen:]  # nothing was sent
    assert [] == proxy.events(trace, timeout=0.2)  # and nothing half-recorded


@pytest.mark.parametrize(("path", "body", "provider"), ROUTES)
def test_a_body_nested_past_the_store_limit_is_a_400_before_going_upstream(
    proxy, upstream, path, body, provider
):
    trace = new_trace()
    seen = len(upstream.requests)
    deep = json.dumps(body)[:-1] + ', "x": ' + "[" * 150 + "]" * 150 + "}"
    answer = post(proxy.base_url, path, deep.encode(), trace)
    assert 400 == answer.status_code, answer.text
    assert "nested deeper than" in error_message(answer, provider)
    assert [] == upstream.requests[seen:]
    shallow = json.dumps(body)[:-1] + ', "x": ' + "[" * 60 + "]" * 60 + "}"
    post(proxy.base_url, path, shallow.encode(), new_trace())
    assert len(upstream.requests) == seen + 1  # within the limit: sent on


def test_a_surrogate_pair_is_fine(proxy, upstream):
    trace = new_trace()
    answer = post(proxy.base_url, "/v1/chat/completions", with_text(CHAT, "\\ud83d\\ude00"), trace)
    assert 200 == answer.status_code
    assert "\U0001f600" == json.loads(upstream.last("/chat/completions")["body"])["x"]


def test_a_utf8_byte_order_mark_is_read_past_and_not_sent_on(proxy, upstream):
    raw = json.dumps(CHAT).encode("utf-8-sig")
    answer = post(proxy.base_url, "/v1/chat/completions", raw, new_trace())
    assert 200 == answer.status_code
    assert json.dumps(CHAT).encode() == upstream.last("/chat/completions")["body"]


def openai_client(base_url: str, key: str = PROXY_KEY, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=base_url + "/v1",
        api_key=key,
        max_retries=0,
        default_headers=headers_for(**headers),
    )


def anthropic_client(base_url: str, key: str = PROXY_KEY, **headers: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=base_url, api_key=key, max_retries=0, default_headers=headers_for(**headers)
    )


def test_openai_sdk_shows_the_proxys_own_messages(proxy, small_proxy):
    with pytest.raises(openai.AuthenticationError) as caught:
        openai_client(proxy.base_url, "whyops_wrong").chat.completions.create(**CHAT)
    assert "Unauthorized: Invalid API key" in str(caught.value)
    assert ("invalid_request_error", "invalid_api_key") == (caught.value.type, caught.value.code)
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client(proxy.base_url, **{"X-Trace-ID": "t" * 129}).chat.completions.create(**CHAT)
    assert "Header X-Trace-ID must be at most 128 characters" in str(caught.value)
    with pytest.raises(openai.APIStatusError) as caught:
        messages = [{"role": "user", "content": "x" * 2000}]
        openai_client(small_proxy.base_url).chat.completions.create(
            model="gpt-4o-mini", messages=messages
        )
    assert 413 == caught.value.status_code
    assert "Payload Too Large: body exceeds 1000 bytes" in str(caught.value)
    with pytest.raises(openai.BadRequestError) as caught:
        # Not "../..": openai 1.x puts path parameters in unquoted, and the client itself
        # resolves the dots before sending. "*" reaches the proxy from both SDK lines.
        openai_client(proxy.base_url).models.retrieve("gpt*4")
    assert "Invalid model id in the path" in str(caught.value)
    assert "model" == caught.value.param


def test_anthropic_sdk_shows_the_proxys_own_messages(proxy, small_proxy):
    with pytest.raises(anthropic.AuthenticationError) as caught:
        anthropic_client(proxy.base_url, "whyops_wrong").messages.create(**MESSAGES)
    assert "Unauthorized: Invalid API key" in str(caught.value)
    assert "authentication_error" == caught.value.body["error"]["type"]  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as caught:
        long_user = {"X-External-User-Id": "u" * 256}
        anthropic_client(proxy.base_url, **long_user).messages.create(**MESSAGES)
    assert "Header X-External-User-Id must be at most 255 characters" in str(caught.value)
    assert "invalid_request_error" == caught.value.body["error"]["type"]  # type: ignore[index]
    with pytest.raises(anthropic.APIStatusError) as caught:
        big = {**MESSAGES, "messages": [{"role": "user", "content": "x" * 2000}]}
        anthropic_client(small_proxy.base_url).messages.create(**big)
    assert 413 == caught.value.status_code
    assert "Payload Too Large: body exceeds 1000 bytes" in str(caught.value)
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_client(proxy.base_url).models.retrieve("a/../../b")
    assert "Invalid model id in the path" in str(caught.value)


def test_unreachable_upstream_reads_as_the_providers_server_error(dead_proxy):
    with pytest.raises(openai.APIStatusError) as caught:
        openai_client(dead_proxy.base_url).chat.completions.create(**CHAT)
    assert (502, "upstream_unreachable") == (caught.value.status_code, caught.value.code)
    assert "whyops proxy: openai upstream unreachable" in str(caught.value)
    with pytest.raises(anthropic.APIStatusError) as caught:
        anthropic_client(dead_proxy.base_url).messages.create(**MESSAGES)
    assert 502 == caught.value.status_code
    assert "api_error" == caught.value.body["error"]["type"]  # type: ignore[index]


def test_an_answer_with_raw_surrogate_bytes_is_still_recorded(proxy, script):
    """Upstream bytes that are not UTF-8 (a raw lone surrogate) cannot be stored as they are:
    recorded with U+FFFD in their place, never dropped by the store."""
    answer = json.dumps(
        {
            "id": "c1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "aSURb"}}],
        }
    ).encode()
    raw = answer.replace(b"SUR", b"\xed\xa0\x80")
    script(lambda scope: (200, [("content-type", "application/json")], raw))
    trace = new_trace()
    reply = post(proxy.base_url, "/v1/chat/completions", json.dumps(CHAT).encode(), trace)
    assert (200, raw) == (reply.status_code, reply.content)  # the client gets it as sent
    [response] = [e for e in proxy.events(trace, 2) if e["eventType"] == "llm_response"]
    assert "a\ufffd\ufffd\ufffdb" == response["content"]["content"]  # one per bad byte


ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32-be", "latin-1"])
# Text with what trips decoders: lone surrogates (written raw or escaped), NUL, non-ASCII.
WEIRD = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"])
    | st.sampled_from(["\ud800", "\udfff", "\x00", "é", "\U0001f600"]),
    max_size=8,
)


def encoded(text: str, encoding: str, escaped: bool) -> bytes:
    body = json.dumps({**CHAT, "x": text}, ensure_ascii=escaped)
    return body.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=WEIRD, encoding=ENCODINGS, escaped=st.booleans())
def test_any_body_encoding_is_answered_and_refused_before_upstream(
    proxy, upstream, text, encoding, escaped
):
    seen = len(upstream.requests)
    raw = encoded(text, encoding, escaped)
    answer = post(proxy.base_url, "/v1/chat/completions", raw, new_trace())
    assert answer.status_code in (200, 400), answer.text
    if answer.status_code == 400:
        assert [] == upstream.requests[seen:]
        openai_message(answer.json())
    else:  # what went upstream is UTF-8 without a lone surrogate
        json.loads(upstream.requests[-1]["body"].decode("utf-8")).get("x", "").encode("utf-8")


def test_an_unsupported_content_encoding_is_a_415_in_the_providers_shape(proxy, upstream):
    seen = len(upstream.requests)
    for path, body, provider in ROUTES[::3]:  # chat and messages
        headers = {"Authorization": f"Bearer {PROXY_KEY}", "content-encoding": "br"}
        answer = httpx2.post(proxy.base_url + path, json=body, headers=headers)
        assert 415 == answer.status_code
        assert "Unsupported Content-Encoding: br" in error_message(answer, provider)
        shaped = answer.json()["error"]["type"]
        assert "invalid_request_error" == shaped
    assert [] == upstream.requests[seen:]
