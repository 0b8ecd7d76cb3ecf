"""Reading request bodies: size limit, encoding, JSON parsing, and the errors they produce.

Every route that reads a body goes through here (the collector, agent init and the proxy), so
the rules are the same everywhere: UTF-8 only (RFC 8259), no lone surrogates however they are
written, strict JSON (no NaN/Infinity), gzip that ends where the body ends.
"""

from __future__ import annotations

import codecs
import json
import re
import zlib
from collections.abc import Iterator
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

# A UTF-8 body never holds a surrogate (the strict decoder refuses the raw bytes), but JSON can
# still write one as an escape: "\ud800". Such escapes are rare, so the parsed value is only
# searched when this pattern appears (a valid pair matches too, and is then found clean).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Byte order marks of the encodings RFC 8259 rules out; longest first (UTF-32 LE starts like
# UTF-16 LE).
_FOREIGN_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


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


def _foreign_encoding(raw: bytes) -> str | None:
    """``UTF-16``/``UTF-32`` when ``raw`` starts with their byte order mark or with the NULs
    of their ASCII characters (the patterns of RFC 4627, section 3), else None."""
    head = raw[:4]
    if 0 not in head and head[:1] not in (b"\xff", b"\xfe"):  # the usual case, decided fast
        return None
    for bom, name in _FOREIGN_BOMS:
        if raw.startswith(bom):
            return name
    nuls = tuple(byte == 0 for byte in head)
    if nuls in ((True, True, True, False), (False, True, True, True)):
        return "UTF-32"
    if nuls in ((True, False, True, False), (False, True, False, True)):
        return "UTF-16"
    return None


def decode_text(raw: bytes) -> str:
    """``raw`` as text: strict UTF-8 (a leading UTF-8 BOM is ignored, as RFC 8259 allows)."""
    foreign = _foreign_encoding(raw)
    if foreign is not None:
        raise BodyError(400, f"Invalid JSON: the body is {foreign}; send UTF-8")
    try:
        return raw.decode("utf-8-sig" if raw[:3] == codecs.BOM_UTF8 else "utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 2]
        what = "a surrogate" if bad[:1] == b"\xed" and bad[1:2] >= b"\xa0" else "invalid UTF-8"
        raise BodyError(400, f"Invalid JSON: {what} at byte {exc.start}; send UTF-8") from exc


def parse_json(raw: bytes) -> Any:
    """Parse ``raw`` as strict JSON: UTF-8, no NaN/Infinity, no lone surrogates."""
    text = decode_text(raw)
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise BodyError(400, "Invalid JSON") from exc
    if _SURROGATE_ESCAPE.search(text):
        where = surrogate_path(value)
        if where is not None:
            # the path itself may hold the surrogate (a key): shown as its escape
            shown = where.encode("utf-8", "backslashreplace").decode("utf-8")
            at = f" at {shown}" if where else ""
            raise BodyError(400, f"Invalid JSON: lone surrogate in a string{at}")
    return value


def _children(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    prefix = f"{path}." if path else ""
    if isinstance(value, dict):
        for key, item in value.items():
            yield prefix + key, key
            yield prefix + key, item
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield f"{prefix}{index}", item


def surrogate_path(value: Any) -> str | None:
    """Where the first lone surrogate in ``value`` is (``"0.content.text"``; ``""``: the value
    itself), or None. Iterative: any nesting the parser took is fine."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return path
        elif isinstance(item, (dict, list)):
            pending.extend(reversed(list(_children(item, path))))
    return None


def decode_body(raw: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding: gzip`` (or ``deflate``), never inflating past ``limit``.

    The compressed stream must end exactly where the body ends: a truncated stream or bytes
    after it are refused (several gzip members one after another are one valid stream).
    """
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return raw
    if encoding not in ("gzip", "deflate"):
        raise BodyError(415, f"Unsupported Content-Encoding: {encoding} (use gzip)")
    parts: list[bytes] = []
    size = 0
    rest = raw
    while True:
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # 32: accept gzip and zlib headers
        try:
            part = inflater.decompress(rest, limit + 1 - size)
        except zlib.error as exc:
            raise BodyError(400, f"Invalid {encoding} body") from exc
        size += len(part)
        parts.append(part)
        if size > limit or inflater.unconsumed_tail:
            raise BodyError(413, f"Payload Too Large: body exceeds {limit} bytes once decompressed")
        if not inflater.eof:
            raise BodyError(400, f"Invalid {encoding} body: the compressed stream is truncated")
        rest = inflater.unused_data
        if not rest:
            return b"".join(parts)
        if encoding != "gzip" or not rest.startswith(b"\x1f\x8b"):
            raise BodyError(400, f"Invalid {encoding} body: data after the compressed stream")


async def read_json(request: Request, limit: int) -> Any:
    raw = await read_body(request, limit)
    return parse_json(decode_body(raw, request.headers.get("content-encoding"), limit))
