"""No connection and no name lookup beyond loopback: the guard for tests that run libraries
with telemetry or downloads of their own (the agent frameworks, the Phoenix receiver)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any


def is_loopback(host: Any) -> bool:
    if host in (None, "", "localhost", b"localhost"):
        return True
    text = host.decode() if isinstance(host, bytes) else str(host)
    try:
        return ipaddress.ip_address(text.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def guard_loopback(refuse: Callable[[Any], None], who: str) -> Callable[[], None]:
    """Make connecting to, or looking up, any other address call ``refuse(address)`` and fail
    with OSError; returns what undoes it."""
    connect, connect_ex, getaddrinfo = (
        socket.socket.connect,
        socket.socket.connect_ex,
        socket.getaddrinfo,
    )

    def check(address: Any) -> None:
        if isinstance(address, tuple) and not is_loopback(address[0]):
            refuse(address)
            raise OSError(f"{who} allows loopback only, not {address!r}")

    def guarded_connect(self: socket.socket, address: Any) -> None:
        check(address)
        connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        check((host, 0))
        return getaddrinfo(host, *args, **kwargs)

    def undo() -> None:
        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = getaddrinfo

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = guarded_getaddrinfo
    return undo
