"""An upstream that breaks off mid-stream: the client gets the provider's own stream error event
and a cleanly ended answer (so its SDK raises its API error, not a connection error), the call
is recorded as an error with what had arrived, and the server logs one line."""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from .conftest import PROXY_KEY, ProxyUnderTest, _start_proxy, headers_for, new_trace
from .shapes import anthropic_message, openai_message

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": CHAT["messages"]}
SSE = [("content-type", "text/event-stream")]


def frame(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


def chat_frames() -> list[bytes]:
    def chunk(text: str) -> bytes:
        delta = {"index": 0, "delta": {"content": text}}
        return frame(
            {
                "id": "c1",
                "object": "chat.completion.chunk",
                "model": "gpt-4o",
                "created": 1,
                "choices": [delta],
            }
        )

    return [chunk("p0 "), chunk("p1 ")]


def anthropic_frames() -> list[bytes]:
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5"}
    message |= {"content": [], "usage": {"input_tokens": 1, "output_tokens": 0}}
    block = {"type": "text", "text": ""}
    frames = [
        frame({"type": "message_start", "message": message}, "message_start"),
        frame(
            {"type": "content_block_start", "index": 0, "content_block": block},
            "content_block_start",
        ),
    ]
    for text in ("p0 ", "p1 "):
        delta = {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": text},
        }
        frames.append(frame(delta, "content_block_delta"))
    return frames


def responses_frames() -> list[bytes]:
    response = {"id": "resp_1", "object": "response", "created_at": 1, "model": "gpt-4o"}
    response |= {"status": "in_progress", "output": []}
    frames = [
        frame(
            {"type": "response.created", "response": response, "sequence_number": 0},
            "response.created",
        )
    ]
    for n, text in enumerate(("p0 ", "p1 ")):
        delta = {"type": "response.output_text.delta", "item_id": "m1", "output_index": 0}
        delta |= {"content_index": 0, "delta": text, "sequence_number": n + 1}
        frames.append(frame(delta, "response.output_text.delta"))
    return frames


def dying(frames: list[bytes], partial: bytes = b"") -> Any:
    """A scripted upstream that sends ``frames`` (and ``partial``: half a frame) and dies."""

    def answer(scope: dict) -> tuple[int, list, AsyncIterator[bytes]]:
        async def stream() -> AsyncIterator[bytes]:
            for piece in frames:
                yield piece
            if partial:
                yield partial
            raise ConnectionResetError("the upstream process died")

        return 200, SSE, stream()

    return answer


@pytest.fixture
def proxy_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Records of the proxy's logger and uvicorn's error logger (which does not propagate)."""
    server_log = logging.getLogger("uvicorn.error")
    server_log.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="whyops.server.proxy")
    try:
        yield caplog
    finally:
        server_log.removeHandler(caplog.handler)


def assert_one_line_logged(caplog: pytest.LogCaptureFixture) -> None:
    broke = [r for r in caplog.records if "broke off" in r.getMessage()]
    assert 1 == len(broke), [r.getMessage() for r in caplog.records]
    # the fake upstream's own death is logged by its server (in this process too); nothing else
    # of the proxy's or the server's (asyncio's own reports of other tests' leftovers aside)
    ours = [r for r in caplog.records if r.name.startswith(("whyops", "uvicorn"))]
    tracebacks = [r.exc_info[1] for r in ours if r.exc_info]
    assert all(isinstance(exc, ConnectionResetError) for exc in tracebacks), tracebacks


def assert_recorded_broken(proxy: ProxyUnderTest, trace: str) -> None:
    events = proxy.events(trace, 2)
    [error] = [e for e in events if e["eventType"] == "error"]
    assert ("UpstreamDisconnected", "upstream_disconnected") == (
        error["content"]["type"],
        error["metadata"]["aborted"],
    )
    assert "p0 p1 " in json.dumps(error["content"]["partial"])


def openai_sdk(proxy: ProxyUnderTest, trace: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=proxy.base_url + "/v1",
        api_key=PROXY_KEY,
        max_retries=0,
        default_headers=headers_for(trace),
    )


def test_openai_sdk_raises_its_api_error_for_a_chat_stream(proxy, script, proxy_log):
    trace = new_trace()
    script(dying(chat_frames()))
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in openai_sdk(proxy, trace).chat.completions.create(**CHAT, stream=True):
            received.append(chunk.choices[0].delta.content)
    assert type(caught.value) is openai.APIError  # not APIConnectionError: the stream ended well
    assert "broke off in the middle of the stream" in str(caught.value)
    assert ["p0 ", "p1 "] == received
    assert_recorded_broken(proxy, trace)
    assert_one_line_logged(proxy_log)


def test_openai_sdk_raises_its_api_error_for_a_responses_stream(proxy, script, proxy_log):
    trace = new_trace()
    script(dying(responses_frames()))
    with pytest.raises(openai.APIError) as caught:
        for _ in openai_sdk(proxy, trace).responses.create(model="gpt-4o", input="hi", stream=True):
            pass
    assert type(caught.value) is openai.APIError
    assert "broke off in the middle of the stream" in str(caught.value)
    assert_one_line_logged(proxy_log)


def test_anthropic_sdk_raises_its_api_error(proxy, script, proxy_log):
    trace = new_trace()
    script(dying(anthropic_frames()))
    claude = anthropic.Anthropic(
        base_url=proxy.base_url,
        api_key=PROXY_KEY,
        max_retries=0,
        default_headers=headers_for(trace),
    )
    texts = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        with claude.messages.stream(**MESSAGES) as stream:
            texts.extend(stream.text_stream)
    assert "broke off in the middle of the stream" in str(caught.value)
    assert "api_error" == caught.value.body["error"]["type"]  # type: ignore[index]
    assert ["p0 ", "p1 "] == texts
    assert_recorded_broken(proxy, trace)
    assert_one_line_logged(proxy_log)


def read_all(base_url: str, path: str, body: dict, trace: str) -> bytes:
    """The whole streamed answer; raises if it does not end cleanly."""
    headers = {"Authorization": f"Bearer {PROXY_KEY}", **headers_for(trace)}
    with httpx2.stream("POST", base_url + path, json=body, headers=headers, timeout=10) as answer:
        assert 200 == answer.status_code
        return b"".join(answer.iter_bytes())


def last_frame(raw: bytes) -> tuple[str | None, Any]:
    text = raw.decode().rstrip("\n").rsplit("\n\n", 1)[-1]
    fields = dict(line.split(": ", 1) for line in text.split("\n"))
    return fields.get("event"), json.loads(fields["data"])


@pytest.mark.parametrize("partial", [b"", b'data: {"id": "HALF'])
def test_raw_bytes_end_with_the_openai_error_chunk(proxy, script, partial):
    trace = new_trace()
    script(dying(chat_frames(), partial))
    raw = read_all(proxy.base_url, "/v1/chat/completions", {**CHAT, "stream": True}, trace)
    assert raw.startswith(b"".join(chat_frames()))
    assert b"HALF" not in raw  # half a frame is never passed on: it would spoil the next one
    event, data = last_frame(raw)
    assert event is None
    assert "broke off in the middle of the stream" in openai_message(data)
    assert "server_error" == data["error"]["type"]
    assert_recorded_broken(proxy, trace)


@pytest.mark.parametrize("partial", [b"", b'event: content_block_delta\ndata: {"HALF'])
def test_raw_bytes_end_with_the_anthropic_error_event(proxy, script, partial):
    trace = new_trace()
    script(dying(anthropic_frames(), partial))
    raw = read_all(proxy.base_url, "/v1/messages", {**MESSAGES, "stream": True}, trace)
    assert b"p0 " in raw and b"p1 " in raw and b"HALF" not in raw
    event, data = last_frame(raw)
    assert "error" == event
    assert "broke off in the middle of the stream" in anthropic_message(data)
    assert "api_error" == data["error"]["type"]
    assert_recorded_broken(proxy, trace)


class ResettingUpstream:
    """A bare TCP upstream: answers with a chunked SSE head and two chunks, then resets the
    connection (a read error, where uvicorn dying gives an incomplete chunked body)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                self.answer(conn)

    def answer(self, conn: socket.socket) -> None:
        received = b""
        while b"\r\n\r\n" not in received:
            received += conn.recv(65536)
        head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        head += b"transfer-encoding: chunked\r\n\r\n"
        conn.sendall(head + b"".join(b"%x\r\n%s\r\n" % (len(f), f) for f in chat_frames()))
        time.sleep(0.3)  # the proxy has the head and the chunks: now the reset
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def close(self) -> None:
        self.listener.close()


def test_a_reset_connection_is_a_stream_error_too(tmp_path, db_store, proxy_log):
    upstream = ResettingUpstream()
    proxy = _start_proxy(upstream.base_url, db_store, tmp_path)
    try:
        trace = new_trace()
        with pytest.raises(openai.APIError) as caught:
            for _ in openai_sdk(proxy, trace).chat.completions.create(**CHAT, stream=True):
                pass
        assert type(caught.value) is openai.APIError
        assert "broke off in the middle of the stream" in str(caught.value)
        assert_recorded_broken(proxy, trace)
        assert_one_line_logged(proxy_log)
    finally:
        proxy.running.stop()
        upstream.close()
