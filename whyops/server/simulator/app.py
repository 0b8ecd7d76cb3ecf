"""The Starlette app: thin endpoints around the pure payload builders."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from whyops.server import bodies

from . import (
    anthropic_messages,
    catalog,
    errors,
    openai_chat,
    openai_embeddings,
    openai_responses,
    sse,
)

Handler = Callable[[dict[str, Any]], "dict[str, Any] | Iterator[bytes]"]
DELAY_HEADER = "x-sim-delay-ms"
CHUNK_DELAY_HEADER = "x-sim-chunk-delay-ms"
MAX_DELAY_MS = 30_000


def create_app() -> Starlette:
    """The simulator; mount it anywhere (the server mounts it at `/simulator`)."""
    routes = [
        Route(
            "/v1/chat/completions", _endpoint(errors.OPENAI, openai_chat.handle), methods=["POST"]
        ),
        Route("/v1/responses", _endpoint(errors.OPENAI, openai_responses.handle), methods=["POST"]),
        Route(
            "/v1/embeddings", _endpoint(errors.OPENAI, openai_embeddings.handle), methods=["POST"]
        ),
        Route(
            "/v1/messages", _endpoint(errors.ANTHROPIC, anthropic_messages.handle), methods=["POST"]
        ),
        Route(
            "/v1/messages/count_tokens",
            _endpoint(errors.ANTHROPIC, anthropic_messages.count_tokens),
            methods=["POST"],
        ),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})


def provider_of(request: Request) -> str:
    """Both SDKs share `/v1/models`; only Anthropic's sends `anthropic-version`."""
    is_anthropic = "anthropic-version" in request.headers or request.url.path.endswith("/messages")
    return errors.ANTHROPIC if is_anthropic else errors.OPENAI


def request_id(raw: bytes) -> str:
    return "req_" + hashlib.sha256(raw).hexdigest()[:24]


def api_key(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return (
        request.headers.get("x-api-key", "").strip() or request.headers.get("api-key", "").strip()
    )


def _delay_seconds(request: Request, header: str) -> float:
    try:
        milliseconds = float(request.headers.get(header, "0"))
    except ValueError:
        return 0.0
    return min(max(milliseconds, 0.0), MAX_DELAY_MS) / 1000


async def _read_body(request: Request) -> dict[str, Any]:
    try:  # the server's one strict reading: UTF-8 only, no lone surrogates, no NaN
        body = bodies.parse_json(await request.body())
    except bodies.BodyError as error:
        raise errors.ApiError(
            400, f"Could not parse the JSON body of your request: {error.message}"
        ) from None
    if not isinstance(body, dict):
        raise errors.ApiError(400, "The request body must be a JSON object.")
    return body


def error_response(provider: str, error: errors.ApiError, rid: str) -> JSONResponse:
    return JSONResponse(
        errors.error_body(provider, error, rid),
        status_code=error.status,
        headers=errors.error_headers(provider, error, rid),
    )


def _endpoint(provider: str, handler: Handler) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        rid = request_id(raw)
        await asyncio.sleep(_delay_seconds(request, DELAY_HEADER))
        try:
            if not api_key(request):
                raise errors.missing_key(provider)
            result = handler(await _read_body(request))
        except errors.ApiError as error:
            return error_response(provider, error, rid)
        header = "request-id" if provider == errors.ANTHROPIC else "x-request-id"
        if isinstance(result, dict):
            return JSONResponse(result, headers={header: rid})
        delay = _delay_seconds(request, CHUNK_DELAY_HEADER)
        return sse.sse_response(result, chunk_delay=delay, headers={header: rid})

    return endpoint


async def list_models(request: Request) -> Response:
    provider = provider_of(request)
    if not api_key(request):
        return error_response(provider, errors.missing_key(provider), request_id(b""))
    return JSONResponse(catalog.model_list(provider))


async def get_model(request: Request) -> Response:
    provider = provider_of(request)
    model_id = request.path_params["model_id"]
    if not api_key(request):
        return error_response(provider, errors.missing_key(provider), request_id(b""))
    try:
        return JSONResponse(catalog.model_info(provider, model_id))
    except errors.ApiError as error:
        return error_response(provider, error, request_id(model_id.encode()))


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = f"Unknown route {request.method} {request.url.path} (simulated)."
    if status == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
    return error_response(provider_of(request), errors.ApiError(status, message), request_id(b""))
