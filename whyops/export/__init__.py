"""Where finished spans go: the exporter protocol and the processors that feed exporters.

A processor receives every ended span on the caller's thread and must neither block nor
raise (``BatchProcessor`` appends to a bounded queue; ``InlineProcessor`` hands the record
to an in-process exporter at once). An exporter receives frozen records, never live spans.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from whyops.wire.records import DeliveryReport, EventRecord, Record, SpanRecord

__all__ = ["ExportResult", "Exporter", "Processor", "freeze"]


@attrs.frozen(slots=True)
class ExportResult:
    """The outcome of one ``export`` call: the batch was accepted (maybe in part), or lost.

    ``ok``: some or all records were accepted; ``dropped``: records of it that were not
    (they could not be encoded, or the part of a split batch the server refused); the
    processor counts them as dropped, not delivered. ``ok=False``: every record is lost.
    ``error``: why records were lost, e.g. ``"HTTP 401: Unauthorized: Invalid API key"``.
    """

    ok: bool
    retries: int = 0
    error: str | None = None
    dropped: int = 0


@runtime_checkable
class Exporter(Protocol):
    """Ships frozen records somewhere. Called from one thread at a time.

    Optional attributes the processor reads: ``destination`` (where records go, named in
    warnings), ``live_retries`` (retries of the export under way; the processor zeroes it
    once the call returns) and ``last_failure`` (the last failed attempt, while retrying).
    """

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
    record: Record = item._to_record()
    return record
