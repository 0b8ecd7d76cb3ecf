"""The model-list passthrough stays inside its routes: a model id is one plain path segment.

Requests go out over a raw socket, so the path reaches the server exactly as written (an HTTP
client would resolve ``..`` itself). The spied upstream records every request the proxy sends:
a refused path must send nothing, and nothing may ever leave outside the proxy's routes.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whyops.server.proxy import upstream as upstream_module

from .conftest import ANTHROPIC_SECRET, OPENAI_SECRET, PROXY_KEY
from .shapes import error_message

ESCAPES = [
    "/v1/models/%2e%2e/%2e%2e/admin",
    "/v1/models/../../admin",
    "/v1/models/..%2F..%2Fadmin",
    "/v1/models/..%2f..%2fadmin",
    "/v1/models/%2e%2e%2f%2e%2e%2fadmin",
    "/v1/models/%2E%2E%2F%2E%2E%2Fadmin",
    "/v1/models/..",
    "/v1/models/.",
    "/v1/models/%2e",
    "/v1/models/%2e%2e",
    "/v1/models/%252e%252e%252f%252e%252e%252fadmin",  # encoded twice
    "/v1/models/%25%32%65%25%32%65",  # "%2e%2e" once decoded
    "/v1/models/..%5c..%5cadmin",  # backslash, encoded
    "/v1/models/..\\..\\admin",  # backslash, raw
    "/v1/models/",  # empty segment
    "/v1/models//admin",
    "/v1/models/gpt-4o/../../admin",
    "/v1/models/gpt-4o%2f..%2f..%2fadmin",
    "/v1/models/%c0%ae%c0%ae",  # overlong UTF-8 dots
    "/v1/models/a%00b",
    "/v1/models/a%0d%0aX-Injected:%201",  # no route matches a decoded line break: a 404
]
BAD_ID = "Invalid model id in the path"
# What the proxy may send upstream (the spy's paths, as uvicorn decoded them): its own routes,
# a model id of plain characters that is not a dot segment.
UPSTREAM_ROUTES = re.compile(
    r"/v1/(?:chat/completions|responses|embeddings|messages|messages/count_tokens|models"
    r"|models/[A-Za-z0-9][A-Za-z0-9._:@+~-]*)"
)


def raw_get(base_url: str, target: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """GET ``target`` byte for byte (no client-side normalization of the path)."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        return answer.status, answer.read()


PROVIDERS = {
    "openai": (
        {"Authorization": f"Bearer {PROXY_KEY}"},
        ("authorization", f"Bearer {OPENAI_SECRET}"),
    ),
    "anthropic": (
        {"x-api-key": PROXY_KEY, "anthropic-version": "2023-06-01"},
        ("x-api-key", ANTHROPIC_SECRET),
    ),
}


def shaped_message(status: int, content: bytes, provider: str) -> str:
    class Answer:  # what error_message reads
        def json(self) -> object:
            return json.loads(content)

    assert 400 == status, content
    return error_message(Answer(), provider)  # type: ignore[arg-type]


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
@pytest.mark.parametrize("target", ESCAPES)
def test_a_path_escaping_the_model_id_is_a_400_and_nothing_goes_upstream(
    proxy, upstream, provider, target
):
    headers, _ = PROVIDERS[provider]
    seen = len(upstream.requests)
    status, content = raw_get(proxy.base_url, target, headers)
    assert (404 if "%0a" in target else 400) == status, content
    if status == 400 and content.startswith(
        b"{"
    ):  # h11 itself refuses a raw backslash or NUL with a plain 400
        assert shaped_message(status, content, provider).startswith(BAD_ID)
    assert [] == upstream.requests[seen:]


@pytest.mark.parametrize("target", ["/v1/models/..%2F..%2Fadmin", "/v1/models/.."])
def test_a_stranger_is_refused_before_the_model_id_is_judged(proxy, upstream, target):
    seen = len(upstream.requests)
    status, content = raw_get(proxy.base_url, target, {})
    assert 401 == status
    assert "Unauthorized" in json.loads(content)["error"]["message"]
    assert [] == upstream.requests[seen:]


@pytest.mark.parametrize(
    ("provider", "target", "sent_path"),
    [
        ("openai", "/v1/models", "/v1/models"),
        ("openai", "/v1/models/gpt-4o-mini", "/v1/models/gpt-4o-mini"),
        ("openai", "/v1/models/gpt%2D4o", "/v1/models/gpt-4o"),
        (
            "openai",
            "/v1/models/ft:gpt-4o-mini:org:custom:abc1",
            "/v1/models/ft:gpt-4o-mini:org:custom:abc1",
        ),
        ("anthropic", "/v1/models", "/v1/models"),
        ("anthropic", "/v1/models/claude-haiku-4-5", "/v1/models/claude-haiku-4-5"),
    ],
)
def test_a_plain_model_id_reaches_its_one_upstream_route_with_the_key(
    proxy, upstream, provider, target, sent_path
):
    headers, (key_header, key_value) = PROVIDERS[provider]
    seen = len(upstream.requests)
    status, _ = raw_get(proxy.base_url, target, headers)
    assert status in (200, 404)  # the simulator knows some models
    [sent] = upstream.requests[seen:]
    assert (sent_path, key_value) == (sent["path"], sent["headers"][key_header])


@pytest.mark.parametrize(
    "target",
    [
        "/v1/models/..%2F..%2F..%2Fapi%2Fhealth",
        "/v1/models/%2e%2e/%2e%2e/%2e%2e/api/health",
        "/v1/models/../../../api/health",
    ],
)
@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_simulate_mode_never_reaches_the_servers_own_routes(server, target, provider):
    headers = {"Authorization": f"Bearer {server.api_key}"}
    if provider == "anthropic":
        headers["anthropic-version"] = "2023-06-01"
    status, content = raw_get(server.base_url, target, headers)
    assert shaped_message(status, content, provider).startswith(BAD_ID)
    assert b"status" not in content
    model = "claude-haiku-4-5" if provider == "anthropic" else "gpt-4o-mini"
    status, content = raw_get(server.base_url, f"/v1/models/{model}", headers)
    assert (200, model) == (status, json.loads(content)["id"])  # a plain id still works


@pytest.mark.parametrize(
    ("method", "target", "provider"),
    [
        ("GET", "/v1/models/gpt-4o?a#b", "openai"),
        ("GET", "/v1/models?#", "openai"),
        ("POST", "/v1/chat/completions?api-version=1#x", "openai"),
        ("POST", "/v1/messages?#", "anthropic"),
    ],
)
def test_a_query_that_cannot_be_passed_on_is_a_400(proxy, upstream, method, target, provider):
    host, port = proxy.base_url.removeprefix("http://").rsplit(":", 1)
    body = b"{}"
    head = f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    head += f"Authorization: Bearer {PROXY_KEY}\r\nContent-Length: {len(body)}\r\n\r\n"
    seen = len(upstream.requests)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        message = shaped_message(answer.status, answer.read(), provider)
    assert message.startswith("Invalid query string")
    assert [] == upstream.requests[seen:]


# Pieces of a model id: dots, slashes and backslashes raw and percent-encoded (once and twice),
# bytes percent-encoded, plain characters.
PIECES = st.one_of(
    st.sampled_from(
        [
            *(".", "..", "/", "\\", "%2e", "%2E", "%2f", "%2F", "%5c", "%5C", "%25", "%252e"),
            *("%252f", "%2525", "%00", "%ff", "%c0%ae", ":", "@", "+", "~", "-", "_", ";"),
            *("%3f", "%23", "?", "#", "%20", "%0a", "&", "="),
        ]
    ),
    st.text(string.ascii_letters + string.digits, min_size=1, max_size=4),
    st.binary(min_size=1, max_size=3).map(lambda raw: "".join(f"%{b:02x}" for b in raw)),
    st.characters(min_codepoint=0x21, max_codepoint=0x7E),
)
MODEL_IDS = st.lists(PIECES, max_size=8).map("".join)


def check_any_model_path(proxy, upstream, model_id: str, provider: str) -> None:
    headers, _ = PROVIDERS[provider]
    seen = len(upstream.requests)
    status, content = raw_get(proxy.base_url, "/v1/models/" + model_id, headers)
    assert status < 500, content
    sent = upstream.requests[seen:]
    assert all(UPSTREAM_ROUTES.fullmatch(request["path"]) for request in sent), sent
    assert len(sent) <= 1
    if status == 400 and content.startswith(b"{"):
        assert [] == sent  # refused: nothing went upstream


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(model_id=MODEL_IDS, provider=st.sampled_from(sorted(PROVIDERS)))
def test_any_model_path_stays_inside_the_routes(proxy, upstream, model_id, provider):
    check_any_model_path(proxy, upstream, model_id, provider)


@pytest.mark.slow
@settings(
    max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(model_id=MODEL_IDS, provider=st.sampled_from(sorted(PROVIDERS)))
def test_any_model_path_stays_inside_the_routes_at_length(proxy, upstream, model_id, provider):
    check_any_model_path(proxy, upstream, model_id, provider)


@pytest.mark.parametrize("query", [b"a=\xc3\xa9", b"\xff", b"q=caf\xe9"])
def test_a_query_with_bytes_above_ascii_is_a_query_error_not_a_500(query):
    """h11 refuses such a request line itself; an ASGI server that passes the bytes on must
    still get the 400 (before: UnicodeDecodeError, a 500)."""
    with pytest.raises(upstream_module.QueryError, match="Invalid query string"):
        upstream_module.check_query({"query_string": query})
