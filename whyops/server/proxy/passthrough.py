"""Routes forwarded without recording: model listings and Anthropic's token counting.

Each route sends to one fixed upstream path; the only client text that goes into an upstream
path is a model id, and only when it is a single plain segment (:data:`upstream.MODEL_ID`).
The id is read from the raw request path, before any percent-decoding, so ``..``, ``%2e%2e``,
``%2F`` or ``%252e`` can never turn into a different upstream path: they are a 400.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

import httpx2
from starlette.requests import Request
from starlette.responses import Response

from whyops.server import bodies
from whyops.server.auth import authenticate
from whyops.server.proxy import context, errors, upstream
from whyops.server.proxy.endpoints import (
    JSON_TYPE,
    read_body,
    refused,
    respond,
    unreachable_answer,
    upstream_key,
)
from whyops.server.proxy.providers import ANTHROPIC, Provider

MODELS_PREFIX = b"/v1/models/"
BAD_MODEL_ID = (
    "Invalid model id in the path: a model id is one path segment of letters, digits and"
    " . _ : @ + ~ - that starts with a letter or digit"
)


def model_id(request: Request) -> str | None:
    """The model id of ``/v1/models/{id}``, or None unless it is one plain segment."""
    raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    if not raw.startswith(MODELS_PREFIX):  # the prefix itself percent-encoded
        return None
    segment = raw[len(MODELS_PREFIX) :]
    if b"/" in segment:
        return None
    try:
        text = unquote_to_bytes(segment).decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if upstream.MODEL_ID.fullmatch(text) else None


async def list_models(request: Request) -> Response:
    provider = errors.provider_of(request)
    return await forward(request, provider, provider.api_root + "/models")


async def get_model(request: Request) -> Response:
    provider = errors.provider_of(request)
    model = model_id(request)
    path = None if model is None else f"{provider.api_root}/models/{model}"
    return await forward(request, provider, path)


async def count_tokens(request: Request) -> Response:
    return await forward(request, ANTHROPIC, "/v1/messages/count_tokens")


async def forward(request: Request, provider: Provider, path: str | None) -> Response:
    """Send the request to ``path`` (one of :data:`upstream.ALLOWED_PATHS`; None: a path the
    client gave that is not one) and relay the answer; nothing is recorded."""
    if await authenticate(request) is None:
        return errors.unauthorized(request, provider)
    if path is None:
        return errors.refusal(provider, 400, BAD_MODEL_ID, param="model")
    try:
        given = context.read_headers(request.headers, agent_required=False)
        upstream.check_query(request.scope)
        content = (await read_body(request))[0] if request.method == "POST" else None
    except (context.HeaderError, bodies.BodyError, upstream.QueryError) as exc:
        return refused(provider, exc)
    settings = request.app.state.settings
    url = upstream.target(upstream.upstream_url(settings, provider, path), request.scope)
    key = upstream_key(request, provider)
    echo = context.echo_headers(context.resolve_trace(given, None), None)
    try:
        answer = await upstream.http_client(request.app).request(
            request.method,
            url,
            headers=upstream.request_headers(request.headers, provider, key),
            content=content,
        )
    except httpx2.TransportError as exc:
        status, error = unreachable_answer(provider, exc)
        return respond(error, status, [JSON_TYPE, *echo])
    headers = upstream.response_headers(answer.headers.raw) + echo
    return respond(answer.content, answer.status_code, headers)
