"""Implicit registration: off the caller's thread, once, with events held until it is over.

The first event (or the first patched client) starts one daemon thread that registers the
agent. Events built meanwhile wait in a small list and are handed to the tracer, in order,
as soon as registration is over, successful or not, so the server never sees an event
of an agent that is about to register. The caller only ever appends to a list.
At exit, events still held (registration stuck on a backend that never answers) are
handed to the tracer before its final flush, so they are sent or counted, never lost
silently.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable

from whyops import _context, _tracer
from whyops.wire.records import EventRecord

from ._init import InitFlight

logger = logging.getLogger("whyops.client")

# Past this many held events (registration stuck on a dead server), send without waiting.
MAX_HELD = 1_000

# Registrations whose thread was started, so that tests can wait for all of them.
_STARTED: weakref.WeakSet[Registration] = weakref.WeakSet()


def wait_for_registration(timeout: float | None = 5.0) -> bool:
    """Wait until every agent registration started in this process is over.

    Events a client built meanwhile are then on the tracer's queue (``whyops.flush()``
    delivers them). True if none is left running within ``timeout`` seconds.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    for registration in list(_STARTED):
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not registration.wait(left):
            return False
    return True


def _release_all_at_exit() -> None:
    for registration in list(_STARTED):
        registration.release_at_exit()


_tracer.TRACER.before_exit(_release_all_at_exit)


class Registration:
    def __init__(
        self, flight: InitFlight, submit: Callable[[EventRecord], None], agent: str
    ) -> None:
        self._flight = flight
        self._submit = submit
        self._agent = agent
        self._lock = threading.Lock()
        self._held: list[EventRecord] = []
        self._started = False
        self._ready = False
        self._pid = 0
        self._over = threading.Event()

    @property
    def held(self) -> int:
        return len(self._held)

    def emit(self, record: EventRecord) -> None:
        """Hand an event on, or hold it while registration runs (never blocks on I/O)."""
        if self._ready:
            self._submit(record)
            return
        with self._lock:
            if self._started and self._pid != os.getpid():
                self._forget_parent()
            if not self._started and self._flight.result is not None:
                self._ready = True  # registered explicitly already: nothing to wait for
            if not self._ready and len(self._held) < MAX_HELD:
                self._start_locked()
                if not self._ready:
                    self._held.append(record)
                    return
        self._submit(record)

    def start(self) -> None:
        """Begin registering in the background, unless it already began."""
        if not self._started:
            with self._lock:
                self._start_locked()

    def wait(self, timeout: float | None) -> bool:
        """Wait until a started registration is over; True if nothing is left running."""
        if not self._started:
            return True
        return self._over.wait(timeout)

    def _start_locked(self) -> None:
        if self._started:
            return
        self._started = True
        self._pid = os.getpid()
        _STARTED.add(self)
        worker = threading.Thread(target=self._run, name="whyops-agent-init", daemon=True)
        try:
            worker.start()
        except RuntimeError:  # no threads left (or interpreter exit): send unregistered
            logger.warning("whyops: cannot start agent registration for %r", self._agent)
            self._ready = True
            self._over.set()

    def _forget_parent(self) -> None:
        """In a forked child: the parent's registration thread and held events are not ours."""
        self._held = []
        self._started = False
        self._over = threading.Event()

    def _run(self) -> None:
        try:
            with _context.suppressed():
                self._flight.run_sync()
        except Exception as exc:
            logger.warning(
                "whyops: registering agent %r failed (%s); its events are sent anyway",
                self._agent,
                exc,
            )
        finally:
            self._release()

    def release_at_exit(self) -> None:
        """Hand held events on unregistered: the process is exiting, registration is stuck."""
        if self._held and self._pid == os.getpid():
            logger.warning(
                "whyops: registering agent %r did not finish before exit; sending its %d "
                "held events unregistered",
                self._agent,
                len(self._held),
            )
            self._release()

    def _release(self) -> None:
        with self._lock:
            held, self._held = self._held, []
            for record in held:
                self._submit(record)
            self._ready = True
        self._over.set()
