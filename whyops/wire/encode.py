"""Span records → WhyOps events, exactly as docs/wire-format.md specifies. Pure functions.

Each span kind is described once (:data:`SPAN_KINDS`: its opening and closing event and
how their content reads); :func:`to_events` builds a span's events from it. Every exporter
sends these dicts: the HTTP exporter as their JSON text (``whyops.wire.text.json_text``),
the JSONL exporter a line each, the in-memory exporter as they are.

Captured values are the caller's objects. The caller of this module says how to make them
JSON-safe: ``safe(value, path)``, the SDK's capture rules and limits, run where the encoding
runs (on the flusher thread). A span's output that is a provider answer is read by
:mod:`whyops.wire.shape`, its usage written by :mod:`whyops.wire.usage`, as the proxy's are;
an exception takes its wire form from :mod:`whyops.wire.parts`, imported on first use (it
imports cattrs).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from operator import attrgetter
from types import ModuleType
from typing import Any

import attrs

from whyops.wire.events import EventType
from whyops.wire.records import ExceptionInfo, SpanKind, SpanRecord, Status
from whyops.wire.shape import shape_of, thinking_content
from whyops.wire.stamp import (
    DEFAULT_AGENT_NAME,
    iso_timestamp,
    span_fields,
    stamped,
)
from whyops.wire.text import json_text, string_text
from whyops.wire.usage import usage_wire

__all__ = [
    "SPAN_KINDS",
    "EventSpec",
    "Field",
    "Safe",
    "SpanKindSpec",
    "error_content",
    "to_events",
]

#: ``safe(value, path)``: ``value`` as JSON data (``path`` names where it was captured).
Safe = Callable[[Any, tuple[Any, ...]], Any]
Body = dict[str, Any]

# Plain strings for enum members: ``Enum.value`` is a slow descriptor on the flusher's path.
_KIND = {kind: kind.value for kind in SpanKind}
_STATUS = {status: status.value for status in Status}
# Read once: an enum member costs about ten times an attribute to look up.
_THINKING, _ERROR = EventType.LLM_THINKING.value, EventType.ERROR.value
_FAILED, _LLM = Status.ERROR, SpanKind.LLM
_parts_module: ModuleType | None = None


def _parts() -> ModuleType:
    global _parts_module
    if _parts_module is None:
        from whyops.wire import parts

        _parts_module = parts
    return _parts_module


def error_content(info: ExceptionInfo | None, safe: Safe) -> dict[str, Any]:
    """The ``error`` content: ``{"message", "type", "stack", "originSpanId"}``."""
    if info is None:
        return {"message": "error", "type": "Error"}
    message = safe(f"{info.type}: {info.message}", ())
    content: dict[str, Any] = {"message": message, **_parts().exception_content(info)}
    if "stack" in content:
        content["stack"] = safe(content["stack"], ())
    return content


def to_events(record: SpanRecord, safe: Safe, default_agent: str | None = None) -> list[Body]:
    """The WhyOps events of one span: opening, thinking…, then closing (or ``error``).

    ``default_agent`` names a trace that nothing else named.
    """
    values = _SpanValues(record, safe)
    spec = SPAN_KINDS.get(record.kind, _TOOL)
    bodies = [spec.opening.body(values, values.start)]
    if record.thinking:
        meta = values.model_meta(required=False)
        for block in record.thinking:
            content = thinking_content(block)
            bodies.append(_body(_THINKING, values.end, content, dict(meta)))
    if record.status is _FAILED:
        content = error_content(record.exception, safe)
        meta = values.model_meta(required=False) if record.kind is _LLM else {}
        meta["tool"] = record.name
        bodies.append(_body(_ERROR, values.end, content, values.closing_meta(meta)))
    else:
        bodies.append(spec.closing.body(values, values.end))
    fields = _fields(record, default_agent)
    return [stamped(body, fields, n) for n, body in enumerate(bodies)]


def _body(event_type: str, timestamp: str, content: Any, metadata: Body) -> Body:
    return {
        "eventType": event_type,
        "timestamp": timestamp,
        "content": content,
        "metadata": metadata,
    }


def _fields(record: SpanRecord, default_agent: str | None) -> dict[str, str]:
    fields = span_fields(
        trace_id=record.trace_id,
        agent_name=record.agent_name,
        span_id=record.span_id,
        span_kind=_KIND[record.kind],
        span_name=record.name,
        parent_span_id=record.parent_span_id,
        thread_id=record.thread_id,
        external_user_id=record.external_user_id,
    )
    if default_agent and fields["agentName"] == DEFAULT_AGENT_NAME:
        fields["agentName"] = default_agent
    return fields


class _SpanValues:
    """The values of one span in wire form, each computed once for all its events."""

    __slots__ = ("_calls", "end", "record", "safe", "start")

    def __init__(self, record: SpanRecord, safe: Safe) -> None:
        self.record = record
        self.safe = safe
        self.start = iso_timestamp(record.start_time_ns)
        self.end = iso_timestamp(record.end_time_ns)
        self._calls: list[Body] | None = None

    def inputs(self) -> Any:
        inputs = self.record.inputs
        return {} if inputs is None else self.safe(inputs, ("inputs",))

    def output(self) -> Any:
        r = self.record
        return self.safe(r.output, ("output",)) if r.has_output else None

    def tool_calls(self) -> list[Body]:
        """The span as the one tool call both of its events name (one object, shared)."""
        if self._calls is None:
            self._calls = [_build_tool_call(self)]
        return self._calls

    def model_meta(self, required: bool) -> Body:
        r = self.record
        meta: Body = {}
        if r.model or required:
            meta["model"] = r.model or "unknown"
        if r.provider or required:
            meta["provider"] = r.provider or "unknown"
        return meta

    def closing_meta(self, meta: Body) -> Body:
        meta.update(_build_closing_meta(self))
        return meta


# -- the span kinds, as data -------------------------------------------------------------

Part = Callable[[_SpanValues], Any]


@attrs.frozen(slots=True)
class Field:
    """One key of an event's content or metadata and the part of the span it holds."""

    key: str
    part: Part
    #: The value as JSON text, for the text writer: ``json_text``, or a cheaper function
    #: when the value's type is certain (``string_text`` for a str).
    text: Callable[[Any], str] = json_text
    #: Whether the key is written (truthy for the span); ``None``: always.
    when: Part | None = None
    #: The keys of the one object in the list ``part`` gives, if that is its value (the
    #: text writer writes it from them).
    item: tuple[Field, ...] = ()


#: An event's content or metadata: its keys, or a part that gives the whole object.
Content = tuple[Field, ...] | Part


def builder(content: Content) -> Part:
    """A function building the object ``content`` describes: compiled once, from its fields,
    into a dict display and a test per optional key (it runs for every event)."""
    if callable(content):
        return content
    namespace: dict[str, Any] = {}
    leading: list[str] = []  # the keys before the first optional one: one dict display
    lines: list[str] = []
    for n, field in enumerate(content):
        namespace[f"part{n}"], namespace[f"when{n}"] = field.part, field.when
        item = f"{field.key!r}: part{n}(values)"
        if field.when is None and not lines:
            leading.append(item)
        elif field.when is None:
            lines.append(f"built[{field.key!r}] = part{n}(values)")
        else:
            lines.append(f"if when{n}(values): built[{field.key!r}] = part{n}(values)")
    source = "\n    ".join(
        ["def build(values):", f"built = {{{', '.join(leading)}}}", *lines, "return built"]
    )
    exec(compile(source, "<whyops.wire.encode builder>", "exec"), namespace)
    build: Part = namespace["build"]
    return build


@attrs.frozen(slots=True)
class EventSpec:
    """One event of a span: its type and how its content and metadata read."""

    event_type: str  # an ``EventType`` value
    content: Content
    meta: Content

    _build_content: Part = attrs.field(init=False, repr=False, eq=False)
    _build_meta: Part = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_build_content", builder(self.content))
        object.__setattr__(self, "_build_meta", builder(self.meta))

    def body(self, values: _SpanValues, timestamp: str) -> Body:
        content, meta = self._build_content(values), self._build_meta(values)
        return _body(self.event_type, timestamp, content, meta)


@attrs.frozen(slots=True)
class SpanKindSpec:
    """What a span of one kind sends: an event that opens it and one that closes it
    (``error`` instead when it failed)."""

    opening: EventSpec
    closing: EventSpec


# Parts that only read an attribute are ``attrgetter``s: the text writer reads them inline.
_start: Part = attrgetter("start")
_end: Part = attrgetter("end")
_name: Part = attrgetter("record.name")
_duration_ns: Part = attrgetter("record.duration_ns")


def _latency_ms(v: _SpanValues) -> int:
    return round(v.record.duration_ns / 1_000_000)


def _status(v: _SpanValues) -> str:
    return _STATUS[v.record.status]


def _usage(v: _SpanValues) -> Body:
    usage = v.record.usage
    assert usage is not None  # written only when there is one
    return usage_wire(usage)


def _attributes(v: _SpanValues) -> Any:
    return v.safe(v.record.attributes, ("attributes",))


def _llm_messages(v: _SpanValues) -> Any:
    inputs = v.inputs()
    messages = inputs.get("messages") if isinstance(inputs, Mapping) else None
    if not isinstance(messages, list):
        text = json.dumps(inputs, ensure_ascii=False, default=str)
        messages = [{"role": "user", "content": text}]
    return messages


def _llm_answer(v: _SpanValues) -> Any:
    r = v.record
    shape = shape_of(r.output) if r.has_output else None
    if shape is not None:
        return v.safe(shape.content(r.output), ("output",))
    value = v.output()
    if value is None or isinstance(value, str):
        return {"content": value}
    return {"content": json.dumps(value, ensure_ascii=False, default=str)}


def _embedding_input(v: _SpanValues) -> Any:
    inputs = v.inputs()
    return inputs.get("input", inputs) if isinstance(inputs, Mapping) else inputs


def _embedding_answer(v: _SpanValues) -> Body:
    content: Body = {"object": "list"}
    output = v.output()
    if isinstance(output, Mapping):
        content.update({k: value for k, value in output.items() if k != "data"})
    elif output is not None:
        content["output"] = output
    return content


def _model_opening(v: _SpanValues) -> Body:
    return v.model_meta(required=False)


def _model(v: _SpanValues) -> str:
    return v.record.model or "unknown"


def _provider(v: _SpanValues) -> str:
    return v.record.provider or "unknown"


#: What every closing event's metadata ends with (an ``error`` event's too).
_CLOSING_META = (
    Field("latencyMs", _latency_ms, str),  # round() of a float: an int
    Field("durationNs", _duration_ns),
    Field("status", _status, string_text),
    Field("usage", _usage, when=attrgetter("record.usage")),  # a TokenUsage is truthy
    Field("attributes", _attributes, when=attrgetter("record.attributes")),
)
_TOOL_NAME = Field("name", _name, string_text)
_TOOL_CALL = (_TOOL_NAME, Field("arguments", _SpanValues.inputs))
_TOOL_CALLS = Field("toolCalls", _SpanValues.tool_calls, item=_TOOL_CALL)
_build_closing_meta, _build_tool_call = builder(_CLOSING_META), builder(_TOOL_CALL)
_TOOL_META = (attrs.evolve(_TOOL_NAME, key="tool"),)
_MODEL_CLOSING_META = (Field("model", _model), Field("provider", _provider), *_CLOSING_META)
_TOOL = SpanKindSpec(
    EventSpec(
        EventType.TOOL_CALL_REQUEST.value,
        (_TOOL_CALLS, Field("requestedAt", _start, string_text)),
        _TOOL_META,
    ),
    EventSpec(
        EventType.TOOL_CALL_RESPONSE.value,
        (
            _TOOL_CALLS,
            Field("toolResults", _SpanValues.output),
            Field("respondedAt", _end, string_text),
        ),
        (*_TOOL_META, *_CLOSING_META),
    ),
)
#: The events of each span kind; agents and plain spans are sent as tool calls.
SPAN_KINDS: dict[SpanKind, SpanKindSpec] = {
    SpanKind.TOOL: _TOOL,
    SpanKind.AGENT: _TOOL,
    SpanKind.SPAN: _TOOL,
    SpanKind.LLM: SpanKindSpec(
        EventSpec(
            EventType.USER_MESSAGE.value, (Field("messages", _llm_messages),), _model_opening
        ),
        EventSpec(EventType.LLM_RESPONSE.value, _llm_answer, _MODEL_CLOSING_META),
    ),
    SpanKind.EMBEDDING: SpanKindSpec(
        EventSpec(
            EventType.EMBEDDING_REQUEST.value, (Field("input", _embedding_input),), _model_opening
        ),
        EventSpec(EventType.EMBEDDING_RESPONSE.value, _embedding_answer, _MODEL_CLOSING_META),
    ),
}
