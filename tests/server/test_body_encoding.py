"""Bodies are UTF-8 JSON (RFC 8259) on every route that reads one; gzip ends with the body;
``Content-Length`` with ``Transfer-Encoding`` is refused."""

from __future__ import annotations

import gzip
import json
import socket
import zlib

import pytest

from tests.server.conftest import Api, event, event_count, new_trace
from whyops.server.bodies import BodyError, decode_body, parse_json

EVENT_ROUTES = ["/api/events/ingest", "/api/events", "/api/events/tool-result"]
INIT_ROUTES = ["/api/entities/init", "/v1/agents/init"]


def _event_text(trace: str) -> str:
    return '[{"eventType":"user_message","traceId":"' + trace + '","agentName":"a"}]'


def _init_text(name: str, prompt: str = "be brief") -> str:
    return '{"agentName":"' + name + '","metadata":{"systemPrompt":"' + prompt + '","tools":[]}}'


FOREIGN = {
    "utf-16 with BOM": ("utf-16", "UTF-16"),
    "utf-16-le": ("utf-16-le", "UTF-16"),
    "utf-16-be": ("utf-16-be", "UTF-16"),
    "utf-32 with BOM": ("utf-32", "UTF-32"),
    "utf-32-le": ("utf-32-le", "UTF-32"),
    "utf-32-be": ("utf-32-be", "UTF-32"),
}


@pytest.mark.parametrize("path", EVENT_ROUTES + INIT_ROUTES)
@pytest.mark.parametrize("name", FOREIGN)
def test_utf16_and_utf32_bodies_are_400_naming_the_encoding(api: Api, path: str, name: str) -> None:
    codec, shown = FOREIGN[name]
    trace = new_trace()
    text = _init_text(trace) if path in INIT_ROUTES else _event_text(trace)
    response = api.post(path, content=text.encode(codec))
    assert response.status_code == 400, response.text
    assert f"the body is {shown}; send UTF-8" in response.json()["error"]
    assert event_count(api.running.db_path, trace) == 0


SURROGATES = {
    "raw bytes in a value": (b'"content":"\xed\xa0\x80"', "a surrogate at byte"),
    "raw low half in a value": (b'"content":"\xed\xbf\xbf"', "a surrogate at byte"),
    "escape in a value": (b'"content":"\\ud800"', "lone surrogate in a string at 0.content"),
    "low escape in a value": (
        b'"content":["\\udfff"]',
        "lone surrogate in a string at 0.content.0",
    ),
    "escape in a key": (b'"x\\ud800":1', "lone surrogate in a string at 0.x\\ud800"),
    "raw bytes in a key": (b'"x\xed\xa0\x80":1', "a surrogate at byte"),
}


def _event_bytes(trace: str, fragment: bytes) -> bytes:
    head = b'[{"eventType":"user_message","traceId":"%s","agentName":"a",' % trace.encode()
    return head + fragment + b"}]"


@pytest.mark.parametrize("path", EVENT_ROUTES)
@pytest.mark.parametrize("name", SURROGATES)
def test_lone_surrogates_are_400_however_written(api: Api, path: str, name: str) -> None:
    fragment, said = SURROGATES[name]
    trace = new_trace()
    response = api.post(path, content=_event_bytes(trace, fragment))
    assert response.status_code == 400, response.text
    assert said in response.json()["error"]
    assert event_count(api.running.db_path, trace) == 0


@pytest.mark.parametrize("path", INIT_ROUTES)
@pytest.mark.parametrize("bad", [b"\xed\xa0\x80", b"\\ud800", b"\\udc00"])
def test_agent_init_refuses_surrogates_too(api: Api, path: str, bad: bytes) -> None:
    name = new_trace()
    raw = _init_text(name).encode().replace(b"be brief", b"be " + bad)
    response = api.post(path, content=raw)
    assert response.status_code == 400, response.text
    assert response.json()["success"] is False
    assert "surrogate" in response.json()["error"]
    assert api.get(f"/api/entities/{name}").status_code == 404


def test_valid_pairs_and_a_utf8_bom_are_accepted(api: Api) -> None:
    trace = new_trace()
    raw = b"\xef\xbb\xbf" + _event_bytes(trace, b'"content":"\\ud83d\\ude00 \xf0\x9f\x98\x80"')
    assert api.post("/api/events/ingest", content=raw).status_code == 202
    content = api.thread(trace, eventInclude="content")["events"][0]["content"]
    assert content == "\U0001f600 \U0001f600"


def test_parse_json_names_where_the_surrogate_is() -> None:
    with pytest.raises(BodyError, match=r"at 1\.a\.2$"):
        parse_json(b'[0,{"a":["ok","\\ud83d\\ude00","\\uDBFF"]}]')
    with pytest.raises(BodyError, match=r"lone surrogate in a string$"):
        parse_json(b'"\\ud800"')
    assert parse_json(b'["\\ud83d\\ude00"]') == ["\U0001f600"]


GZIPPED = gzip.compress(
    json.dumps([{"eventType": "tool_result"}]).encode(), mtime=0
)  # fixed bytes: the ids must match across xdist workers


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (GZIPPED[:-4], "truncated"),
        (GZIPPED[:12], "truncated"),
        (GZIPPED + b"junk", "data after the compressed stream"),
        (GZIPPED + b"\x00", "data after the compressed stream"),
        (GZIPPED + b"\x1f\x8b\x08garbage", "Invalid gzip body"),
    ],
)
def test_corrupt_gzip_framing_is_400(api: Api, body: bytes, said: str) -> None:
    response = api.post("/api/events/ingest", content=body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400, response.text
    assert said in response.json()["error"]


def test_concatenated_gzip_members_are_one_body(api: Api) -> None:
    trace = new_trace()
    text = json.dumps([event("tool_result", trace)] * 2).encode()
    half = len(text) // 2
    body = gzip.compress(text[:half]) + gzip.compress(text[half:])
    response = api.post("/api/events/ingest", content=body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 202, response.text
    assert event_count(api.running.db_path, trace) == 2


def test_deflate_with_trailing_bytes_is_400() -> None:
    packed = zlib.compress(b"{}")
    assert decode_body(packed, "deflate", 100) == b"{}"
    with pytest.raises(BodyError, match="data after"):
        decode_body(packed + gzip.compress(b"{}"), "deflate", 100)


def _raw_exchange(api: Api, request: bytes) -> tuple[bytes, bytes]:
    """Send ``request`` on a fresh socket; the answer and whatever follows until close."""
    host, port = api.running.base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    return head, rest


def test_content_length_with_chunked_is_refused_and_the_connection_closed(api: Api) -> None:
    """h11 alone would take the chunked framing and ignore Content-Length (smuggling)."""
    trace = new_trace()
    body = json.dumps(event("tool_result", trace)).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    request = (
        b"POST /api/events/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + api.key.encode()
        + b"\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunked
    )
    head, rest = _raw_exchange(api, request)  # returns: the server closed the connection
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"connection: close" in head.lower()
    assert b"Content-Length and Transfer-Encoding" in rest
    assert event_count(api.running.db_path, trace) == 0
