"""The upstream side: one pooled HTTP client per app, header policy, URLs.

Headers sent upstream are an allowlist of provider-relevant ones; the
client's WhyOps key and the WhyOps routing headers never leave the proxy, and
the configured provider key is added here and nowhere else (it is never put
into an event or a log line).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx2
from starlette.datastructures import Headers

from whyops._version import __version__

TIMEOUT = httpx2.Timeout(connect=10.0, read=600.0, write=60.0, pool=30.0)
LIMITS = httpx2.Limits(max_connections=256, max_keepalive_connections=64, keepalive_expiry=30.0)

FORWARDED_PREFIXES = ("x-stainless-", "anthropic-", "openai-")
FORWARDED = frozenset({"accept", "idempotency-key", "user-agent", "x-request-id"})
NOT_RETURNED = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "server",
        "date",
        "set-cookie",
        "proxy-authenticate",
        "upgrade",
        "trailer",
        "te",
    }
)
ANTHROPIC_VERSION = "2023-06-01"


def http_client(app: Any) -> httpx2.AsyncClient:
    """The app's shared upstream client, created on first use (inside the server's loop)."""
    client: httpx2.AsyncClient | None = getattr(app.state, "proxy_http_client", None)
    if client is None or client.is_closed:
        settings = getattr(app.state, "settings", None)
        timeout = getattr(settings, "proxy_timeout", None) or TIMEOUT
        client = httpx2.AsyncClient(timeout=timeout, limits=LIMITS, trust_env=False)
        app.state.proxy_http_client = client
    return client


async def aclose(app: Any) -> None:
    """Close the shared client; call from the app's shutdown."""
    client = getattr(app.state, "proxy_http_client", None)
    if client is not None:
        app.state.proxy_http_client = None
        await client.aclose()


def upstream_url(settings: Any, provider: str, path: str) -> str:
    """``path`` (``/chat/completions``, ``/v1/messages``) under the provider's base URL."""
    if provider == "anthropic":
        base = str(getattr(settings, "anthropic_base_url", None) or "https://api.anthropic.com")
        base = base.rstrip("/")
        return base + (path[3:] if base.endswith("/v1") and path.startswith("/v1/") else path)
    base = str(getattr(settings, "openai_base_url", None) or "https://api.openai.com/v1")
    return base.rstrip("/") + path


def provider_key(settings: Any, provider: str) -> str | None:
    key = getattr(settings, f"{provider}_api_key", None)
    return str(key) if key else None


def request_headers(
    incoming: Headers, provider: str, key: str | None, simulate: bool = False
) -> dict[str, str]:
    """Headers for the upstream request: forwarded provider headers plus our auth.

    With the simulator as upstream, its ``x-sim-*`` knobs (delays) pass too.
    """
    prefixes = (*FORWARDED_PREFIXES, "x-sim-") if simulate else FORWARDED_PREFIXES
    headers = {
        name: value
        for name, value in incoming.items()
        if name in FORWARDED or name.startswith(prefixes)
    }
    headers["content-type"] = "application/json"
    headers["accept-encoding"] = "identity"
    headers["user-agent"] = f"{incoming.get('user-agent', '')} whyops-proxy/{__version__}".strip()
    if provider == "anthropic":
        headers.setdefault("anthropic-version", ANTHROPIC_VERSION)
        if key:
            headers["x-api-key"] = key
    elif key:
        headers["authorization"] = f"Bearer {key}"
    return headers


def response_headers(upstream: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Upstream response headers the client gets back (retry hints, request ids, limits)."""
    return [(name, value) for name, value in upstream if name.lower() not in NOT_RETURNED]
