"""The thin Starlette side of the proxy: auth, headers, forwarding, recording.

Everything that understands a provider's JSON lives in the provider modules
(an :class:`~whyops.server.proxy.base.ApiRoute`); this module only moves bytes
and hands drafts to the recorder.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx2
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from whyops.server import bodies
from whyops.server.auth import authenticate, unauthorized
from whyops.server.proxy import context, signature, upstream
from whyops.server.proxy.anthropic import anthropic_error
from whyops.server.proxy.base import JSON, ApiRoute
from whyops.server.proxy.events import CallInfo, Draft, build_events, error_draft, new_span_id
from whyops.server.proxy.openai_chat import openai_error
from whyops.server.proxy.tap import StreamTap, TappedStreamingResponse

log = logging.getLogger("whyops.server.proxy")


class Journal:
    """Records the events of one call, numbering them within the call's span."""

    def __init__(self, request: Request, project_id: str, call: CallInfo, route: ApiRoute) -> None:
        self.recorder = request.app.state.recorder
        self.answers = context.answer_index(request.app)
        self.project_id = project_id
        self.call = call
        self.secret = upstream.provider_key(request.app.state.settings, route.provider)
        self.position = 0

    def record(self, drafts: list[Draft]) -> None:
        events = build_events(self.call, drafts, time.time(), self.position)
        self.position += len(drafts)
        self._remember_answers(drafts)
        try:
            self.recorder.record(self.project_id, events)
        except Exception:  # recording must never break the proxied call
            log.exception("recording %d proxy events failed", len(events))

    def _remember_answers(self, drafts: list[Draft]) -> None:
        """Remember the ids later requests may refer to: tool calls, Responses answers."""
        for draft in drafts:
            if draft.event_type != "llm_response" or not isinstance(draft.content, dict):
                continue
            calls = draft.content.get("toolCalls") or ()
            for answer_id in (*(call.get("id") for call in calls), *draft.refs):
                if isinstance(answer_id, str):
                    self.answers.remember(self.project_id, answer_id, self.call.trace_id)

    def error(
        self, status: int | None, raw: bytes, model: Any, provider: str, latency: int
    ) -> None:
        if self.secret and self.secret.encode() in raw:
            raw = raw.replace(self.secret.encode(), b"[redacted]")
        self.record(
            [
                error_draft(
                    status, parse_json(raw), model=model, provider=provider, latency_ms=latency
                )
            ]
        )


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


async def read_body(request: Request) -> tuple[bytes, JSON]:
    """The (decoded) body and its JSON object; the server's limits and strict JSON rules."""
    limit = request.app.state.settings.max_body_bytes
    raw = await bodies.read_body(request, limit)
    raw = bodies.decode_body(raw, request.headers.get("content-encoding"), limit)
    body = bodies.parse_json(raw)
    if not isinstance(body, dict):
        raise bodies.BodyError(400, "Invalid request body: expected a JSON object")
    return raw, body


def respond(content: bytes, status: int, headers: list[tuple[str, str]]) -> Response:
    response = Response(content, status_code=status)
    encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    encoded.append((b"content-length", str(len(content)).encode()))
    response.raw_headers = encoded
    return response


async def model_call(request: Request, route: ApiRoute) -> Response:
    project = await authenticate(request)
    if project is None:
        return unauthorized(request)
    try:
        agent = context.agent_name(request.headers)
        raw, body = await read_body(request)
    except context.HeaderError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    except bodies.BodyError as exc:
        return exc.response()
    referenced = context.answer_index(request.app).lookup(str(project.id), route.answer_refs(body))
    ids = context.resolve_trace(request.headers, route.find_trace_id(body), referenced)
    payload = dumps(body) if route.strip_signatures(body) else raw
    journal = Journal(request, str(project.id), call_info(request, route, agent, ids), route)
    journal.record([route.request_draft(body)])
    sign = None
    if not ids.from_header and signature.encodable(ids.trace_id):
        sign = signature.encode(ids.trace_id)
    echo = context.echo_headers(ids, journal.call.span_id)
    return await forward(request, route, body, payload, journal, sign, echo)


def call_info(request: Request, route: ApiRoute, agent: str, ids: context.TraceIds) -> CallInfo:
    return CallInfo(
        trace_id=ids.trace_id,
        agent_name=agent,
        span_id=new_span_id(),
        span_name=route.span_name,
        span_kind=route.span_kind,
        thread_id=ids.thread_id,
        parent_span_id=context.parent_span_id(request.headers),
        external_user_id=context.external_user_id(request.headers),
    )


async def forward(
    request: Request,
    route: ApiRoute,
    body: JSON,
    payload: bytes,
    journal: Journal,
    sign: str | None,
    echo: list[tuple[str, str]],
) -> Response:
    started = time.perf_counter()
    settings = request.app.state.settings
    client = upstream.http_client(request.app)
    outgoing = client.build_request(
        "POST",
        upstream.upstream_url(settings, route.provider, route.upstream_path),
        params=request.url.query or None,
        content=payload,
        headers=upstream.request_headers(
            request.headers, route.provider, journal.secret, settings.simulate
        ),
    )
    try:
        answer = await client.send(outgoing, stream=True)
    except httpx2.TransportError as exc:
        return unreachable(route, journal, body, exc, started, echo)
    headers = upstream.response_headers(answer.headers.multi_items()) + echo
    if answer.status_code < 400 and is_event_stream(answer):
        tap = StreamTap(answer, route.stream_state(body, sign), started, journal.record)
        return TappedStreamingResponse(tap, answer.status_code, headers)
    try:
        content = await answer.aread()
    except httpx2.TransportError as exc:
        return unreachable(route, journal, body, exc, started, echo)
    finally:
        await answer.aclose()
    latency = elapsed_ms(started)
    if answer.status_code >= 400:
        journal.error(answer.status_code, content, body.get("model"), route.provider, latency)
        return respond(content, answer.status_code, headers)
    return whole_answer(route, body, content, answer.status_code, headers, journal, sign, latency)


def whole_answer(
    route: ApiRoute,
    body: JSON,
    content: bytes,
    status: int,
    headers: list[tuple[str, str]],
    journal: Journal,
    sign: str | None,
    latency: int,
) -> Response:
    parsed = parse_json(content)
    if not isinstance(parsed, dict):
        journal.error(status, content, body.get("model"), route.provider, latency)
        return respond(content, status, headers)
    drafts = route.response_drafts(body, parsed, latency)
    if sign and route.inject_signature(body, parsed, sign):
        try:
            content = dumps(parsed)
        except UnicodeEncodeError:  # a lone surrogate upstream: leave the answer as it came
            pass
    journal.record(drafts)
    return respond(content, status, headers)


def unreachable(
    route: ApiRoute,
    journal: Journal,
    body: JSON,
    exc: httpx2.TransportError,
    started: float,
    echo: list[tuple[str, str]],
) -> Response:
    status, content = unreachable_answer(route.provider, exc)
    journal.error(status, content, body.get("model"), route.provider, elapsed_ms(started))
    return respond(content, status, [("content-type", "application/json"), *echo])


def unreachable_answer(provider: str, exc: httpx2.TransportError) -> tuple[int, bytes]:
    """502 (504 on a timeout) with a body in the provider's error shape."""
    timed_out = isinstance(exc, httpx2.TimeoutException)
    kind = "upstream_timeout" if timed_out else "upstream_unreachable"
    message = f"whyops proxy: {provider} upstream {kind.split('_')[1]}: {type(exc).__name__}"
    shape = anthropic_error if provider == "anthropic" else openai_error
    return (504 if timed_out else 502), dumps(shape(message, kind))


def is_event_stream(answer: httpx2.Response) -> bool:
    return answer.headers.get("content-type", "").startswith("text/event-stream")


def elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


async def passthrough(request: Request, path: str) -> Response:
    """Routes that record nothing (model listings, token counting)."""
    project = await authenticate(request)
    if project is None:
        return unauthorized(request)
    provider = "anthropic" if "anthropic-version" in request.headers else "openai"
    if path.startswith("/v1/messages"):
        provider = "anthropic"
    settings = request.app.state.settings
    if provider == "openai":
        path = path[3:]  # the OpenAI base URL already ends in /v1
    url = upstream.upstream_url(settings, provider, path)
    client = upstream.http_client(request.app)
    headers = upstream.request_headers(
        request.headers, provider, upstream.provider_key(settings, provider)
    )
    echo = context.echo_headers(context.resolve_trace(request.headers, None), None)
    try:
        answer = await client.request(
            request.method,
            url,
            params=request.url.query or None,
            headers=headers,
            content=await request.body() if request.method == "POST" else None,
        )
    except httpx2.TransportError as exc:
        status, content = unreachable_answer(provider, exc)
        return respond(content, status, [("content-type", "application/json"), *echo])
    headers_out = upstream.response_headers(answer.headers.multi_items()) + echo
    return respond(answer.content, answer.status_code, headers_out)
