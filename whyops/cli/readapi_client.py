"""The HTTP side of ``whyops traces``, ``show`` and ``demo``: GETs from a server's read API.

Every failure (transport, HTTP status, missing key) becomes a :class:`CommandError`, one clear
line on stderr rather than a traceback. Answers are made safe for a terminal by
:func:`printable` unless the caller asks for the raw JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

DEFAULT_BASE_URL = "http://127.0.0.1:8787"
TIMEOUT_SECONDS = 10.0


class CommandError(Exception):
    """A problem worth one clear line on stderr, not a traceback."""


class NotFound(CommandError):
    """The server answered 404."""


def quote_segment(segment: str) -> str:
    """``segment`` escaped to sit between two slashes of a URL path."""
    return quote(segment, safe="")


class ReadClient:
    """GETs JSON from the read API and turns transport and HTTP failures into CommandError."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    def get(self, path: str, params: Mapping[str, Any], *, raw: bool = False) -> Any:
        """The JSON answer; strings made safe for a terminal unless ``raw``."""
        data = self.get_json(path, params)
        return data if raw else printable(data)

    def get_json(self, path: str, params: Mapping[str, Any]) -> Any:
        import httpx2

        query = {k: v for k, v in params.items() if v is not None}
        headers = {"Authorization": f"Bearer {self.api_key}"}
        try:
            response = httpx2.get(
                self.base_url + path, params=query, headers=headers, timeout=TIMEOUT_SECONDS
            )
        except httpx2.HTTPError as exc:
            raise CommandError(
                f"cannot reach {self.base_url} ({exc}); is `whyops serve` running?"
            ) from exc
        if response.status_code == 401:
            raise CommandError(f"{self.base_url} rejected the API key")
        if response.status_code == 404:
            raise NotFound(f"not found: {path}")
        if response.status_code >= 400:
            raise CommandError(f"{path}: HTTP {response.status_code}: {response.text[:200]}")
        return response.json()

    def get_optional(self, path: str, params: Mapping[str, Any], *, raw: bool = False) -> Any:
        """The JSON answer, or None when the server has nothing there (404)."""
        try:
            return self.get(path, params, raw=raw)
        except NotFound:
            return None

    def trace_spans(self, trace_id: str, *, raw: bool = False) -> Any:
        """``GET /api/traces/{id}/spans``, or None when the server has no such trace."""
        return self.get_optional(f"/api/traces/{quote_segment(trace_id)}/spans", {}, raw=raw)


# A server stores ids, names and outputs as sent: their control characters must not reach the
# terminal as escapes. They print as \xNN; newlines and tabs stay.
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if c not in (9, 10)}


def printable(value: Any) -> Any:
    """``value`` (parsed JSON) with control characters in every string made visible."""
    if isinstance(value, str):
        return value.translate(_CONTROL)
    if isinstance(value, list):
        return [printable(item) for item in value]
    if isinstance(value, dict):
        return {printable(key): printable(item) for key, item in value.items()}
    return value
