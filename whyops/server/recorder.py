"""``app.state.recorder``: how in-process producers (the proxy) store events.

``record`` never blocks and never raises: it only queues a job. The writer thread validates
the events like posted ones and stores them; a rejected or failed batch is logged and counted,
never dropped silently. Validation costs tens of microseconds per call, which the proxy's
event loop would otherwise pay on every model call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from functools import partial
from typing import Any

import attrs

from whyops.server.store import EventResult, StorageUnavailableError, Store, WriterClosedError
from whyops.server.store.dialect import Connection, dialect_of
from whyops.server.store.ingest import insert_events
from whyops.server.store.text import nul_issues
from whyops.server.store.writer import WriterState
from whyops.server.timeutil import now_us
from whyops.server.validation import validate_events

log = logging.getLogger("whyops.server.recorder")


@attrs.frozen
class Rejected:
    """A batch that failed validation: nothing of it was written."""

    count: int
    issues: list[dict[str, str]]


def validate_and_store(
    conn: Connection,
    state: WriterState,
    *,
    project_id: str,
    events: list[dict[str, Any]],
    received_us: int,
) -> list[EventResult] | Rejected:
    """The writer-thread job: validate the whole batch, then insert it (or nothing)."""
    rows, issues = validate_events(events, received_us=received_us)
    if not issues and not dialect_of(conn).holds_nul:
        issues = nul_issues(rows, listed=True)
    if issues:
        return Rejected(len(events), issues)
    return insert_events(conn, state, project_id, rows)


class Recorder:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self.recorded = 0
        self.failed = 0

    def record(self, project_id: str, events: Sequence[dict[str, Any]]) -> None:
        """Queue ``events`` (WhyOps event dicts, handed over) for ``project_id``."""
        batch = list(events)
        job = partial(validate_and_store, project_id=project_id, events=batch, received_us=now_us())
        try:
            future = self._store.submit(job)
        except WriterClosedError:
            log.error("dropped %d recorded events: the store is closed", len(batch))
            self._count(failed=len(batch))
            return
        except Exception:
            log.exception("dropped %d recorded events", len(batch))
            self._count(failed=len(batch))
            return
        future.add_done_callback(partial(self._done, len(batch)))

    def _done(self, count: int, future: Future[list[EventResult] | Rejected]) -> None:
        error = future.exception()
        if error is not None:
            if not isinstance(error, StorageUnavailableError):  # the store logs that, once
                log.error("%d recorded events were not stored: %r", count, error)
            self._count(failed=count)
            return
        outcome = future.result()
        if isinstance(outcome, Rejected):
            log.error("dropped %d recorded events, invalid: %s", count, outcome.issues[:5])
            self._count(failed=count)
        else:
            self._count(recorded=len(outcome))

    def counts(self) -> tuple[int, int]:
        """``(recorded, failed)`` events so far, read together."""
        with self._lock:
            return self.recorded, self.failed

    def _count(self, recorded: int = 0, failed: int = 0) -> None:
        with self._lock:
            self.recorded += recorded
            self.failed += failed
