"""Reading request bodies: size limit, JSON parsing, and the errors both produce."""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

# Python's json accepts "\ud800" (a lone surrogate), which cannot be stored as UTF-8. Such
# escapes are rare, so the body is only checked in depth when this pattern appears.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class BodyError(Exception):
    """A request body that cannot be used; carries the response to send."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.message}, status_code=self.status)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyError(413, f"Payload Too Large: body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyError(413, f"Payload Too Large: body exceeds {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect as exc:  # nobody is left to answer; nothing was stored
        raise BodyError(400, "Client disconnected before sending the whole body") from exc
    return b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    """Parse ``raw`` as strict JSON (no NaN/Infinity, valid UTF-8, no lone surrogates)."""
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise BodyError(400, "Invalid JSON") from exc
    if _SURROGATE_ESCAPE.search(raw):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except (UnicodeEncodeError, RecursionError) as exc:
            raise BodyError(400, "Invalid JSON: lone surrogate in a string") from exc
    return value


def decode_body(raw: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding: gzip`` (or ``deflate``), never inflating past ``limit``."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return raw
    if encoding not in ("gzip", "deflate"):
        raise BodyError(415, f"Unsupported Content-Encoding: {encoding} (use gzip)")
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # 32: accept gzip and zlib headers
    try:
        body = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise BodyError(400, f"Invalid {encoding} body") from exc
    if len(body) > limit or inflater.unconsumed_tail:
        raise BodyError(413, f"Payload Too Large: body exceeds {limit} bytes once decompressed")
    return body


async def read_json(request: Request, limit: int) -> Any:
    raw = await read_body(request, limit)
    return parse_json(decode_body(raw, request.headers.get("content-encoding"), limit))
