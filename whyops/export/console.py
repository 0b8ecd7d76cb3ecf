"""Print each finished trace as a tree on stderr: for local development."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from whyops.export import ExportResult
from whyops.render import nodes_from_spans, render_tree
from whyops.wire.records import Record, SpanRecord

__all__ = ["ConsoleExporter"]

_MAX_PENDING = 10_000


class ConsoleExporter:
    """Collects spans per trace and prints the tree when the trace's root span ends."""

    def __init__(self, stream: TextIO | None = None, *, color: bool | None = None) -> None:
        self.stream = stream
        self.color = color
        self._pending: dict[str, list[SpanRecord]] = {}

    def _out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stderr

    def export(self, records: Sequence[Record]) -> ExportResult:
        finished = []
        for record in records:
            if not isinstance(record, SpanRecord):
                continue
            self._pending.setdefault(record.trace_id, []).append(record)
            if record.parent_span_id is None:
                finished.append(record.trace_id)
        for trace_id in finished:
            self._print(self._pending.pop(trace_id, []))
        while len(self._pending) > _MAX_PENDING:  # roots that never end must not leak
            self._pending.pop(next(iter(self._pending)))
        return ExportResult(ok=True)

    def _print(self, spans: list[SpanRecord]) -> None:
        out = self._out()
        color = self.color if self.color is not None else bool(getattr(out, "isatty", bool)())
        header = f"whyops trace {spans[0].trace_id}" if spans else "whyops trace"
        out.write(header + "\n" + render_tree(nodes_from_spans(spans), color=color) + "\n")
        out.flush()

    def shutdown(self) -> None:
        for spans in self._pending.values():
            self._print(spans)
        self._pending.clear()
