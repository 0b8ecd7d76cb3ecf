"""The thin Starlette side of the proxy: auth, headers, forwarding, recording.

Everything that understands a provider's JSON lives in the provider modules
(each described by a :class:`~whyops.server.proxy.spec.RouteSpec`); this module only moves bytes
and hands drafts to the recorder.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
import time
from typing import Any

import httpx2
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from whyops.server import bodies, nesting
from whyops.server.auth import authenticate, extract_key
from whyops.server.proxy import context, errors, redact, upstream
from whyops.server.proxy.budgets import refuse_over_budget
from whyops.server.proxy.events import (
    CallInfo,
    Draft,
    build_events,
    new_span_id,
    parse_answer,
)
from whyops.server.proxy.providers import Provider
from whyops.server.proxy.spec import JSON, RouteSpec
from whyops.server.proxy.tap import StreamTap, TappedStreamingResponse
from whyops.server.proxy.upstream import RawHeaders
from whyops.wire.events import EventType

log = logging.getLogger("whyops.server.proxy")
JSON_TYPE = (b"content-type", b"application/json")
REQUEST_RECORD_DELAY = 0.1  # seconds; most answers come sooner, and go in one batch with it


class Journal:
    """Collects the events of one call, numbering them within the call's span.

    ``record`` only notes drafts (with the time they happened); ``flush`` builds
    the events and hands them to the recorder in one batch. A quick whole answer
    costs one recorder call, made after the answer has gone out; a call still
    waiting for its answer after ``REQUEST_RECORD_DELAY`` has its request
    recorded then, so it shows (and is kept) while the model works.
    """

    def __init__(self, request: Request, project_id: str, call: CallInfo, route: RouteSpec) -> None:
        self.recorder = request.app.state.recorder
        self.answers = context.answer_index(request.app)
        self.project_id = project_id
        self.call = call
        self.secret = upstream_key(request, route.provider)
        self.redactor = redact.for_app(request.app)
        self.position = 0
        self.pending: list[tuple[float, list[Draft]]] = []
        self.timer: asyncio.TimerHandle | None = None

    def flush_later(self, delay: float = REQUEST_RECORD_DELAY) -> None:
        self.timer = asyncio.get_running_loop().call_later(delay, self.flush)

    def record(self, drafts: list[Draft]) -> None:
        """Note ``drafts``; the ids later requests may refer to are known at once."""
        self._remember_answers(drafts)
        self.pending.append((time.time(), drafts))

    def record_now(self, drafts: list[Draft]) -> None:
        self.record(drafts)
        self.flush()

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        pending, self.pending = self.pending, []
        events: list[JSON] = []
        for epoch, drafts in pending:
            events += build_events(self.call, drafts, epoch, self.position)
            self.position += len(drafts)
        if not events:
            return
        try:
            self.recorder.record(self.project_id, self.redactor.events(events))
        except Exception:  # recording must never break the proxied call
            log.exception("recording %d proxy events failed", len(events))

    def _remember_answers(self, drafts: list[Draft]) -> None:
        """Remember the ids later requests may refer to: tool calls, Responses answers."""
        for draft in drafts:
            if draft.event_type != EventType.LLM_RESPONSE or not isinstance(draft.content, dict):
                continue
            calls = draft.content.get("toolCalls") or ()
            for answer_id in (*(call.get("id") for call in calls), *draft.refs):
                if isinstance(answer_id, str):
                    self.answers.remember(self.project_id, answer_id, self.call.trace_id)

    def error(
        self, route: RouteSpec, status: int | None, raw: bytes, model: Any, latency: int
    ) -> None:
        self.record([route.error_draft(status, parse_json(raw), model, latency)])


def parse_json(raw: bytes) -> Any:
    try:
        return parse_answer(raw)
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
    if nesting.body_too_deep(raw):  # the recorder would refuse to store the call
        raise bodies.BodyError(
            400, f"Invalid request body: nested deeper than {nesting.MAX_NESTING} levels"
        )
    return raw.removeprefix(codecs.BOM_UTF8), body  # a UTF-8 BOM is read past, not sent on


def respond(
    content: bytes, status: int, headers: RawHeaders, journal: Journal | None = None
) -> Response:
    """The answer with its raw headers; the call's events are recorded once it has gone out."""
    response = RecordingResponse(content, status_code=status)
    response.raw_headers = [*headers, (b"content-length", str(len(content)).encode())]
    response.journal = journal
    return response


class RecordingResponse(Response):
    """A Response that flushes its call's journal after sending, however sending ends."""

    journal: Journal | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self.journal is not None:
                self.journal.flush()


def upstream_key(request: Request, provider: Provider) -> str | None:
    """The key sent upstream: the server's provider key, or with ``--simulate`` the caller's
    own WhyOps key (the server's simulator is behind the same auth as every route)."""
    settings = request.app.state.settings
    if settings.simulate:
        return extract_key(request)
    return upstream.provider_key(settings, provider)


Refused = context.HeaderError | bodies.BodyError | upstream.QueryError


def refused(provider: Provider, exc: Refused) -> Response:
    """A bad header, query or body, answered in the provider's error shape."""
    if isinstance(exc, bodies.BodyError):
        return errors.refusal(provider, exc.status, exc.message)
    return errors.refusal(provider, 400, str(exc))


async def model_call(request: Request, route: RouteSpec) -> Response:
    project = await authenticate(request)
    if project is None:
        return errors.unauthorized(request, route.provider)
    try:
        given = read_call_headers(request)
        upstream.check_query(request.scope)
        raw, body = await read_body(request)
    except (context.HeaderError, bodies.BodyError, upstream.QueryError) as exc:
        return refused(route.provider, exc)
    spent = await refuse_over_budget(request, route.provider, str(project.id), given.agent_name)
    if spent is not None:
        return spent
    answers = context.answer_index(request.app)
    referenced = await answers.find(str(project.id), route.answer_refs(body))
    ids = context.resolve_trace(given, route.find_trace_id(body), referenced)
    stripped = route.strip_signatures(body)
    sent = route.upstream_body(body)
    payload = dumps(sent) if stripped or sent is not body else raw
    journal = Journal(request, str(project.id), call_info(route, given, ids), route)
    journal.record([route.request_draft(body)])
    journal.flush_later()
    sign = context.signature_for(given, ids)
    echo = context.echo_headers(ids, journal.call.span_id)
    try:
        return await forward(request, route, body, payload, journal, sign, echo)
    except BaseException:  # cancelled or failed before an answer: keep what was accepted
        journal.flush()
        raise


def read_call_headers(request: Request) -> context.ProxyHeaders:
    settings = request.app.state.settings
    return context.read_headers(
        request.headers,
        agent_required=settings.require_agent_name,
        default_agent=settings.default_agent,
        sign=settings.signature,
    )


def call_info(route: RouteSpec, given: context.ProxyHeaders, ids: context.TraceIds) -> CallInfo:
    return CallInfo(
        trace_id=ids.trace_id,
        agent_name=given.agent_name,
        agent_named=given.agent_named,
        span_id=new_span_id(),
        span_name=route.span_name,
        span_kind=route.span_kind,
        thread_id=ids.thread_id,
        parent_span_id=given.parent_span_id,
        external_user_id=given.external_user_id,
    )


async def forward(
    request: Request,
    route: RouteSpec,
    body: JSON,
    payload: bytes,
    journal: Journal,
    sign: str | None,
    echo: RawHeaders,
) -> Response:
    started = time.perf_counter()
    client = upstream.http_client(request.app)
    outgoing = upstream_request(client, request, route, payload, journal.secret)
    try:
        answer = await client.send(outgoing, stream=True)
    except httpx2.TransportError as exc:
        return unreachable(route, journal, body, exc, started, echo)
    headers = upstream.response_headers(answer.headers.raw) + echo
    if answer.status_code < 400 and is_event_stream(answer):
        state = route.stream_state(body, sign)
        # the request is recorded once the first bytes are out, so it shows while the answer
        # streams; the rest when the stream ends
        tap = StreamTap(answer, state, started, journal.record_now, journal.flush, route.provider)
        return TappedStreamingResponse(tap, answer.status_code, headers)
    try:
        content = await answer.aread()
    except httpx2.TransportError as exc:
        return unreachable(route, journal, body, exc, started, echo)
    finally:
        await answer.aclose()
    latency = elapsed_ms(started)
    if answer.status_code >= 400:
        journal.error(route, answer.status_code, content, body.get("model"), latency)
        return respond(content, answer.status_code, headers, journal)
    return whole_answer(route, body, content, answer.status_code, headers, journal, sign, latency)


def upstream_request(
    client: httpx2.AsyncClient, request: Request, route: RouteSpec, payload: bytes, key: str | None
) -> httpx2.Request:
    settings = request.app.state.settings
    url = upstream.upstream_url(settings, route.provider, route.upstream_path)
    return client.build_request(
        "POST",
        upstream.target(url, request.scope),
        content=payload,
        headers=upstream.request_headers(request.headers, route.provider, key, settings.simulate),
    )


def whole_answer(
    route: RouteSpec,
    body: JSON,
    content: bytes,
    status: int,
    headers: RawHeaders,
    journal: Journal,
    sign: str | None,
    latency: int,
) -> Response:
    parsed = parse_json(content)
    if not isinstance(parsed, dict):
        journal.error(route, status, content, body.get("model"), latency)
        return respond(content, status, headers, journal)
    drafts = route.response_drafts(body, parsed, latency)
    if sign and route.inject_signature(body, parsed, sign):
        try:
            content = dumps(parsed)
        except UnicodeEncodeError:  # a lone surrogate upstream: leave the answer as it came
            pass
    journal.record(drafts)
    return respond(content, status, headers, journal)


def unreachable(
    route: RouteSpec,
    journal: Journal,
    body: JSON,
    exc: httpx2.TransportError,
    started: float,
    echo: RawHeaders,
) -> Response:
    status, content = unreachable_answer(route.provider, exc)
    journal.error(route, status, content, body.get("model"), elapsed_ms(started))
    return respond(content, status, [JSON_TYPE, *echo], journal)


def unreachable_answer(provider: Provider, exc: httpx2.TransportError) -> tuple[int, bytes]:
    """502 (504 on a timeout) with a body in the provider's error shape."""
    timed_out = isinstance(exc, httpx2.TimeoutException)
    kind = "upstream_timeout" if timed_out else "upstream_unreachable"
    message = f"whyops proxy: {provider.name} upstream {kind.split('_')[1]}: {type(exc).__name__}"
    status = 504 if timed_out else 502
    return status, dumps(errors.error_body(provider, status, message, code=kind))


def is_event_stream(answer: httpx2.Response) -> bool:
    return answer.headers.get("content-type", "").startswith("text/event-stream")


def elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
