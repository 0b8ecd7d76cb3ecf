"""Relay an upstream SSE stream to the client while a StreamState reads along.

Bytes go to the client as they arrive (frame by frame when the state rewrites
the stream, chunk by chunk otherwise), never a partial frame: an unfinished
frame waits for the rest. When the stream ends, fails or the client goes away,
the upstream response is closed and the state's events are recorded exactly
once; recording only appends to the recorder's queue.

When the upstream breaks off mid-stream, the client gets the provider's own
stream error event (so its SDK raises its API error) and a cleanly ended
response, and the call is recorded as an error with what had arrived.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable

import httpx2
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from whyops.server.proxy.events import Draft
from whyops.server.proxy.providers import OPENAI, Provider
from whyops.server.proxy.spec import StreamState
from whyops.server.proxy.sse import Frame, SSEFramer
from whyops.wire.events import EventType

log = logging.getLogger("whyops.server.proxy")

Finisher = Callable[[list[Draft]], None]


class StreamTap:
    """The async iterator behind a relayed stream."""

    def __init__(
        self,
        upstream: httpx2.Response,
        state: StreamState,
        started: float,
        finish: Finisher,
        on_first_sent: Callable[[], None] | None = None,
        provider: Provider = OPENAI,
    ) -> None:
        self.upstream = upstream
        self.state = state
        self.started = started
        self.finisher = finish
        self.on_first_sent = on_first_sent
        self.provider = provider
        self.first_chunk_ms: int | None = None
        self.done = False
        self.failed = False

    def _frame(self, frame: Frame) -> bytes:
        """The state's bytes for a frame; a state that fails is bypassed, never the client."""
        if self.failed:
            return frame.raw
        try:
            return self.state.record_frame(frame)
        except Exception:
            log.exception("reading a %s stream failed; relaying it untouched", type(self.state))
            held = self._held()  # frames it held back still go out, in their place
            self.failed = True
            return held + frame.raw

    def _held(self) -> bytes:
        """Frames the state still holds back (none once it failed and is bypassed)."""
        if self.failed:
            return b""
        try:
            return self.state.drain()
        except Exception:
            log.exception("releasing held frames of a %s stream failed", type(self.state))
            self.failed = True
            return b""

    async def relay(self) -> AsyncIterator[bytes]:
        framer = SSEFramer()
        aborted: str | None = "client_disconnected"
        try:
            async for chunk in self.upstream.aiter_bytes():
                if self.first_chunk_ms is None:
                    self.first_chunk_ms = self._elapsed_ms()
                out = self._relayed(framer, chunk)
                if out:
                    yield out
                    self._sent()
            aborted = None
            tail = self._held() + framer.pending()
            if tail:
                yield tail
        except (httpx2.TransportError, httpx2.DecodingError) as exc:
            aborted = "upstream_disconnected"
            yield self._held() + self._broke_off(exc)
        finally:
            await self.close(aborted)

    def _relayed(self, framer: SSEFramer, chunk: bytes) -> bytes:
        """What the client gets for ``chunk``: the complete frames in it (as the state
        rewrites them, or the raw chunk itself when it holds whole frames only)."""
        whole = not framer.pending()
        frames = framer.feed(chunk)
        if self.state.rewrites:
            return b"".join([self._frame(frame) for frame in frames])
        for frame in frames:
            self._frame(frame)
        if whole and not framer.pending():
            return chunk
        return b"".join([frame.raw for frame in frames])

    def _broke_off(self, exc: Exception) -> bytes:
        """The provider's stream error event for an upstream that broke off; logged once."""
        log.warning(
            "%s upstream broke off in the middle of a stream after %d ms: %s",
            self.provider.name,
            self._elapsed_ms(),
            type(exc).__name__,
        )
        message = (
            f"whyops proxy: the {self.provider.name} upstream broke off in the middle of the stream"
            f" ({type(exc).__name__})"
        )
        return self.provider.stream_error(message)

    def _sent(self) -> None:
        """Work that waits until the client has its first bytes (recording the request)."""
        if self.on_first_sent is not None:
            hook, self.on_first_sent = self.on_first_sent, None
            hook()

    async def close(self, aborted: str | None = "client_disconnected") -> None:
        if self.done:
            return
        self.done = True
        self.on_first_sent = None  # the finisher records everything still pending
        try:
            self.finisher(self._drafts(aborted))
        finally:
            await self.upstream.aclose()

    def _drafts(self, aborted: str | None) -> list[Draft]:
        try:
            drafts = self.state.finish(self._elapsed_ms(), aborted)
        except Exception:
            log.exception("rebuilding a streamed answer failed")
            return []
        if aborted == "upstream_disconnected":
            drafts = [
                broken_stream(d) if d.event_type == EventType.LLM_RESPONSE else d for d in drafts
            ]
        if self.first_chunk_ms is not None:
            for draft in drafts:
                if draft.event_type in (EventType.LLM_RESPONSE, EventType.ERROR):
                    draft.metadata["timeToFirstChunkMs"] = self.first_chunk_ms
        return drafts

    def _elapsed_ms(self) -> int:
        return round((time.perf_counter() - self.started) * 1000)


def broken_stream(response: Draft) -> Draft:
    """The span of a stream the upstream broke off ends in an error, with what had arrived."""
    content = {
        "message": "the upstream connection broke off in the middle of the stream",
        "type": "UpstreamDisconnected",
        "partial": response.content,
    }
    return Draft(EventType.ERROR, content, {**response.metadata, "status": "error"})


class TappedStreamingResponse(StreamingResponse):
    """A StreamingResponse that always closes its tap, however the response ends."""

    def __init__(
        self, tap: StreamTap, status_code: int, headers: list[tuple[bytes, bytes]]
    ) -> None:
        super().__init__(tap.relay(), status_code=status_code)
        self.tap = tap
        self.raw_headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.body_iterator.aclose()  # type: ignore[attr-defined]
            await self.tap.close()
