"""Write WhyOps events to a file, one JSON object per line (appending)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence

from whyops._config import DEFAULT_LIMITS, Limits
from whyops._internal_errors import warn_once
from whyops.export import ExportResult
from whyops.export.encoding import to_events
from whyops.wire.records import Record

__all__ = ["JsonlExporter"]


class JsonlExporter:
    """Appends every event of every record to ``path`` as one JSON line."""

    def __init__(self, path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> None:
        self.path = os.fspath(path)
        self.limits = limits
        self._lock = threading.Lock()

    def export(self, records: Sequence[Record]) -> ExportResult:
        lines: list[str] = []
        failed = 0
        for record in records:
            try:  # per record: one that json refuses must not cost the others
                lines.extend(_lines(record, self.limits))
            except Exception as exc:
                failed += 1
                warn_once(
                    "jsonl-encode",
                    "whyops: a record could not be written as JSON (%s: %s); it is dropped "
                    "and counted in the DeliveryReport",
                    type(exc).__name__,
                    exc,
                )
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write("".join(lines))
        return ExportResult(ok=True, dropped=failed)

    def shutdown(self) -> None:
        pass

    def after_fork(self) -> None:
        """In a forked child: a lock the parent's flusher held while writing is not ours."""
        self._lock = threading.Lock()


def _lines(record: Record, limits: Limits) -> list[str]:
    return [
        json.dumps(event, ensure_ascii=False, default=str) + "\n"
        for event in to_events(record, limits)
    ]
