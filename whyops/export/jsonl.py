"""Write WhyOps events to a file, one JSON object per line (appending)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence

from whyops._config import DEFAULT_LIMITS, Limits
from whyops.export import ExportResult
from whyops.models import Record
from whyops.wire import to_events

__all__ = ["JsonlExporter"]


class JsonlExporter:
    """Appends every event of every record to ``path`` as one JSON line."""

    def __init__(self, path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> None:
        self.path = os.fspath(path)
        self.limits = limits
        self._lock = threading.Lock()

    def export(self, records: Sequence[Record]) -> ExportResult:
        lines = [
            json.dumps(event, ensure_ascii=False, default=str)
            for record in records
            for event in to_events(record, self.limits)
        ]
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write("".join(line + "\n" for line in lines))
        return ExportResult(ok=True)

    def shutdown(self) -> None:
        pass
