"""Request header values as their senders meant them (shared by the collector and the proxy)."""

from __future__ import annotations

from starlette.datastructures import Headers


def header_text(headers: Headers, name: str) -> str | None:
    """A header's value as sent: UTF-8 when its bytes are valid UTF-8, else latin-1.

    Starlette decodes every header as latin-1, which turns ``é`` sent as UTF-8
    into ``Ã©``; ``name`` is lower case, as ASGI servers hand names over.
    """
    wanted = name.encode("latin-1")
    for key, raw in headers.raw:
        if key == wanted:
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                return raw.decode("latin-1")
    return None
