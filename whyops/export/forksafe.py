"""Fork safety: the flusher never holds a lock or a half-imported module across ``os.fork()``.

Everything the flusher needs is imported on the caller's thread when the exporter is built
(``configure()``), never lazily on the flusher. The steps of the flusher that may still
run foreign code (freezing a record, encoding a batch, building an HTTP client) hold
:func:`no_fork`; a fork waits for the step to end (at most :data:`FORK_WAIT` seconds),
so the child never inherits a lock held by a thread it does not have.
"""

from __future__ import annotations

import codecs
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["FORK_WAIT", "import_flusher_modules", "no_fork"]

#: How long a fork waits for the flusher to leave a guarded step (then it forks anyway).
FORK_WAIT = 0.5

_guard = threading.Lock()
# Per forking thread: two threads may fork at once, and one that gave up waiting must not
# make the other forget to release the guard it holds (the flusher would wait forever).
_fork_state = threading.local()


@contextmanager
def no_fork() -> Iterator[None]:
    """Hold off ``os.fork()`` in other threads while the block runs."""
    guard = _guard  # the child replaces the module's lock; release the one acquired
    with guard:
        yield


def import_flusher_modules() -> None:
    """Import, on the caller's thread, what the flusher would otherwise import on first use."""
    import whyops.wire.parts  # noqa: F401  (usage, thinking and exception records)

    # Connecting encodes the host with the idna codec (socket.getaddrinfo), and the first
    # lookup imports encodings.idna. A child forked during that import finds the module
    # half-made and its lock held: its sends fail ("unknown encoding: idna") or wait forever.
    codecs.lookup("idna")


def _before_fork() -> None:
    _fork_state.held = _guard.acquire(timeout=FORK_WAIT)


def _after_fork_in_parent() -> None:
    if getattr(_fork_state, "held", False):
        _fork_state.held = False
        _guard.release()


def _after_fork_in_child() -> None:
    global _guard
    _guard = threading.Lock()
    _fork_state.held = False


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)
