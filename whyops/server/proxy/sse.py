"""Incremental Server-Sent Events framing.

The proxy passes stream bytes through as they arrive and reads a copy frame by
frame. ``SSEFramer.feed`` returns the complete frames in a chunk, each with its
raw bytes (so they can be forwarded unchanged) and its parsed ``event`` and
``data`` fields; an incomplete tail waits for the next chunk.
"""

from __future__ import annotations

import attrs


@attrs.frozen(slots=True)
class Frame:
    raw: bytes
    event: str | None
    data: str | None


class SSEFramer:
    """Splits a byte stream into SSE frames (blank-line delimited)."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[Frame]:
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        frames: list[Frame] = []
        start = 0
        while True:
            end = buffer.find(b"\n\n", start)
            if end < 0:
                break
            raw = buffer[start : end + 2]
            frames.append(parse_frame(raw))
            start = end + 2
        self._buffer = buffer[start:]
        return frames

    def pending(self) -> bytes:
        """Bytes of an unterminated last frame (a stream that ended mid-frame)."""
        return self._buffer


def parse_frame(raw: bytes) -> Frame:
    event: str | None = None
    data: list[str] = []
    for line in raw.decode("utf-8", "replace").split("\n"):
        if not line or line[0] == ":":
            continue
        field, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if field == "data":
            data.append(value)
        elif field == "event":
            event = value
    return Frame(raw=raw, event=event, data="\n".join(data) if data else None)


def encode_frame(data: str, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()
