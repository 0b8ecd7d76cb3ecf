"""OTLP/HTTP trace intake: ``POST /v1/traces`` and ``POST /api/otlp/v1/traces``.

What an OpenTelemetry exporter pointed at ``whyops serve`` talks to. Bodies are
``ExportTraceServiceRequest`` as protobuf or JSON, gzip or not; spans become WhyOps events
(``whyops.otlp.inbound``) stored through the same writer, limits, idempotency keys and
tenancy as ``/api/events/ingest``, answered only once committed. Answers follow the OTLP/HTTP
specification: 200 with an ``ExportTraceServiceResponse`` (``partial_success`` naming the
rejected spans), errors as a ``google.rpc.Status``, both in the request's encoding;
429 and 503 carry ``Retry-After`` and are retried by exporters, 400/401/413/415 are not.
"""

from __future__ import annotations

import asyncio
from functools import partial

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from whyops.server.auth import authenticate, unauthorized_message
from whyops.server.backpressure import (
    BUSY_RETRY_AFTER_S,
    MAX_QUEUED_WRITES,
    SHUTDOWN_RETRY_AFTER_S,
    STORAGE_RETRY_AFTER_S,
)
from whyops.server.bodies import BodyError, read_body
from whyops.server.otlp_intake import Failed, OtlpIntake
from whyops.server.settings import ServerSettings
from whyops.server.store import StorageUnavailableError, Store, WriterClosedError
from whyops.server.timeutil import now_us

PATHS = ("/v1/traces", "/api/otlp/v1/traces")
# google.rpc.Status code (a gRPC code) of each HTTP status answered.
GRPC_CODES = {
    400: 3,  # INVALID_ARGUMENT
    401: 16,  # UNAUTHENTICATED
    413: 8,  # RESOURCE_EXHAUSTED
    415: 3,  # INVALID_ARGUMENT
    429: 8,  # RESOURCE_EXHAUSTED
    503: 14,  # UNAVAILABLE
}
_SUPPORTED = "application/x-protobuf or application/json"


def status_response(
    media: str, status: int, message: str, retry_after_s: int | None = None
) -> Response:
    """An error answer: a ``google.rpc.Status`` in ``media``, Retry-After when retryable."""
    from whyops.otlp.proto import encode_status

    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    body = encode_status(media, GRPC_CODES.get(status, 2), message)  # 2: UNKNOWN
    return Response(body, status, headers=headers, media_type=media)


def _answer_media(request: Request) -> tuple[str | None, str]:
    """(the body's media type or None when unsupported, the media type to answer in)."""
    from whyops.otlp.proto import MEDIA_JSON, media_type_of

    media = media_type_of(request.headers.get("content-type"))
    return media, media or MEDIA_JSON


def _intake(request: Request, raw: bytes, media: str) -> OtlpIntake:
    settings: ServerSettings = request.app.state.settings
    return OtlpIntake(
        raw=raw,
        encoding=request.headers.get("content-encoding"),
        media=media,
        received_us=now_us(),
        max_body_bytes=settings.max_body_bytes,
        max_batch_events=settings.max_batch_events,
    )


async def export_traces(request: Request) -> Response:
    """Authenticate, check the media type and the writer's backlog, read, then store."""
    media, answer = _answer_media(request)
    project = await authenticate(request)
    if project is None:
        return status_response(answer, 401, unauthorized_message(request))
    if media is None:
        shown = request.headers.get("content-type") or "none"
        return status_response(answer, 415, f"Unsupported Content-Type: {shown}; use {_SUPPORTED}")
    store: Store = request.app.state.store
    if store.queued_writes > MAX_QUEUED_WRITES:
        message = "Too Many Requests: the server is behind on writes; retry later"
        return status_response(media, 429, message, BUSY_RETRY_AFTER_S)
    try:
        raw = await read_body(request, request.app.state.settings.max_body_bytes)
    except BodyError as exc:
        return status_response(media, exc.status, exc.message)
    return await _store(store, _intake(request, raw, media), project.id)


async def _store(store: Store, intake: OtlpIntake, project_id: str) -> Response:
    """Run the export as a writer job; answer once it is committed (or why it was not)."""
    from whyops.otlp.proto import encode_response

    media = intake.media
    try:
        future = store.submit(partial(intake.run, project_id=project_id))
    except WriterClosedError:
        message = "Service Unavailable: the server is shutting down; nothing was stored"
        return status_response(media, 503, message, SHUTDOWN_RETRY_AFTER_S)
    try:
        outcome = await asyncio.wrap_future(future)
    except StorageUnavailableError as exc:
        message = f"Service Unavailable: the store cannot commit ({exc.reason}); nothing was stored"
        return status_response(media, 503, message, STORAGE_RETRY_AFTER_S)
    if isinstance(outcome, Failed):
        return status_response(media, outcome.status, outcome.message)
    body = encode_response(media, outcome.rejected, outcome.message)
    return Response(body, 200, media_type=media)


def routes() -> list[Route]:
    return [Route(path, export_traces, methods=["POST"]) for path in PATHS]
