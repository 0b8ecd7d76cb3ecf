"""Connection limits uvicorn's h11 protocol lacks: a cap enforced when a connection opens, a
deadline for each request's head, an idle limit while its body arrives, and accept errors
logged once per interval.

uvicorn's ``limit_concurrency`` answers 503 only once a whole request head has arrived, so
idle or half-sent connections still pile up until the process runs out of file descriptors;
and h11 waits for a request head forever. Here a connection past the cap is answered 503 and
closed at once, and one that has not sent its whole head within ``header_timeout`` seconds
(or stops sending its body for as long) is answered 408 and closed.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import time
from typing import Any, ClassVar

import attrs
import h11
from uvicorn.loops.auto import auto_loop_factory
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("whyops.server")

# File descriptors kept free of client connections: SQLite files (three per connection, one
# connection per reader thread), the proxy's upstream connection pool, logs.
FD_RESERVE = 512
# Seconds between two log lines about the same resource problem.
LOG_INTERVAL_S = 60.0
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class Throttled:
    """Log a recurring problem once per interval, with how often it happened in between."""

    def __init__(self, interval_s: float = LOG_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        self._last[key] = now
        repeats = self._suppressed.pop(key, 0)
        suffix = f" ({repeats} more since the last report)" if repeats else ""
        log.warning(message + suffix, *args)


THROTTLED = Throttled()


def _exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """asyncio logs every failed ``accept()`` with a traceback; out of file descriptors, that
    is one per retry for as long as it lasts. One line per interval says the same."""
    exc = context.get("exception")
    if isinstance(exc, OSError) and exc.errno in _RESOURCE_ERRNOS:
        THROTTLED.warning(
            "accept", "cannot accept connections: %s (open file limit %d)", exc, _nofile()[0]
        )
        return
    loop.default_exception_handler(context)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvicorn's own choice of event loop, with the throttled exception handler."""
    loop = auto_loop_factory()()
    loop.set_exception_handler(_exception_handler)
    return loop


def _nofile() -> tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    infinity = resource.RLIM_INFINITY
    return (2**31 if soft == infinity else soft), (2**31 if hard == infinity else hard)


def usable_connections(wanted: int) -> int:
    """How many client connections fit the open-file limit (raised toward its hard limit
    first, as far as ``wanted`` needs), at most ``wanted``."""
    soft, hard = _nofile()
    needed = wanted + FD_RESERVE
    if soft < needed and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
        except (ValueError, OSError):
            pass
        soft = _nofile()[0]
    usable = max(1, min(wanted, soft - min(FD_RESERVE, soft // 2)))
    if usable < wanted:
        log.warning(
            "--max-connections %d lowered to %d: the open file limit is %d", wanted, usable, soft
        )
    return usable


@attrs.frozen
class ConnectionLimits:
    max_connections: int
    header_timeout_s: float


def _raw_response(status: str, message: str, extra: str = "") -> bytes:
    body = ('{"error":"' + message + '"}').encode()
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n{extra}connection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the connection cap and the request-head deadline."""

    limits: ClassVar[ConnectionLimits]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._read_timer: asyncio.TimerHandle | None = None
        if len(self.connections) > self.limits.max_connections:
            self._refuse()
            return
        self._arm(self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.SEND_BODY:  # the head is in: the body may pause, but not for long
            self._disarm()
            self._arm(self._body_timed_out)
        elif state is h11.IDLE:  # part of a (next) request head: the deadline runs from here
            if self._read_timer is None:
                self._arm(self._head_timed_out)
        else:
            self._disarm()

    def on_response_complete(self) -> None:
        self._disarm()  # between requests uvicorn's keep-alive timeout applies
        super().on_response_complete()

    def _arm(self, callback: Any) -> None:
        self._read_timer = self.loop.call_later(self.limits.header_timeout_s, callback)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _head_timed_out(self) -> None:
        self._read_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            message = "Request Timeout: the request head did not arrive in time"
            self.transport.write(_raw_response("408 Request Timeout", message))
            self.transport.close()

    def _body_timed_out(self) -> None:
        self._read_timer = None
        if self.conn.their_state is not h11.SEND_BODY or self.transport.is_closing():
            return
        if self.flow.read_paused:  # the server is behind, not the client
            self._arm(self._body_timed_out)
            return
        self.transport.close()  # the route sees the client gone and stores nothing

    def _refuse(self) -> None:
        cap = self.limits.max_connections
        THROTTLED.warning("cap", "connection cap reached (%d open); refusing new ones", cap)
        message = f"Service Unavailable: too many open connections (the limit is {cap})"
        self.transport.write(
            _raw_response("503 Service Unavailable", message, "retry-after: 1\r\n")
        )
        self.transport.close()


def guarded_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """The protocol class uvicorn instantiates per connection, bound to ``limits``."""
    return type("WhyOpsH11Protocol", (GuardedH11Protocol,), {"limits": limits})
