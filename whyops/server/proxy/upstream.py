"""The upstream side: one pooled HTTP client per app, header policy, URLs.

Headers sent upstream are an allowlist of provider-relevant ones; the
client's WhyOps key and the WhyOps routing headers never leave the proxy, and
the configured provider key is added here and nowhere else (it is never put
into an event or a log line).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import httpx2
from starlette.datastructures import Headers

from whyops._version import __version__
from whyops.server.proxy.providers import Provider

TIMEOUT = httpx2.Timeout(connect=10.0, read=600.0, write=60.0, pool=30.0)
LIMITS = httpx2.Limits(max_connections=256, max_keepalive_connections=64, keepalive_expiry=30.0)

RawHeaders = list[tuple[bytes, bytes]]

# Header names as ASGI servers hand them over: lower case bytes.
FORWARDED_PREFIXES = (b"x-stainless-", b"anthropic-", b"openai-")
SIMULATOR_PREFIXES = (*FORWARDED_PREFIXES, b"x-sim-")
FORWARDED = frozenset({b"accept", b"idempotency-key", b"x-request-id"})
NOT_RETURNED = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"content-length",
        b"content-encoding",
        b"server",
        b"date",
        b"set-cookie",
        b"proxy-authenticate",
        b"upgrade",
        b"trailer",
        b"te",
    }
)
# A model id in an upstream path: one segment that no URL parser reads as more than a name
# (no "/", "\\", "%", and never "." or "..": it starts with a letter or digit).
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+~-]{0,255}")
# Every path the proxy sends upstream; nothing else ever leaves with the server's provider key.
ALLOWED_PATHS = re.compile(
    r"(?:/v1)?/(?:chat/completions|responses|embeddings|messages|messages/count_tokens"
    rf"|models|models/{MODEL_ID.pattern})"
)
USER_AGENT = f"whyops-proxy/{__version__}".encode()


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


class PathNotAllowed(ValueError):
    """An upstream path outside :data:`ALLOWED_PATHS` (callers check their input first)."""


def upstream_url(settings: Any, provider: Provider, path: str) -> str:
    """``path`` (``/chat/completions``, ``/v1/messages``) under the provider's base URL; a
    base URL that already ends in ``/v1`` does not get it twice."""
    if not ALLOWED_PATHS.fullmatch(path):
        raise PathNotAllowed(f"not an upstream route of the proxy: {path!r}")
    configured = getattr(settings, f"{provider.name}_base_url", None)
    base = str(configured or provider.default_base_url).rstrip("/")
    return base + (path[3:] if base.endswith("/v1") and path.startswith("/v1/") else path)


@lru_cache(maxsize=64)
def _parsed(url: str) -> httpx2.URL:
    return httpx2.URL(url)


class QueryError(ValueError):
    """A query string that cannot be passed on as it is (``#``, for one)."""


def target(url: str, scope: Any) -> httpx2.URL:
    """``url`` (parsed once: the few upstream URLs repeat) with the client's query string
    passed on byte for byte."""
    query: bytes = scope.get("query_string", b"")
    return _parsed(url).copy_with(query=query) if query else _parsed(url)


def check_query(scope: Any) -> None:
    """Raise :class:`QueryError` unless :func:`target` can pass the query string on."""
    if scope.get("query_string"):
        try:
            target("http://upstream/", scope)
        # UnicodeDecodeError: bytes above 0x7F, which h11 refuses but other ASGI servers pass
        except (httpx2.InvalidURL, UnicodeDecodeError) as exc:
            raise QueryError("Invalid query string: it cannot be passed on as it is") from exc


def provider_key(settings: Any, provider: Provider) -> str | None:
    key = getattr(settings, f"{provider.name}_api_key", None)
    return str(key) if key else None


def request_headers(
    incoming: Headers, provider: Provider, key: str | None, simulate: bool = False
) -> RawHeaders:
    """Headers for the upstream request: forwarded provider headers plus our auth.

    Raw bytes in and out: values pass exactly as the client sent them (UTF-8
    included), with no decoding and re-encoding per request. With the simulator
    as upstream, its ``x-sim-*`` knobs (delays) pass too.
    """
    prefixes = SIMULATOR_PREFIXES if simulate else FORWARDED_PREFIXES
    headers: RawHeaders = []
    agent = b""
    for name, value in incoming.raw:
        if name == b"user-agent":
            agent = value + b" "
        elif name in FORWARDED or name.startswith(prefixes):
            headers.append((name, value))
    headers += [
        (b"content-type", b"application/json"),
        (b"accept-encoding", b"identity"),
        (b"user-agent", agent + USER_AGENT),
    ]
    headers += [(n, v) for n, v in provider.default_headers if n.decode() not in incoming]
    if key:
        headers.append((provider.key_header, provider.key_prefix + key.encode()))
    return headers


def response_headers(upstream: Iterable[tuple[bytes, bytes]]) -> RawHeaders:
    """Upstream response headers the client gets back (retry hints, request ids, limits)."""
    return [
        (name, value)
        for name, value in ((name.lower(), value) for name, value in upstream)
        if name not in NOT_RETURNED
    ]
