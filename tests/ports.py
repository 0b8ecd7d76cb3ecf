"""Loopback ports for tests that need nobody answering.

A port bound and closed again is free for anyone: with the suites running side by side, another
server can take it before the test connects, and the "dead" backend answers. A socket kept
bound but not listening refuses every connection (ECONNREFUSED) and keeps the port ours.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def refused_port() -> Iterator[int]:
    """A 127.0.0.1 port that refuses connections for as long as the block runs."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])
