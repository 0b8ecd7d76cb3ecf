"""Fixtures for the WhyOps client tests.

``recorder``: a real HTTP server on 127.0.0.1 (uvicorn in a thread) that records every
request and answers like the proxy and the analyse API would: OpenAI chat completions and
Anthropic messages (JSON and SSE streams), agent init, event ingest. Tests give each
client its own path prefix (``recorder.base()``), so they never see each other's requests.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from client_helpers import KEY, METADATA
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from whyops._tracer import TRACER
from whyops.export.memory import InMemoryExporter


class Recorded:
    """One request as the server saw it."""

    def __init__(self, method: str, path: str, headers: dict[str, str], body: Any) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"<{self.method} {self.path}>"


class Recorder:
    """State of the recording server; ``answers`` overrides a path suffix's reply."""

    def __init__(self) -> None:
        self.url = ""
        self.requests: list[Recorded] = []
        self.answers: dict[str, tuple[int, Any]] = {}
        self.init_delay = 0.0
        self.lock = threading.Lock()

    def base(self) -> str:
        """A fresh path prefix on this server, e.g. http://127.0.0.1:PORT/t/ab12cd."""
        return f"{self.url}/t/{uuid.uuid4().hex[:12]}"

    def under(self, prefix: str) -> list[Recorded]:
        path = prefix.removeprefix(self.url)
        with self.lock:
            return [r for r in self.requests if r.path.startswith(path + "/")]

    def calls(self, prefix: str) -> list[Recorded]:
        """Provider calls under ``prefix`` (agent registration left out)."""
        return [r for r in self.under(prefix) if not r.path.endswith("/init")]

    def add(self, record: Recorded) -> None:
        with self.lock:
            self.requests.append(record)


def _completion(model: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": "Your order shipped.", "refusal": None}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    }


def _completion_stream(model: str) -> Iterator[bytes]:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000}
    for delta, finish in (({"role": "assistant", "content": ""}, None), ({"content": "Hi"}, None)):
        chunk = {**base, "model": model, "choices": [{"index": 0, "delta": delta}]}
        chunk["choices"][0]["finish_reason"] = finish
        yield f"data: {json.dumps(chunk)}\n\n".encode()
    last = {**base, "model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    yield f"data: {json.dumps(last)}\n\n".encode()
    yield b"data: [DONE]\n\n"


def _message(model: str) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "Your order shipped."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


def _message_stream(model: str) -> Iterator[bytes]:
    start = {**_message(model), "content": [], "stop_reason": None}
    events = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Hi"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 5},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    for name, data in events:
        yield f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def _init_answer(body: Any) -> dict[str, Any]:
    from whyops.client._metadata import version_hash

    return {
        "success": True,
        "agentId": "agent-" + str(body.get("agentName")),
        "agentVersionId": "version-1",
        "status": "created",
        "versionHash": version_hash(body.get("metadata", {})),
    }


def make_app(state: Recorder) -> Starlette:
    async def handle(request: Request) -> Response:
        raw = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        path = request.url.path
        state.add(Recorded(request.method, path, dict(request.headers), body))
        for suffix, (status, answer) in state.answers.items():
            if path.endswith(suffix):
                return JSONResponse(answer, status_code=status)
        return await _answer(state, path, body)

    return Starlette(routes=[Route("/{path:path}", handle, methods=["GET", "POST"])])


async def _answer(state: Recorder, path: str, body: Any) -> Response:
    body = body if isinstance(body, dict) else {}
    model = str(body.get("model", "model-x"))
    stream = bool(body.get("stream"))
    if path.endswith("/chat/completions"):
        if stream:
            return StreamingResponse(_completion_stream(model), media_type="text/event-stream")
        return JSONResponse(_completion(model))
    if path.endswith("/v1/messages"):
        if stream:
            return StreamingResponse(_message_stream(model), media_type="text/event-stream")
        return JSONResponse(_message(model))
    if path.endswith("/entities/init") or path.endswith("/agents/init"):
        if state.init_delay:
            await asyncio.sleep(state.init_delay)
        return JSONResponse(_init_answer(body), status_code=201)
    if path.endswith("/events/ingest"):
        return JSONResponse({"success": True, "accepted": True}, status_code=202)
    return JSONResponse({"error": "Not Found"}, status_code=404)


@pytest.fixture(scope="session")
def recorder() -> Iterator[Recorder]:
    state = Recorder()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(make_app(state), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    state.url = f"http://127.0.0.1:{port}"
    yield state
    server.should_exit = True
    thread.join(5)


@pytest.fixture(autouse=True)
def internal_errors_fail_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug swallowed by tracing (to protect users) fails these tests instead."""
    from whyops import _internal_errors

    monkeypatch.setattr(_internal_errors, "RAISE", True)


@pytest.fixture
def events() -> Iterator[InMemoryExporter]:
    """Route the tracer to memory for one test; the previous set-up comes back after."""
    exporter = InMemoryExporter()
    with TRACER.use_exporter(exporter):
        yield exporter


@pytest.fixture
def sdk_factory(recorder: Recorder, events: InMemoryExporter) -> Any:
    """Make WhyOps clients pointed at a fresh prefix of the recording server."""
    from whyops.client import WhyOps

    def make(agent_name: str = "customer-support-agent", **kwargs: Any) -> Any:
        base = kwargs.pop("base", None) or recorder.base()
        kwargs.setdefault("proxy_base_url", base)
        kwargs.setdefault("analyse_base_url", base + "/api")
        return WhyOps(KEY, agent_name, kwargs.pop("agent_metadata", METADATA), **kwargs)

    return make
