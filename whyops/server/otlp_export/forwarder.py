"""The forwarder thread: store → spans → OTLP endpoint, the cursor committed after each 2xx.

Delivery is at least once. Nothing acknowledged to a client is lost: events are read back from
the store, and the cursor moves past them only after the endpoint answered 2xx for their spans.
After a crash the spans sent since the last committed cursor are sent again (a receiver that
deduplicates by span id keeps one); in normal operation nothing is sent twice. On PostgreSQL
one server forwards, the one holding a session advisory lock; the others stand by and take over
when its session ends. State changes are logged once each, never per batch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from whyops.server.otlp_export import source
from whyops.server.otlp_export.assemble import Assembler
from whyops.server.otlp_export.encode import request_body
from whyops.server.otlp_export.sender import Answer, Sender, backoff_s
from whyops.server.otlp_export.source import Candidate, StoredEvent
from whyops.server.timeutil import format_us, now_us

log = logging.getLogger("whyops.server.otlp_export")
WINDOW_EVENTS = 1000  # events read per pass
MAX_BODY_BYTES = 4_000_000  # a larger request is split in two (receivers often cap at 4 MB)
POLL_S = 0.5  # pause when caught up
STANDBY_S = 5.0  # how often a standing-by replica tries to take the lead
FAILURE_PAUSE_S = 5.0  # pause after the store could not be read
# The lead lock (pg_try_advisory_lock(int, int): a key space apart from the writers' locks).
LEAD_LOCK = (0x7768796F, 0x6F746C70)  # "whyo", "otlp"
Spans = Sequence[Sequence[StoredEvent]]


def endpoint_name(url: str) -> str:
    """The endpoint as logged, shown and used to name its cursor: no credentials or query."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"


class Forwarder:
    def __init__(self, store: Any, url: str, headers: dict[str, str], open_wait_s: float) -> None:
        self.store = store
        self.endpoint = endpoint_name(url)
        self.cursor_name = f"otlp {self.endpoint}"
        self.open_wait_us = int(open_wait_s * 1e6)
        self._sender = Sender(url, headers)
        self._stop = threading.Event()
        self._lead_conn: Any = None
        self._leading = False
        self._assembler: Assembler | None = None
        self._committed = 0
        self._settled = 0
        self._candidate: Candidate | None = None
        self._projects: dict[str, str] = {}
        self.state = "starting"
        self.last_error: str | None = None
        self.last_error_at: str | None = None
        self.sent_spans = 0
        self.dropped_spans = 0
        self.lag_events = 0
        self._lag_since_us: int | None = None  # when the oldest unconfirmed event was stored
        self._thread = threading.Thread(target=self._run, name="whyops-otlp-export", daemon=True)

    def start(self) -> None:
        log.info("forwarding everything stored to %s (OTLP/HTTP)", self.endpoint)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the request in flight; what was not confirmed is sent after a restart."""
        self._stop.set()
        self._thread.join(timeout)
        if self._lead_conn is not None:
            self._lead_conn.close()
        self._sender.close()

    def status(self) -> dict[str, Any]:
        """What ``/api/health`` shows (key holders only)."""
        return {
            "endpoint": self.endpoint,
            "state": self.state,
            "lagEvents": self.lag_events,
            "lagSeconds": round(_age_s(self._lag_since_us), 3),  # growing while it waits
            "waitingSpans": self._assembler.waiting if self._assembler else 0,
            "sentSpans": self.sent_spans,
            "droppedSpans": self.dropped_spans,
            "lastError": self.last_error,
            "lastErrorAt": self.last_error_at,
        }

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self._lead():
                    self._stop.wait(STANDBY_S)
                elif not self._pass():
                    self._stop.wait(POLL_S)
            except Exception as exc:  # the store away or failing: try again, nothing is lost
                if self._stop.is_set():
                    return
                self._set_state("failing", f"the store: {type(exc).__name__}: {exc}", exc)
                self._release_lead()
                self._stop.wait(FAILURE_PAUSE_S)

    def _pass(self) -> bool:
        """Read, send what is ready, commit; whether more is waiting right now."""
        assembler = self._assembler or self._resume()
        upto = self._horizon()
        events = self.store.read(source.read_events, assembler.read_position, upto, WINDOW_EVENTS)
        assembler.add(events)
        if assembler.incomplete:
            earlier = (assembler.incomplete, assembler.resumed_at)
            assembler.complete(self.store.read(source.span_events, *earlier))
        full = len(events) == WINDOW_EVENTS
        spans = assembler.take_ready(events[-1].created_us if full else now_us())
        if spans and not self._deliver(spans):
            return False  # stopping: nothing more is committed
        position = assembler.safe_position()
        if position > self._committed:
            save = partial(
                source.save_cursor,
                name=self.cursor_name,
                position=position,
                read=assembler.read_position,
            )
            self.store.submit(save).result()
            self._committed = position
        self._measure_lag()
        if self.state in ("starting", "failing", "standby"):
            self._set_state("ok")
        return full or bool(spans)

    def _resume(self) -> Assembler:
        """Start from the committed cursor (first pass, or after taking the lead)."""
        self._committed, read = self.store.read(source.read_cursor, self.cursor_name)
        self._assembler = Assembler(
            self.open_wait_us, read_position=self._committed, resumed_read=read
        )
        return self._assembler

    def _horizon(self) -> int | None:
        """PostgreSQL: the largest ``seq`` nothing can appear below any more (source.py)."""
        if not self.store.postgres:
            return None
        candidate = self._candidate
        if candidate is not None and self.store.read(source.pg_settled, candidate):
            self._settled, candidate = candidate.seq, None
        if candidate is None:
            candidate = self.store.read(source.pg_candidate)
            if not candidate.writers:
                self._settled, candidate = candidate.seq, None
        self._candidate = candidate
        return self._settled

    def _deliver(self, spans: Spans) -> bool:
        """Send ``spans`` until the endpoint took or refused them; False when stopping first."""
        missing = {s[0].project_id for s in spans} - self._projects.keys()
        if missing:
            self._projects = self.store.read(source.project_names)
        try:
            body = request_body(spans, self._projects)
        except Exception as exc:
            return self._unencodable(spans, exc)
        if len(body) > MAX_BODY_BYTES and len(spans) > 1:
            return self._deliver_halves(spans)
        attempt = 0
        while True:
            answer = self._sender.post(body)
            if answer.action == "sent":
                self.sent_spans += len(spans)
                if self.state != "ok":
                    self._set_state("ok")
                return True
            if answer.action == "too_large" and len(spans) > 1:
                return self._deliver_halves(spans)
            if answer.action != "retry":
                self._dropped(spans, answer)
                return True
            self._set_state("retrying", answer.message)
            self._measure_lag()
            if self._stop.wait(backoff_s(attempt, answer.delay)):
                return False
            attempt += 1

    def _unencodable(self, spans: Spans, exc: Exception) -> bool:
        """A span that cannot be encoded is dropped alone (found by halving), so it cannot
        hold back everything stored after it."""
        if len(spans) > 1:
            return self._deliver_halves(spans)
        log.error("OTLP forwarding: cannot encode span %s", spans[0][0].span_key, exc_info=exc)
        self._dropped(spans, Answer("drop", f"cannot encode: {type(exc).__name__}: {exc}"))
        return True

    def _deliver_halves(self, spans: Spans) -> bool:
        half = len(spans) // 2
        return self._deliver(spans[:half]) and self._deliver(spans[half:])

    def _dropped(self, spans: Spans, answer: Answer) -> None:
        self.dropped_spans += len(spans)
        self._note_error(answer.message)
        if self.state != "dropping":
            self.state = "dropping"
            log.error(
                "OTLP endpoint %s refused %d span(s), dropped (counted in /api/health"
                " otlpExport.droppedSpans; later refusals are only counted): %s",
                self.endpoint,
                len(spans),
                answer.message,
            )

    def _measure_lag(self) -> None:
        # Past the cursor: on PostgreSQL also rows not settled yet, and the gaps of rolled back
        # transactions (an estimate there; exact on SQLite).
        self.lag_events = max(0, self.store.read(source.last_seq) - self._committed)
        oldest = self._assembler.oldest_waiting_us() if self._assembler else None
        if oldest is None and self.lag_events:
            oldest = self.store.read(source.created_after, self._committed)
        self._lag_since_us = oldest

    def _lead(self) -> bool:
        """Whether this server forwards: always on SQLite (one server per file); on PostgreSQL
        while it holds the lead lock, in a session of its own (kept while standing by)."""
        if not self.store.postgres:
            return True
        if self._lead_conn is None:
            from whyops.server.store import pg

            self._lead_conn = pg.connect(self.store.path)
        if self._leading:
            self._lead_conn.raw.execute("SELECT 1")  # raises when the session is gone
            return True
        row = self._lead_conn.raw.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", LEAD_LOCK
        ).fetchone()
        if not (row and row[0]):
            self._set_state("standby")
            return False
        self._leading, self._assembler, self._candidate = True, None, None
        return True

    def _release_lead(self) -> None:
        """Forget the lead (its session may be gone); read again from the committed cursor."""
        self._assembler, self._leading = None, False
        if self._lead_conn is not None:
            self._lead_conn.close()
            self._lead_conn = None

    def _note_error(self, message: str) -> None:
        self.last_error, self.last_error_at = message, format_us(now_us())

    def _set_state(
        self, state: str, error: str | None = None, exc: BaseException | None = None
    ) -> None:
        if error is not None:
            self._note_error(error)
        if state == self.state:
            return
        before, self.state = self.state, state
        if state == "ok":
            level = logging.INFO if before in ("starting", "standby") else logging.WARNING
            log.log(level, "OTLP forwarding to %s works", self.endpoint)
        elif state == "standby":
            log.info("OTLP forwarding: another server forwards; this one stands by")
        else:
            log.warning("OTLP forwarding to %s %s: %s", self.endpoint, state, error, exc_info=exc)


def _age_s(created_us: int | None) -> float:
    return 0.0 if created_us is None else max(0.0, (now_us() - created_us) / 1e6)
