"""Server-sent event frames and a response that sends each frame as soon as it is built."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

from starlette.responses import StreamingResponse

DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def data_frame(payload: Any) -> bytes:
    """OpenAI chat style: a bare `data:` line."""
    return b"data: " + dumps(payload) + b"\n\n"


def event_frame(payload: dict[str, Any]) -> bytes:
    """Anthropic and Responses style: an `event:` line named after the payload's type."""
    return b"event: " + payload["type"].encode() + b"\ndata: " + dumps(payload) + b"\n\n"


async def paced(frames: Iterable[bytes], chunk_delay: float) -> AsyncIterator[bytes]:
    for index, frame in enumerate(frames):
        if index and chunk_delay > 0:
            await asyncio.sleep(chunk_delay)
        yield frame


def sse_response(
    frames: Iterable[bytes], *, chunk_delay: float = 0.0, headers: dict[str, str] | None = None
) -> StreamingResponse:
    return StreamingResponse(
        paced(frames, chunk_delay),
        media_type="text/event-stream; charset=utf-8",
        headers={**SSE_HEADERS, **(headers or {})},
    )
