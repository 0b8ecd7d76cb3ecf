"""The model simulator as ``whyops serve --simulate`` mounts it: behind the server's rules.

The simulator on its own (``python -m whyops.server.simulator``) takes any key and any body.
Inside the server it answers only callers with one of the server's API keys, refused before
the body is read, and reads at most the server's body limit (413 beyond it, counted while the
body streams in). Refusals are in the error shape of the provider the path speaks for.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from whyops.server import bodies
from whyops.server.auth import authenticate
from whyops.server.proxy import errors


class SimulatorGate:
    """ASGI wrapper: the server's auth and body limit in front of the simulator app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)  # scope["app"] is still the server's app here
        provider = errors.provider_of(request)
        if await authenticate(request) is None:
            await errors.unauthorized(request, provider)(scope, receive, send)
            return
        try:
            body = await bodies.read_body(request, request.app.state.settings.max_body_bytes)
        except bodies.BodyError as exc:
            await errors.refusal(provider, exc.status, exc.message)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands over the already read ``body``, then the real messages
    (a disconnect, for a streamed answer to notice)."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        message: Any = await receive()
        return message

    return replay
