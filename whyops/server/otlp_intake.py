"""An OTLP trace export from raw bytes to stored events, as one job of the writer thread.

Like an ingest batch (``intake.py``): the event loop only reads the body; un-gzipping,
decoding, translating (``whyops.otlp.inbound``), validating and inserting happen together on
the writer thread, in the transaction that the answer waits for. Unlike an ingest batch, one
bad span does not refuse the others: its events are left out and counted as rejected
(``partial_success``), everything else is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from whyops.server.agent_schema import parse_agent_init
from whyops.server.bodies import BodyError, decode_body, parse_json
from whyops.server.intake import checked_rows
from whyops.server.store.agents import init_agent
from whyops.server.store.dialect import Connection, dialect_of
from whyops.server.store.ingest import insert_events
from whyops.server.store.rows import EventRow
from whyops.server.store.text import NUL_MESSAGE
from whyops.server.store.writer import WriterState

# Reasons quoted in ``partial_success.error_message``; the count covers all of them.
MAX_REASONS = 10
_SpanKey = tuple[Any, Any]


@attrs.frozen
class Failed:
    """An export refused before anything was written: the HTTP status and why."""

    status: int
    message: str


@attrs.frozen
class Exported:
    """What the answer reports: spans received, spans rejected, and why."""

    spans: int
    rejected: int
    reasons: list[str]
    stored_events: int

    @property
    def message(self) -> str:
        shown = self.reasons[:MAX_REASONS]
        more = len(self.reasons) - len(shown)
        return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


@attrs.frozen(kw_only=True)
class OtlpIntake:
    """A raw OTLP/HTTP trace body and everything needed to turn it into stored events."""

    raw: bytes
    encoding: str | None
    media: str
    received_us: int
    max_body_bytes: int
    max_batch_events: int

    def translate(self) -> Any:
        """The body's ``Translation``; raises BodyError (400, 413, 415)."""
        from whyops.otlp.proto import MEDIA_JSON, OtlpDecodeError, decode_request

        body = decode_body(self.raw, self.encoding, self.max_body_bytes)
        if self.media == MEDIA_JSON:  # the rules of every JSON body (UTF-8, no lone surrogate)
            parse_json(body)
        try:
            request = decode_request(body, self.media)
        except (OtlpDecodeError, RecursionError) as exc:
            raise BodyError(400, f"Invalid OTLP body: {exc}") from None
        from whyops.otlp.inbound import translate

        translation = translate(request)
        if len(translation.events) > self.max_batch_events:
            message = (
                f"Payload Too Large: {translation.spans} spans make {len(translation.events)}"
                f" events, the limit is {self.max_batch_events}"
            )
            raise BodyError(413, message)
        return translation

    def run(self, conn: Connection, state: WriterState, project_id: str) -> Exported | Failed:
        """Decode, translate, register agents and insert; a failed export writes nothing."""
        try:
            translation = self.translate()
        except BodyError as exc:
            return Failed(exc.status, exc.message)
        reasons = list(translation.errors)
        rows, bad_spans = _rows_by_span(conn, translation.events, self.received_us, reasons)
        holds_nul = dialect_of(conn).holds_nul
        agents = _agent_inits(translation.agents, holds_nul, reasons)
        state.lock(conn, _lock_names(project_id, agents, rows))  # all at once, in one order
        for name, metadata in agents:
            init_agent(conn, state, project_id, name, metadata)
        if rows:
            insert_events(conn, state, project_id, rows)
        rejected = min(translation.rejected + bad_spans, translation.spans)
        return Exported(translation.spans, rejected, reasons, len(rows))


def _rows_by_span(
    conn: Connection, events: Sequence[dict[str, Any]], received_us: int, reasons: list[str]
) -> tuple[list[EventRow], int]:
    """The rows of every span whose events all validate, and how many spans did not."""
    rows, details = checked_rows(conn, events, received_us=received_us)
    if not details:  # the usual case: the whole export in one pass
        return rows, 0
    rows = []
    bad_spans = 0
    for span_events in _by_span(events):
        span_rows, details = checked_rows(conn, span_events, received_us=received_us)
        if details:
            bad_spans += 1
            reasons.append(_span_reason(span_events[0], details[0]))
        else:
            rows.extend(span_rows)
    return rows, bad_spans


def _by_span(events: Iterable[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    spans: dict[_SpanKey, list[dict[str, Any]]] = {}
    for event in events:
        key = (event.get("traceId"), event.get("spanId"))
        spans.setdefault(key, []).append(event)
    return list(spans.values())


def _span_reason(event: dict[str, Any], issue: dict[str, str]) -> str:
    """``span 5b8aa5a2d2c872e8 (chat gpt-4o): metadata.model: Required``."""
    field = issue["field"].split(".", 1)[1] if "." in issue["field"] else issue["field"]
    name = event.get("spanName")
    named = f" ({_short(name)})" if isinstance(name, str) and name else ""
    return f"span {_short(event.get('spanId'))}{named}: {field}: {issue['message']}"


def _short(value: Any, limit: int = 64) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = text.replace("\x00", "\\u0000")
    return text if len(text) <= limit else text[:limit] + "…"


def _agent_inits(
    agents: Iterable[Any], holds_nul: bool, reasons: list[str]
) -> list[tuple[str, dict[str, Any]]]:
    """(name, schema-ordered metadata) of each agent found, checked as agent init checks its
    body (so its versionHash is the one agent init gives); a bad one is named, not stored."""
    found: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for agent in agents:
        body = {"agentName": agent.name, "metadata": agent.metadata}
        name, metadata, issues = parse_agent_init(body)
        if not issues and "\x00" in name and not holds_nul:
            issues = [{"path": ["agentName"], "message": NUL_MESSAGE}]
        if issues:
            where = ".".join(str(part) for part in issues[0]["path"])
            reasons.append(f"agent {_short(agent.name)}: {where}: {issues[0]['message']}")
            continue
        found[(name, repr(metadata))] = (name, metadata)  # once per distinct definition
    return list(found.values())


def _lock_names(
    project_id: str, agents: Sequence[tuple[str, dict[str, Any]]], rows: Sequence[EventRow]
) -> list[tuple[str, ...]]:
    """The agents registered and the traces written (as ``ingest._lock_names`` names them):
    locked in one call so two servers writing the same ones cannot wait on each other."""
    names: list[tuple[str, ...]] = [("agent", project_id, name) for name, _ in agents]
    names += [("trace", project_id, trace) for trace in {row.trace_id for row in rows}]
    return names
