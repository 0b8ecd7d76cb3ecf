"""Response headers every answer carries, and request framing refused before any route runs.

A pure ASGI middleware (not Starlette's ``BaseHTTPMiddleware``): it only touches the
``http.response.start`` message, so streamed answers (the proxy's SSE) pass through untouched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The web page loads its own scripts, styles and API only; nothing may frame it.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("ascii")),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)
_AMBIGUOUS_LENGTH = (
    b'{"error":"Bad Request: Content-Length and Transfer-Encoding together; send one of them"}'
)


def _ambiguous_framing(scope: Scope) -> bool:
    """Both ``Content-Length`` and ``Transfer-Encoding``: a front proxy may read the body one
    way and this server the other (request smuggling, RFC 9112 section 6.3), so neither wins."""
    for name, _ in scope["headers"]:
        if name == b"transfer-encoding":  # rare: only then look for the other one
            return any(other == b"content-length" for other, _ in scope["headers"])
    return False


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _ambiguous_framing(scope):
            await _refuse_framing(send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":  # ours replace any sent upstream
                headers = [h for h in message.get("headers", ()) if h[0].lower() not in _NAMES]
                message = {**message, "headers": [*headers, *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _refuse_framing(send: Send) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(_AMBIGUOUS_LENGTH)).encode()),
        (b"connection", b"close"),  # the rest of the stream cannot be trusted
        *SECURITY_HEADERS,
    ]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": _AMBIGUOUS_LENGTH})
