"""WhyOps event dicts for one proxied model call (pure).

Provider modules describe what happened as :class:`Draft` events (type,
content, metadata); :func:`build_events` stamps the fields every event of the
call shares: trace, agent, span (one spanId for the whole call, per
docs/wire-format.md), parent span, timestamps and idempotency keys.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Iterable
from typing import Any

import attrs

from whyops.wire.events import NEEDS_MODEL, EventType
from whyops.wire.stamp import span_fields, stamped

JSON = dict[str, Any]
# Upstream JSON may hold what the store cannot: NaN/Infinity, and lone surrogate escapes
# (rare, so only text that has such an escape is repaired).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


@attrs.frozen(slots=True)
class Draft:
    """One event of a call before the shared fields are stamped on.

    ``refs``: ids (besides its tool call ids) by which later requests may refer
    to this answer, such as a Responses id; remembered, never recorded.
    """

    event_type: str
    content: Any
    metadata: JSON = attrs.field(factory=dict)
    refs: tuple[str, ...] = ()


@attrs.frozen(slots=True)
class CallInfo:
    """Who made a proxied call and where it belongs in the trace tree."""

    trace_id: str
    agent_name: str
    span_id: str
    span_name: str
    span_kind: str
    thread_id: str | None = None
    parent_span_id: str | None = None
    external_user_id: str | None = None
    agent_named: bool = True  # False: no X-Agent-Name, recorded under the default agent


def parse_answer(text: str | bytes) -> Any:
    """Upstream JSON as storable values: NaN and Infinity become null, a lone surrogate
    U+FFFD. Raises ``ValueError`` for text that is not JSON."""
    if isinstance(text, bytes):  # json.loads would let raw surrogate bytes through
        text = _utf8(text)
    value = json.loads(text, parse_constant=_no_constant)
    if _SURROGATE_ESCAPE.search(text):
        clean = _SURROGATE.sub("\ufffd", json.dumps(value, ensure_ascii=False))
        value = json.loads(clean)
    return value


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace")


def _no_constant(name: str) -> None:
    return None


def new_span_id() -> str:
    return secrets.token_hex(8)


def new_trace_id() -> str:
    """A WhyOps-style ``thread_<16 chars>`` id."""
    return "thread_" + secrets.token_urlsafe(12)[:16]


def utc_timestamp(epoch_seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch_seconds, tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_events(call: CallInfo, drafts: Iterable[Draft], epoch: float, first: int) -> list[JSON]:
    """Full event dicts; ``first`` is the position of the first draft within the span."""
    timestamp = utc_timestamp(epoch)
    fields = _span_fields(call)
    return [_event(call, fields, draft, timestamp, first + n) for n, draft in enumerate(drafts)]


MAX_NAME = 255


def recordable_metadata(event_type: str, metadata: JSON) -> JSON:
    """``metadata`` with a usable model and provider where the schema requires them.

    Upstream answers are not trusted to name their model with a string: an
    unusable name becomes ``"unknown"`` rather than getting the event refused.
    """
    if event_type not in NEEDS_MODEL:
        return metadata
    fixed = {key: _name(metadata.get(key)) for key in ("model", "provider")}
    if all(fixed[key] == metadata.get(key) for key in fixed):
        return metadata
    return {**metadata, **fixed}


def _name(value: Any) -> str:
    if type(value) is str and value:
        return value[:MAX_NAME]
    return "unknown"


def _event(
    call: CallInfo, fields: dict[str, str], draft: Draft, timestamp: str, position: int
) -> JSON:
    body = {
        "eventType": str(draft.event_type),  # the plain text, never the enum member
        "timestamp": timestamp,
        "content": draft.content,
        "metadata": _call_metadata(call, recordable_metadata(draft.event_type, draft.metadata)),
    }
    return stamped(body, fields, position)


def _span_fields(call: CallInfo) -> dict[str, str]:
    return span_fields(
        trace_id=call.trace_id,
        agent_name=call.agent_name,
        span_id=call.span_id,
        span_kind=call.span_kind,
        span_name=call.span_name,
        parent_span_id=call.parent_span_id,
        thread_id=call.thread_id,
        external_user_id=call.external_user_id,
    )


def _call_metadata(call: CallInfo, metadata: JSON) -> JSON:
    """``metadata``, marked ``agentNameSource: "default"`` when the call named no agent."""
    return metadata if call.agent_named else {**metadata, "agentNameSource": "default"}


def compact(mapping: JSON) -> JSON:
    """``mapping`` without None values (optional fields stay absent on the wire)."""
    return {key: value for key, value in mapping.items() if value is not None}


def error_draft(
    status: int | None, body: Any, *, model: str | None, provider: str, latency_ms: int
) -> Draft:
    """An ``error`` draft from an upstream error body (parsed JSON or text)."""
    message, kind = _error_message(body)
    content = compact({"message": message, "type": kind, "status": status, "body": body})
    metadata = compact(
        {
            "model": model,
            "provider": provider,
            "latencyMs": latency_ms,
            "status": "error",
            "httpStatus": status,
        }
    )
    return Draft(EventType.ERROR, content, metadata)


def _error_message(body: Any) -> tuple[str, str | None]:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error), error.get("type") or error.get("code")
        if error is not None:
            return str(error), None
        if "message" in body:
            return str(body["message"]), body.get("type")
    return str(body)[:2000], None
