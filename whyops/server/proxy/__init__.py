"""The LLM proxy of ``whyops serve``: OpenAI and Anthropic routes that record events.

``routes()`` gives the Starlette routes the server mounts; ``aclose(app)``
closes the shared upstream client at shutdown. See docs/proxy.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from whyops.server.proxy.anthropic import MESSAGES
from whyops.server.proxy.endpoints import model_call
from whyops.server.proxy.openai_chat import CHAT
from whyops.server.proxy.openai_embeddings import EMBEDDINGS
from whyops.server.proxy.openai_responses import RESPONSES
from whyops.server.proxy.passthrough import count_tokens, get_model, list_models
from whyops.server.proxy.spec import RouteSpec
from whyops.server.proxy.upstream import aclose

__all__ = ["aclose", "routes"]

Endpoint = Callable[[Request], Awaitable[Response]]
RECORDED_ROUTES = (CHAT, RESPONSES, EMBEDDINGS, MESSAGES)


def _model_endpoint(route: RouteSpec) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        return await model_call(request, route)

    endpoint.__name__ = route.span_name.replace(".", "_")
    return endpoint


def routes() -> list[Route]:
    """The proxy routes, all under ``/v1``."""
    return [
        *(Route(r.path, _model_endpoint(r), methods=["POST"]) for r in RECORDED_ROUTES),
        Route("/v1/models", list_models, methods=["GET"]),
        # any path below, so that a model id of several segments is a 400 in the provider's shape
        Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
    ]
