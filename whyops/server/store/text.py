"""Text PostgreSQL cannot hold: U+0000 (NUL). SQLite stores it; on PostgreSQL an event whose
text fields hold one is refused with a 400 naming the field, before anything is written.
(Content and metadata are JSON text, where NUL is written ``\\u0000``: always storable.)
"""

from __future__ import annotations

from collections.abc import Sequence

from whyops.server.store.rows import EventRow

# EventRow attribute -> the posted field it comes from.
TEXT_FIELDS = {
    "trace_id": "traceId",
    "agent_name": "agentName",
    "span_id": "spanId",
    "parent_span_id": "parentSpanId",
    "span_kind": "spanKind",
    "span_name": "spanName",
    "thread_id": "threadId",
    "external_user_id": "externalUserId",
    "idempotency_key": "idempotencyKey",
    "model": "metadata.model",
    "provider": "metadata.provider",
    "finish_reason": "content.finishReason",
}
NUL_MESSAGE = "Must not contain the NUL character (\\u0000)"


def nul_issues(rows: Sequence[EventRow], *, listed: bool) -> list[dict[str, str]]:
    """One validation issue per text field holding a NUL; ``listed``: the body was an array."""
    issues = []
    for row in rows:
        for attribute, field in TEXT_FIELDS.items():
            value = getattr(row, attribute)
            if value is not None and "\x00" in value:
                name = f"{row.item}.{field}" if listed else field
                issues.append({"field": name, "message": NUL_MESSAGE, "code": "invalid_string"})
    return issues
