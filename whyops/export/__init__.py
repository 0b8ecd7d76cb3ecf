"""Where finished spans go: the exporter protocol and the processors that feed exporters.

A processor receives every ended span on the caller's thread and must neither block nor
raise (``BatchProcessor`` appends to a bounded queue; ``InlineProcessor`` hands the record
to an in-process exporter at once). An exporter receives frozen records, never live spans.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from whyops.models import DeliveryReport, EventRecord, Record, SpanRecord

__all__ = ["ExportResult", "Exporter", "Processor", "freeze"]


@attrs.frozen(slots=True)
class ExportResult:
    """The outcome of one ``export`` call: the batch was accepted, or it is lost.

    ``dropped``: records of an accepted batch that were left out (they could not be
    encoded); the processor counts them as dropped, not delivered.
    """

    ok: bool
    retries: int = 0
    error: str | None = None
    dropped: int = 0


ExportResult.SUCCESS = ExportResult(ok=True)  # type: ignore[attr-defined]


@runtime_checkable
class Exporter(Protocol):
    """Ships frozen records somewhere. Called from one thread at a time."""

    def export(self, records: Sequence[Record]) -> ExportResult: ...

    def shutdown(self) -> None: ...


class Processor(Protocol):
    """Receives ended spans and records on the caller's thread: never blocks, never raises."""

    def submit(self, item: Any) -> None: ...

    def flush(self, timeout: float) -> DeliveryReport: ...

    def shutdown(self, timeout: float) -> DeliveryReport: ...

    def after_fork(self) -> None: ...


def freeze(item: Any) -> Record:
    """A frozen record for a submitted item (ended spans are frozen here, lazily)."""
    if isinstance(item, (SpanRecord, EventRecord)):
        return item
    record: Record = item.to_record()
    return record
