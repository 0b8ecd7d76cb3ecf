"""Stored events → the spans ready to send, and the cursor position that is safe to commit.

A span is sent once, whole: its events (opening, thinking, closing) can arrive in different
requests, so events wait here, grouped by span, until the span's closing event (an answer, a
tool result, an error) is read. A span whose closing event has not come within ``open_wait_s``
of its last event (a manual event that never closes, a crashed client) is sent as it is, open.

The wait is measured in store time: against the creation time of the newest event read while
catching up on a backlog (so a backlog read in pieces never sends its spans half), against the
clock once caught up. The committed cursor never passes the first event of a span still
waiting: after a restart it is read again, with whatever followed it.

So a span sent whole while an older one waited can lie across the committed position. Read again
after a restart, its events before the position are fetched back (``incomplete`` and
``complete``) and it is sent whole again, identical, never as its later part alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from whyops.server.otlp_export.source import StoredEvent
from whyops.wire.events import CLOSING, OPENING

SpanKey = tuple[str, str, str]


@attrs.define
class _Waiting:
    events: list[StoredEvent]
    closed: bool = False
    earlier: list[StoredEvent] = attrs.Factory(list)  # read back from before the resume

    @property
    def last_created_us(self) -> int:
        return self.events[-1].created_us


@attrs.define
class Assembler:
    open_wait_us: int
    # Spans waiting at most; past it the oldest is sent open (bounded memory).
    max_waiting: int = 20_000
    _waiting: dict[SpanKey, _Waiting] = attrs.field(factory=dict)
    read_position: int = 0
    # Where reading resumed (the committed cursor) and how far it had read when committing:
    # the spans that may lie across the cursor begin up to there.
    resumed_at: int = 0
    resumed_read: int = 0
    incomplete: list[SpanKey] = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        self.resumed_at = self.read_position
        self.resumed_read = max(self.resumed_read, self.read_position)

    def add(self, events: Sequence[StoredEvent]) -> None:
        """Events read past ``read_position``, in ``seq`` order."""
        for stored in events:
            group = self._waiting.get(stored.span_key)
            if group is None:
                group = self._waiting[stored.span_key] = _Waiting([])
                if stored.seq <= self.resumed_read and stored.event["eventType"] not in OPENING:
                    self.incomplete.append(stored.span_key)  # may have begun before resuming
            group.events.append(stored)
            group.closed |= stored.event["eventType"] in CLOSING
            self.read_position = stored.seq

    def complete(self, earlier: Sequence[StoredEvent]) -> None:
        """The stored events, up to ``resumed_at``, of the spans listed in ``incomplete``."""
        for stored in earlier:
            self._waiting[stored.span_key].earlier.append(stored)
        self.incomplete.clear()

    def take_ready(self, now_us: int) -> list[list[StoredEvent]]:
        """The spans to send now (closed, or waited long enough), in the order they began."""
        ready: list[list[StoredEvent]] = []
        overflow = len(self._waiting) - self.max_waiting
        for key, group in list(self._waiting.items()):  # insertion order: by first seq
            if group.closed or overflow > 0 or now_us - group.last_created_us > self.open_wait_us:
                ready.append(group.earlier + group.events)
                del self._waiting[key]
                overflow -= 1
        return ready

    def safe_position(self) -> int:
        """The cursor position to commit once the spans taken so far are sent: just before the
        first event of the oldest span still waiting."""
        first = min((g.events[0].seq for g in self._waiting.values()), default=None)
        return self.read_position if first is None else first - 1

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def oldest_waiting_us(self) -> int | None:
        return min((g.events[0].created_us for g in self._waiting.values()), default=None)
