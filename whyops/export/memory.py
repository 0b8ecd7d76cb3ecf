"""Keep records in memory: for tests and for the pytest plugin."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from whyops._config import DEFAULT_LIMITS, Limits
from whyops.export import ExportResult
from whyops.wire.records import Record, SpanRecord

__all__ = ["InMemoryExporter"]


class InMemoryExporter:
    """Collects every exported record; ``events()`` gives them in wire form.

    Exported inline (no background thread): a span is in ``records`` as soon as it ends.
    """

    inline = True

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._records: list[Record] = []
        self._lock = threading.Lock()
        self.limits = limits

    def export(self, records: Sequence[Record]) -> ExportResult:
        with self._lock:
            self._records.extend(records)
        return ExportResult(ok=True)

    def shutdown(self) -> None:
        pass

    def after_fork(self) -> None:
        """In a forked child: a lock another thread of the parent held is not ours."""
        self._lock = threading.Lock()

    @property
    def records(self) -> list[Record]:
        with self._lock:
            return list(self._records)

    def spans(self) -> list[SpanRecord]:
        """Finished spans in the order they ended."""
        return [r for r in self.records if isinstance(r, SpanRecord)]

    def events(self) -> list[dict[str, Any]]:
        """Every record as the WhyOps event dicts the HTTP exporter would send."""
        from whyops.export.encoding import to_events

        return [event for record in self.records for event in to_events(record, self.limits)]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
