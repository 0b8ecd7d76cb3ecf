"""Tracing must never break the traced program: internal errors are logged, not raised.

Tests of whyops itself set :data:`RAISE` so a swallowed bug fails the test instead of
hiding in a log line.
"""

from __future__ import annotations

import logging
import os
import threading

logger = logging.getLogger("whyops")

#: Re-raise internal errors instead of logging them (the test suite of whyops sets this).
RAISE = False

_seen: set[str] = set()
_seen_lock = threading.Lock()


def log_internal_error(where: str) -> None:
    """Log the exception being handled, once per ``where``, at WARNING with its traceback."""
    if RAISE:
        raise
    with _seen_lock:
        first = where not in _seen
        _seen.add(where)
    if first:
        logger.warning("whyops: internal error in %s (tracing continues)", where, exc_info=True)


def warn_once(key: str, message: str, *args: object) -> None:
    """Log ``message`` at WARNING the first time ``key`` is seen in this process."""
    with _seen_lock:
        if key in _seen:
            return
        _seen.add(key)
    logger.warning(message, *args)


def _reset_after_fork() -> None:
    # Another thread may have held the lock at fork time; the child must not inherit it.
    global _seen_lock
    _seen_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)
