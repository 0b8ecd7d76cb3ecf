"""``app.state.recorder``: how in-process producers (the proxy) store events.

``record`` never blocks and never raises: events are validated like posted ones and handed to
the writer thread. A rejected or failed batch is logged and counted, never dropped silently.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from whyops.server.store import EventResult, Store, WriterClosedError
from whyops.server.timeutil import now_us
from whyops.server.validation import validate_events

log = logging.getLogger("whyops.server.recorder")


class Recorder:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self.recorded = 0
        self.failed = 0

    def record(self, project_id: str, events: Sequence[dict[str, Any]]) -> None:
        """Store ``events`` (WhyOps event dicts) for ``project_id`` in the background."""
        try:
            rows, issues = validate_events(list(events), received_us=now_us())
            if issues:
                log.error("dropped %d recorded events, invalid: %s", len(events), issues[:5])
                self._count(failed=len(events))
                return
            future = self._store.ingest(project_id, rows)
        except WriterClosedError:
            log.error("dropped %d recorded events: the store is closed", len(events))
            self._count(failed=len(events))
            return
        except Exception:
            log.exception("dropped %d recorded events", len(events))
            self._count(failed=len(events))
            return
        future.add_done_callback(self._done)

    def _done(self, future: Future[list[EventResult]]) -> None:
        error = future.exception()
        if error is None:
            self._count(recorded=len(future.result()))
        else:
            log.error("recorded events were not stored: %r", error)
            self._count(failed=1)

    def _count(self, recorded: int = 0, failed: int = 0) -> None:
        with self._lock:
            self.recorded += recorded
            self.failed += failed
