"""The two upstream providers as data: where their API lives, how they authenticate, how they fail.

Everything the proxy does differently for OpenAI and Anthropic outside a route's JSON is a
field here, so no other module compares provider names. The error shapes are the simulator's
(one builder per provider), so the proxy and the simulator answer alike.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from whyops.server.simulator import errors as shapes
from whyops.server.simulator import sse


def _openai_stream_error(message: str) -> bytes:
    """OpenAI (chat and Responses): a ``data:`` chunk holding ``{"error": {...}}``."""
    return sse.data_frame(shapes.openai_stream_error(message))


def _anthropic_stream_error(message: str) -> bytes:
    """Anthropic: an ``event: error`` frame."""
    return sse.event_frame(shapes.anthropic_stream_error(message, "api_error"))


@attrs.frozen(slots=True)
class Provider:
    """One upstream API.

    ``name``: ``metadata.provider`` of its events, and the stem of its settings
    (``{name}_api_key``, ``{name}_base_url``). ``api_root``: what its paths start with
    below the base URL (Anthropic's base URL has no ``/v1``; OpenAI's ends in it).
    ``key_header``/``key_prefix``: how the server's key goes upstream. ``default_headers``:
    sent when the client did not send them. ``stream_error``: the frame the provider sends
    when a stream fails after it started.
    """

    name: str
    default_base_url: str
    api_root: str
    key_header: bytes
    key_prefix: bytes
    stream_error: Callable[[str], bytes]
    default_headers: tuple[tuple[bytes, bytes], ...] = ()

    def error_body(self, error: shapes.ApiError, request_id: str) -> dict[str, object]:
        return shapes.error_body(self.name, error, request_id)


OPENAI = Provider(
    name=shapes.OPENAI,
    default_base_url="https://api.openai.com/v1",
    api_root="",
    key_header=b"authorization",
    key_prefix=b"Bearer ",
    stream_error=_openai_stream_error,
)
ANTHROPIC = Provider(
    name=shapes.ANTHROPIC,
    default_base_url="https://api.anthropic.com",
    api_root="/v1",
    key_header=b"x-api-key",
    key_prefix=b"",
    stream_error=_anthropic_stream_error,
    default_headers=((b"anthropic-version", b"2023-06-01"),),
)
PROVIDERS = (OPENAI, ANTHROPIC)
