"""An ingest batch from raw bytes to stored events, as one job of the writer thread.

The event loop only reads the body; parsing, validating and inserting happen together on the
writer thread, so the two threads do not fight over the GIL for every row.
"""

from __future__ import annotations

from typing import Any

import attrs
from starlette.responses import JSONResponse

from whyops.server.bodies import BodyError, decode_body, parse_json
from whyops.server.store import EventResult, EventRow
from whyops.server.store.dialect import Connection, dialect_of
from whyops.server.store.ingest import insert_events
from whyops.server.store.text import nul_issues
from whyops.server.store.writer import WriterState
from whyops.server.validation import validate_events


@attrs.frozen
class Refused:
    """A batch turned down before anything was written: the answer to send."""

    status: int
    payload: dict[str, Any]

    def response(self) -> JSONResponse:
        return JSONResponse(self.payload, self.status)


@attrs.frozen
class Batch:
    """What the caller needs to answer: the posted shape and one result per stored event."""

    is_list: bool
    items: int
    results: list[EventResult]


@attrs.frozen(kw_only=True)
class Intake:
    """A raw ingest body and everything needed to turn it into stored events."""

    raw: bytes
    encoding: str | None
    header_user: str | None
    forced_type: str | None
    received_us: int
    max_body_bytes: int
    max_batch_events: int

    def parse(self) -> Any:
        body = parse_json(decode_body(self.raw, self.encoding, self.max_body_bytes))
        if isinstance(body, list) and len(body) > self.max_batch_events:
            message = (
                f"Payload Too Large: {len(body)} events in one batch,"
                f" the limit is {self.max_batch_events}"
            )
            raise BodyError(413, message)
        return body

    def run(self, conn: Connection, state: WriterState, project_id: str) -> Batch | Refused:
        """Parse, validate and insert; a refused batch writes nothing."""
        try:
            body = self.parse()
        except BodyError as exc:
            return Refused(exc.status, {"error": exc.message})
        rows, details = checked_rows(
            conn,
            body,
            received_us=self.received_us,
            header_user=self.header_user,
            forced_type=self.forced_type,
        )
        if details:
            return Refused(400, {"error": "Validation failed", "details": details})
        results = insert_events(conn, state, project_id, rows)
        is_list = isinstance(body, list)
        return Batch(is_list, len(body) if is_list else 1, results)


def checked_rows(
    conn: Connection,
    body: Any,
    *,
    received_us: int,
    header_user: str | None = None,
    forced_type: str | None = None,
) -> tuple[list[EventRow], list[dict[str, str]]]:
    """The rows of already-parsed events (an object or an array), or the issues naming each
    bad field, text this database cannot hold (a NUL on PostgreSQL) included."""
    rows, details = validate_events(
        body,
        received_us=received_us,
        default_external_user_id=header_user,
        forced_type=forced_type,
    )
    if not details and not dialect_of(conn).holds_nul:
        details = nul_issues(rows, listed=isinstance(body, list))
    return rows, details
