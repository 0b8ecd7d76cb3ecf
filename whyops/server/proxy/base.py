"""What a proxied API route provides to the shared endpoint machinery.

Each provider module implements :class:`ApiRoute` with pure functions over
parsed JSON; I/O, timing and recording live in ``endpoints`` and ``tap``.
"""

from __future__ import annotations

from typing import Any, Protocol

from whyops.server.proxy.events import Draft
from whyops.server.proxy.sse import Frame

JSON = dict[str, Any]


class StreamState(Protocol):
    """Rebuilds one streamed answer frame by frame (logfire-style ``record_chunk``).

    ``rewrites``: whether the bytes returned by ``record_frame`` replace the raw
    stream (the state injects or holds frames) or the raw bytes pass untouched.
    """

    rewrites: bool

    def record_frame(self, frame: Frame) -> bytes: ...

    def drain(self) -> bytes:
        """Frames still held when the upstream stream ends."""
        ...

    def finish(self, latency_ms: int, aborted: str | None) -> list[Draft]: ...


class ApiRoute(Protocol):
    provider: str
    span_name: str
    span_kind: str
    upstream_path: str

    def find_trace_id(self, body: JSON) -> str | None: ...

    def answer_refs(self, body: JSON) -> list[str]:
        """Ids of earlier answers or their tool calls this request refers to, latest first."""
        ...

    def strip_signatures(self, body: JSON) -> bool:
        """Remove signatures in place; True when anything changed."""
        ...

    def upstream_body(self, body: JSON) -> JSON:
        """The body to send upstream: ``body`` itself, or a changed copy."""
        ...

    def request_draft(self, body: JSON) -> Draft: ...

    def response_drafts(self, body: JSON, answer: Any, latency_ms: int) -> list[Draft]: ...

    def inject_signature(self, body: JSON, answer: Any, signature: str) -> bool:
        """Add ``signature`` to a whole answer in place; True when it did."""
        ...

    def stream_state(self, body: JSON, signature: str | None) -> StreamState: ...
