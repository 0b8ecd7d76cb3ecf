"""POSTing one OTLP/HTTP request and what its answer means for the forwarder.

OTLP/HTTP says which answers a client retries (429, 502, 503, 504, honouring ``Retry-After``).
The forwarder also retries what says the endpoint is misconfigured or away rather than the
request wrong (401, 403, 404, 405, 407, 408, any 5xx, no connection): dropping there would throw
away everything stored until someone notices, while waiting loses nothing. A request the
endpoint refuses for what it holds (400, 413 for a single span, 415, 422 …) is dropped,
counted and logged: sending it again cannot succeed and would stop everything behind it.
"""

from __future__ import annotations

import gzip
import random
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from whyops._version import __version__
from whyops.wire.headers import configured_header
from whyops.wire.retry import retry_after_seconds

# Statuses that say "not now" or "not here", never "not this": retried.
RETRIED = frozenset({401, 403, 404, 405, 407, 408, 429})
TOO_LARGE = 413
GZIP_ABOVE = 1024
TIMEOUT_S = 30.0
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
RETRY_AFTER_CAP_S = 300.0  # a longer Retry-After is taken as this (the endpoint may come back)


@attrs.frozen
class Answer:
    """``sent``, ``retry`` (after ``delay`` s, or backoff when None), ``too_large`` or ``drop``."""

    action: str
    message: str = ""
    delay: float | None = None


def parse_headers(pairs: Sequence[str]) -> dict[str, str]:
    """``--otlp-export-header name=value`` pairs; values percent-decoded, as in
    ``OTEL_EXPORTER_OTLP_HEADERS`` (the one rule: ``whyops.wire.headers``)."""
    return dict(configured_header(pair, "--otlp-export-header") for pair in pairs)


def check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"--otlp-export {url!r}: give the endpoint's http(s) URL,"
            " e.g. http://127.0.0.1:4318/v1/traces"
        )
    return url


def backoff_s(attempt: int, hint: float | None) -> float:
    """Exponential with jitter, and never sooner than the endpoint's ``Retry-After`` (up to its
    cap): the retries are unbounded, so an endpoint answering ``Retry-After: 0`` to every
    request must not be sent the same request in a tight loop."""
    backoff = random.uniform(BACKOFF_BASE_S / 2, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt))
    return backoff if hint is None else min(max(hint, backoff), RETRY_AFTER_CAP_S)


def classify(status: int, headers: Mapping[str, str], body: bytes) -> Answer:
    if 200 <= status < 300:
        return Answer("sent")
    text = f"HTTP {status}: {body[:300].decode('utf-8', 'replace')}"
    if status == TOO_LARGE:
        return Answer("too_large", text)
    if 400 <= status < 500 and status not in RETRIED:
        return Answer("drop", text)
    # 5xx, the 4xx above, and what an OTLP endpoint never answers (a redirect: the URL is
    # wrong; redirects are not followed, a POST body must not go elsewhere unasked).
    return Answer("retry", text, retry_after_seconds(headers.get("retry-after")))


class Sender:
    """One pooled client to the endpoint, used by the forwarder's thread only."""

    def __init__(self, url: str, headers: Mapping[str, str]) -> None:
        import httpx2  # the server's dependency; imported with the forwarder

        self.url = url
        self._headers = {
            "Content-Type": "application/x-protobuf",
            "User-Agent": f"whyops-server/{__version__}",
            **headers,
        }
        self._http: Any = httpx2.Client(timeout=TIMEOUT_S)
        self._transport_error: type[Exception] = httpx2.TransportError

    def post(self, body: bytes) -> Answer:
        headers = dict(self._headers)
        if len(body) > GZIP_ABOVE:
            body = gzip.compress(body, compresslevel=5, mtime=0)
            headers["Content-Encoding"] = "gzip"
        try:
            response = self._http.post(self.url, content=body, headers=headers)
        except self._transport_error as exc:
            return Answer("retry", f"{type(exc).__name__}: {exc}")
        return classify(response.status_code, response.headers, response.content)

    def close(self) -> None:
        self._http.close()
