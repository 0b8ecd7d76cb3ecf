"""``whyops serve --otlp-export URL``: everything stored, forwarded to an OTLP/HTTP endpoint.

Durable (the store is the outbox, see ``forwarder``), started and stopped with the server.
"""

from __future__ import annotations

import math
import os
from typing import Any

from whyops.server.otlp_export.forwarder import Forwarder
from whyops.server.otlp_export.sender import check_url, parse_headers

__all__ = ["Forwarder", "check_settings", "start_forwarder"]

# Seconds a span waits for its closing event before it is sent open (docs/otlp.md).
DEFAULT_OPEN_WAIT_S = 30.0
OPEN_WAIT_ENV = "WHYOPS_SERVER_OTLP_EXPORT_WAIT"


def check_settings(url: str | None, header_pairs: tuple[str, ...]) -> None:
    """Refuse a bad ``--otlp-export`` or header at start, in one line (ValueError)."""
    if url is not None:
        check_url(url)
    parse_headers(header_pairs)
    wait = os.environ.get(OPEN_WAIT_ENV)
    if wait is not None and not _seconds(wait):
        raise ValueError(f"{OPEN_WAIT_ENV}={wait!r}: give seconds, 0 or more")


def _seconds(text: str) -> bool:
    try:
        return math.isfinite(float(text)) and float(text) >= 0
    except ValueError:
        return False


def start_forwarder(store: Any, url: str, header_pairs: tuple[str, ...]) -> Forwarder:
    wait = os.environ.get(OPEN_WAIT_ENV)
    forwarder = Forwarder(
        store, url, parse_headers(header_pairs), float(wait) if wait else DEFAULT_OPEN_WAIT_S
    )
    forwarder.start()
    return forwarder
