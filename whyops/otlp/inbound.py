"""OTLP spans (the OTLP/JSON dict of an ``ExportTraceServiceRequest``) → WhyOps wire events.

Pure: no I/O, no clock. Each span is checked (ids, attribute count and depth, times); a bad
one is rejected with a reason naming it, the others are read (:mod:`whyops.otlp.inbound_spans`)
and encoded by the SDK's own encoder, :func:`whyops.wire.encode.to_events`, so they are the
events ``POST /api/events/ingest`` takes from the SDK: same types, content, metadata and
idempotency keys (``spanId:position``, so a batch sent again stores nothing twice).

Agent name, thread and end user: the span's own attributes, else its nearest ancestor's in
the batch; the agent then falls back to the resource's ``service.name``; thread and user to
any span of the same trace in the batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import reduce
from typing import Any

import attrs

from whyops.otlp import conventions as c
from whyops.otlp.attributes import attribute_dict
from whyops.otlp.inbound_checks import MAX_ATTRIBUTES, label, problem_of
from whyops.otlp.inbound_messages import CONTENT_EVENTS, is_content_key
from whyops.otlp.inbound_spans import AgentDefinition, Described, describe, own_agent_name
from whyops.otlp.inbound_values import clean, first, json_value, listed, name, text_of
from whyops.wire.encode import to_events
from whyops.wire.events import EventType
from whyops.wire.records import ExceptionInfo, SpanRecord, Status

__all__ = ["MAX_ATTRIBUTES", "AgentDefinition", "Translation", "translate"]

#: Reasons kept in :attr:`Translation.errors`.
MAX_ERRORS = 10
MAX_ID = 128  # traceId, threadId, as the ingest route takes them
MAX_WIRE_SPAN_ID = 120  # leaves room for ":position" in an idempotency key of 128
MAX_USER = 255
_LLM_RESPONSE = EventType.LLM_RESPONSE.value
_USER_MESSAGE = EventType.USER_MESSAGE.value
JSON = dict[str, Any]
Inherited = tuple[str | None, str | None, str | None]  # agent, thread, end user
NOTHING_INHERITED: Inherited = (None, None, None)


@attrs.frozen
class Translation:
    """The events of a request's accepted spans, the agents they define, and what was refused."""

    events: list[JSON]
    agents: list[AgentDefinition]
    spans: int
    rejected: int
    errors: list[str]


@attrs.frozen
class _Span:
    """One accepted span, its values read."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any], int]]
    status_code: int
    status_message: str
    service: str | None
    scope: str | None


# -- reading the request defensively -------------------------------------------------------


def _located(request: Any) -> Iterator[tuple[str | None, Any, Any]]:
    """(service name, scope, span) of every span in the request."""
    if not isinstance(request, dict):
        return
    for resource_spans in listed(request.get("resourceSpans")):
        if not isinstance(resource_spans, dict):
            continue
        service = _service_name(resource_spans.get("resource"))
        for scope_spans in listed(resource_spans.get("scopeSpans")):
            if not isinstance(scope_spans, dict):
                continue
            for span in listed(scope_spans.get("spans")):
                yield service, scope_spans.get("scope"), span


def _service_name(resource: Any) -> str | None:
    """A resource's ``service.name``, the one attribute of it WhyOps reads: read once for
    all its spans, and an odd attribute beside it refuses nothing (unlike a span's own)."""
    kvs = resource.get("attributes") if isinstance(resource, dict) else None
    found = None
    for kv in listed(kvs):  # the last one wins, as in attribute_dict
        if isinstance(kv, dict) and kv.get("key") == c.SERVICE_NAME:
            value = kv.get("value")
            found = name(value.get("stringValue")) if isinstance(value, dict) else None
    return found


def _event(event: Any) -> tuple[str, dict[str, Any], int]:
    if not isinstance(event, dict):
        return "", {}, 0
    event_name = event.get("name")
    when = event.get("timeUnixNano")
    attributes = clean(attribute_dict(event.get("attributes")))
    return (
        event_name if isinstance(event_name, str) else "",
        attributes,
        when if type(when) is int else 0,
    )


def _read(service: str | None, scope: Any, span: Mapping[str, Any]) -> _Span:
    status = span.get("status")
    status = status if isinstance(status, dict) else {}
    code, message = status.get("code"), status.get("message")
    scope_name = scope.get("name") if isinstance(scope, dict) else None
    span_name = span.get("name")
    return _Span(
        trace_id=span["traceId"],
        span_id=span["spanId"],
        parent_id=span.get("parentSpanId") or None,
        name=span_name if isinstance(span_name, str) else "",
        start_ns=span["startTimeUnixNano"],
        end_ns=span["endTimeUnixNano"],
        attributes=clean(attribute_dict(span.get("attributes"))),
        events=[_event(event) for event in listed(span.get("events"))],
        status_code=code if type(code) is int else c.STATUS_UNSET,
        status_message=message if isinstance(message, str) else "",
        service=service,
        scope=scope_name if isinstance(scope_name, str) and scope_name else None,
    )


# -- what a span inherits from the batch ----------------------------------------------------


class _Batch:
    """The accepted spans of one request, for what a span takes from its ancestors."""

    def __init__(self, spans: list[_Span]) -> None:
        self.by_id = {(s.trace_id, s.span_id): s for s in spans}
        self.by_trace: dict[str, list[_Span]] = {}
        for span in spans:
            self.by_trace.setdefault(span.trace_id, []).append(span)
        self._nearest: dict[tuple[str, str], Inherited] = {}
        self._in_trace: dict[str, Inherited] = {}

    def _lineage(self, span: _Span) -> Iterator[_Span]:
        """The span, its parent, its parent's parent … (as far as the batch holds them)."""
        seen: set[str] = set()
        current: _Span | None = span
        while current is not None and current.span_id not in seen:
            yield current
            seen.add(current.span_id)
            parent = current.parent_id
            current = self.by_id.get((current.trace_id, parent)) if parent else None

    def wire_span_id(self, trace_id: str, span_id: str) -> str:
        """The WhyOps span id a span was exported from (``whyops.span.id``), else its own."""
        span = self.by_id.get((trace_id, span_id))
        original = span.attributes.get(c.WHYOPS_SPAN_ID) if span is not None else None
        return name(original, MAX_WIRE_SPAN_ID) or span_id

    def nearest(self, span: _Span) -> Inherited:
        """(agent, thread, user): each the span's own, else its nearest ancestor's. What each
        span walked through gets is kept, so however deep the tree each span is read once."""
        walked: list[tuple[tuple[str, str], _Span]] = []
        found = NOTHING_INHERITED
        for ancestor in self._lineage(span):
            key = (ancestor.trace_id, ancestor.span_id)
            if key in self._nearest:
                found = self._nearest[key]
                break
            walked.append((key, ancestor))
        for key, ancestor in reversed(walked):
            found = _merged(_own(ancestor), found)
            self._nearest[key] = found
        return found

    def inherited(self, span: _Span) -> Inherited:
        """(agent, thread, user) of a span: its nearest, then for thread and user any span of
        its trace, and for the agent the service that sent it."""
        agent, thread, user = self.nearest(span)
        if thread is None or user is None:
            if span.trace_id not in self._in_trace:  # once per trace: a wide trace stays linear
                owns = (self.nearest(s) for s in self.by_trace.get(span.trace_id, ()))
                self._in_trace[span.trace_id] = reduce(_merged, owns, NOTHING_INHERITED)
            _, thread, user = _merged((None, thread, user), self._in_trace[span.trace_id])
        return (span.service if agent is None else agent), thread, user


def _own(span: _Span) -> Inherited:
    attributes = span.attributes
    return (
        own_agent_name(attributes, span.name),
        name(first(attributes, c.THREAD_KEYS), MAX_ID),
        name(first(attributes, c.USER_KEYS), MAX_USER),
    )


def _merged(own: Inherited, other: Inherited) -> Inherited:
    """``own``, each value it lacks taken from ``other``."""
    return (
        other[0] if own[0] is None else own[0],
        other[1] if own[1] is None else own[1],
        other[2] if own[2] is None else own[2],
    )


# -- one span → its events -------------------------------------------------------------------


def _failure(span: _Span) -> tuple[ExceptionInfo | None, int | None]:
    """The exception that ended a failed span (and the index of its event), or (None, None).

    Failed: status ERROR, or status unset with an ``exception`` event recorded.
    """
    index = next((n for n, e in enumerate(span.events) if e[0] == c.EXCEPTION_EVENT), None)
    failed = span.status_code == c.STATUS_ERROR
    if not failed and not (span.status_code == c.STATUS_UNSET and index is not None):
        return None, None
    if index is None:
        kind = name(span.attributes.get(c.ERROR_TYPE)) or "Error"
        return ExceptionInfo(type=kind, message=span.status_message), None
    attributes = span.events[index][1]
    message = attributes.get(c.EXCEPTION_MESSAGE)
    stack = attributes.get(c.EXCEPTION_STACKTRACE)
    info = ExceptionInfo(
        type=name(attributes.get(c.EXCEPTION_TYPE)) or "Exception",
        message=text_of(message) if message is not None else span.status_message,
        traceback=stack if isinstance(stack, str) else "",
    )
    return info, index


def _kept_attributes(span: _Span, consumed: int | None) -> dict[str, Any]:
    """The span's attributes WhyOps keeps as they are: all but the content it holds in its
    own fields, plus the service, scope, status message and the other span events."""
    kept = {
        key: value
        for key, value in span.attributes.items()
        if not is_content_key(key) and not key.startswith("whyops.")
    }
    if span.service is not None:
        kept[c.SERVICE_NAME] = span.service
    if span.scope is not None:
        kept["otel.scope.name"] = span.scope
    if span.status_message:
        kept["otel.status_description"] = span.status_message
    others = [
        {"name": event_name, "timeUnixNano": when, "attributes": attributes}
        for n, (event_name, attributes, when) in enumerate(span.events)
        if n != consumed and event_name not in CONTENT_EVENTS
    ]
    if others:
        kept["otel.events"] = others
    return kept


def _record(span: _Span, said: Described, batch: _Batch) -> SpanRecord:
    exception, consumed = _failure(span)
    agent, thread, user = batch.inherited(span)
    return SpanRecord(
        trace_id=name(span.attributes.get(c.WHYOPS_TRACE_ID), MAX_ID) or span.trace_id,
        span_id=batch.wire_span_id(span.trace_id, span.span_id),
        parent_span_id=batch.wire_span_id(span.trace_id, span.parent_id)
        if span.parent_id
        else None,
        name=said.name,
        kind=said.kind,
        start_time_ns=span.start_ns,
        end_time_ns=span.end_ns,
        duration_ns=span.end_ns - span.start_ns,
        status=Status.ERROR if exception is not None else Status.OK,
        agent_name=agent,
        thread_id=thread,
        external_user_id=user,
        inputs=said.inputs,
        output=said.output,
        has_output=said.has_output,
        exception=exception,
        thinking=said.thinking,
        usage=said.usage,
        model=said.model,
        provider=said.provider,
        attributes=_kept_attributes(span, consumed),
    )


def _as_is(value: Any, path: tuple[Any, ...]) -> Any:
    return value  # already JSON data (inbound_values.clean)


def _events_of(span: _Span, batch: _Batch) -> tuple[list[JSON], AgentDefinition | None]:
    said = describe(span.attributes, [(n, a) for n, a, _ in span.events], span.name)
    events = to_events(_record(span, said, batch), _as_is)
    opening, closing = events[0], events[-1]
    if said.opening_meta and opening["eventType"] == _USER_MESSAGE:
        opening["metadata"] = {**opening["metadata"], **said.opening_meta}
    exported = json_value(span.attributes.get(c.WHYOPS_METADATA))  # a WhyOps export's extras
    if isinstance(exported, dict):
        opening["metadata"] = {**exported, **opening["metadata"]}
    if said.answer is not None and closing["eventType"] == _LLM_RESPONSE:
        closing["content"] = said.answer
    if said.call_id is not None:
        calls = opening["content"].get("toolCalls") or [{}]
        calls[0]["id"] = said.call_id  # one object, shared by the span's request and response
    return events, said.agent


def translate(request: Any) -> Translation:
    """The WhyOps events of an OTLP/JSON ``ExportTraceServiceRequest`` dict. Never raises."""
    accepted: list[_Span] = []
    errors: list[str] = []
    seen = rejected = 0
    for service, scope, span in _located(request):
        seen += 1
        problem = problem_of(span)
        if problem is None:
            try:
                accepted.append(_read(service, scope, span))
            except Exception as exc:  # a shape no check foresaw: refuse the span, not the batch
                problem = f"could not be read ({type(exc).__name__})"
        if problem is not None:
            rejected += 1
            if len(errors) < MAX_ERRORS:
                errors.append(f"{label(span)}: {problem}")
    events: list[JSON] = []
    agents: dict[tuple[str, str], AgentDefinition] = {}
    batch = _Batch(accepted)
    for read in accepted:
        try:
            span_events, agent = _events_of(read, batch)
        except Exception as exc:  # never one span's oddity failing the request
            rejected += 1
            if len(errors) < MAX_ERRORS:
                errors.append(f"span {read.span_id}: could not be translated ({exc!r:.200})")
            continue
        events += span_events
        if agent is not None:
            agents.setdefault((agent.name, text_of(agent.metadata)), agent)
    return Translation(events, list(agents.values()), seen, rejected, errors)
