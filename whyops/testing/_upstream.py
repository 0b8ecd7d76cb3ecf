"""Answer the WhyOps client's own HTTP in-process, so a test needs no server and no network.

While :func:`intercept_whyops_traffic` is active, the default transports of ``httpx2`` (and
of legacy ``httpx`` when installed) answer two kinds of requests themselves:

- patched provider calls (they carry ``X-Agent-Name``): recorded as
  :class:`ProviderRequest` and answered like OpenAI/Anthropic would, by the offline
  simulator when the ``server`` extra is installed, else with a short canned answer;
- agent registration (``/entities/init``, ``/v1/agents/init``): answered with a success.

Every other request (your own services, custom transports, mock transports) is untouched.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import attrs

from whyops.wire.headers import AGENT_NAME, PARENT_SPAN_ID, THREAD_ID, TRACE_ID

__all__ = ["ProviderRequest", "intercept_whyops_traffic"]

_REGISTRATION_PATHS = ("/entities/init", "/agents/init")
Answer = tuple[int, dict[str, str], bytes]


@attrs.frozen(slots=True)
class ProviderRequest:
    """One request a patched OpenAI/Anthropic client sent, as it left the client."""

    method: str
    url: str
    headers: Mapping[str, str]  # lowercase names
    body: Any  # the JSON body, or None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def trace_id(self) -> str | None:
        return self.headers.get(TRACE_ID.lower())

    @property
    def thread_id(self) -> str | None:
        return self.headers.get(THREAD_ID.lower())

    @property
    def parent_span_id(self) -> str | None:
        return self.headers.get(PARENT_SPAN_ID.lower())

    @property
    def agent_name(self) -> str | None:
        return self.headers.get(AGENT_NAME.lower())


def is_whyops_traffic(method: str, url: str, headers: Mapping[str, str]) -> bool:
    """Agent registration, or a request of a patched provider client (it names its agent)."""
    if AGENT_NAME.lower() in headers:
        return True
    return method == "POST" and urlsplit(url).path.endswith(_REGISTRATION_PATHS)


def answer(method: str, url: str, body: bytes) -> Answer:
    """The in-process answer to a request for which :func:`is_whyops_traffic` holds."""
    path = urlsplit(url).path
    if method == "POST" and path.endswith(_REGISTRATION_PATHS):
        return _registration_answer(body)
    return _provider_answer(path, _json(body))


def _registration_answer(body: bytes) -> Answer:
    digest = hashlib.sha256(body).hexdigest()
    info = {
        "agentId": "agent_" + digest[:12],
        "agentVersionId": "version_" + digest[12:24],
        "status": "created",
        "versionHash": digest[:16],
    }
    return 200, {"content-type": "application/json"}, json.dumps(info).encode()


def _provider_answer(path: str, body: Any) -> Answer:
    if not path.endswith(tuple(_SIMULATED)):
        error = {"error": {"message": f"not simulated: {path}", "type": "not_found_error"}}
        return 404, {"content-type": "application/json"}, json.dumps(error).encode()
    simulator = _simulator_handler(path)
    if simulator is None:
        return _canned_answer(path, body)
    handle, errors, provider = simulator
    try:
        result = handle(body if isinstance(body, dict) else {})
    except errors.ApiError as error:
        payload = errors.error_body(provider, error, "req_whyops_test")
        return error.status, {"content-type": "application/json"}, json.dumps(payload).encode()
    if isinstance(result, dict):
        return 200, {"content-type": "application/json"}, json.dumps(result).encode()
    return 200, {"content-type": "text/event-stream"}, b"".join(result)


_SIMULATED = {
    "/chat/completions": ("openai_chat", "openai"),
    "/responses": ("openai_responses", "openai"),
    "/embeddings": ("openai_embeddings", "openai"),
    "/messages": ("anthropic_messages", "anthropic"),
}


def _simulator_handler(path: str) -> tuple[Callable[[dict[str, Any]], Any], Any, str] | None:
    for suffix, (module_name, provider) in _SIMULATED.items():
        if path.endswith(suffix):
            try:
                module = importlib.import_module(f"whyops.server.simulator.{module_name}")
                errors = importlib.import_module("whyops.server.simulator.errors")
            except ImportError:  # no server extra: fall back to the canned answers
                return None
            return module.handle, errors, provider
    return None


def _canned_answer(path: str, body: Any) -> Answer:
    model = body.get("model", "unknown") if isinstance(body, dict) else "unknown"
    if path.endswith("/messages"):
        payload: dict[str, Any] = {
            "id": "msg_whyops_test",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "ok"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }
    else:
        payload = {
            "id": "chatcmpl_whyops_test",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "ok"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    return 200, {"content-type": "application/json"}, json.dumps(payload).encode()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


class _Recorder:
    """Collects provider requests; shared by the patched transports of all threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[ProviderRequest] = []

    def wants(self, request: Any) -> bool:
        return is_whyops_traffic(request.method, str(request.url), request.headers)

    def answer(self, request: Any, body: bytes) -> Answer:
        url = str(request.url)
        headers = {k.lower(): v for k, v in request.headers.items()}
        if AGENT_NAME.lower() in headers:
            with self._lock:
                self.requests.append(ProviderRequest(request.method, url, headers, _json(body)))
        return answer(request.method, url, body)


def _patch_module(module: Any, recorder: _Recorder) -> Callable[[], None]:
    sync_cls, async_cls = module.HTTPTransport, module.AsyncHTTPTransport
    sync_original = sync_cls.handle_request
    async_original = async_cls.handle_async_request

    def handle_request(self: Any, request: Any) -> Any:
        if not recorder.wants(request):
            return sync_original(self, request)
        status, headers, content = recorder.answer(request, request.read())
        return module.Response(status, headers=headers, content=content)

    async def handle_async_request(self: Any, request: Any) -> Any:
        if not recorder.wants(request):
            return await async_original(self, request)
        status, headers, content = recorder.answer(request, await request.aread())
        return module.Response(status, headers=headers, content=content)

    sync_cls.handle_request = handle_request
    async_cls.handle_async_request = handle_async_request

    def restore() -> None:
        sync_cls.handle_request = sync_original
        async_cls.handle_async_request = async_original

    return restore


@contextmanager
def intercept_whyops_traffic() -> Iterator[list[ProviderRequest]]:
    """Answer WhyOps-client traffic in-process for the block; yields the provider requests."""
    recorder = _Recorder()
    undo = []
    for name in ("httpx2", "httpx"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        undo.append(_patch_module(module, recorder))
    try:
        yield recorder.requests
    finally:
        for restore in reversed(undo):
            restore()
