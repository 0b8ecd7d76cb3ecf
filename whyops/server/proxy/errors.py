"""Answers the proxy itself gives on a provider route, in that provider's error shape.

A client reads them through the provider's SDK, which finds a message only where the provider
puts it: OpenAI ``{"error": {"message", "type", "param", "code"}}``, Anthropic ``{"type":
"error", "error": {"type", "message"}}``. The shapes (and the status-to-type tables) are the
simulator's, so the proxy and the simulator answer alike.
"""

from __future__ import annotations

import secrets

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from whyops.server.auth import unauthorized_message
from whyops.server.proxy.providers import ANTHROPIC, OPENAI, Provider
from whyops.server.simulator import errors as shapes


def provider_of(conn: HTTPConnection) -> Provider:
    """The provider a shared route (``/v1/models``) speaks for: Anthropic's SDK always sends
    ``anthropic-version``; everything under ``/v1/messages`` (behind any prefix, such as the
    simulator's ``/simulator``) is Anthropic's."""
    if "anthropic-version" in conn.headers or "/v1/messages" in conn.scope["path"]:
        return ANTHROPIC
    return OPENAI


def error_body(
    provider: Provider,
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
) -> dict[str, object]:
    error = shapes.ApiError(status, message, param=param, code=code)
    return provider.error_body(error, "req_" + secrets.token_hex(12))


def refusal(
    provider: Provider,
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
) -> JSONResponse:
    """A proxy-made error answer, shaped like ``provider``'s."""
    body = error_body(provider, status, message, param=param, code=code)
    return JSONResponse(body, status_code=status)


def unauthorized(conn: HTTPConnection, provider: Provider) -> JSONResponse:
    """The server's 401 (same messages as every other route), in the provider's shape."""
    return refusal(provider, 401, unauthorized_message(conn))
