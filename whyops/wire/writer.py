"""A span's events as JSON text, written straight from :data:`~whyops.wire.encode.SPAN_KINDS`.

The text is exactly ``json.dumps`` of :func:`~whyops.wire.encode.to_events` (compact,
non-ASCII kept; tests/core/test_wirejson.py checks it on generated records), but written
without building the event dicts: at import, each span kind's description is compiled into
one function whose constant text (event types, keys, punctuation) is encoded once, so a
record pays only for encoding its values, each once even when both of its events hold it.

Spans that failed or carry thinking blocks, rarer, are encoded through their event dicts.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, cast

from whyops.wire.encode import (
    _FAILED,
    SPAN_KINDS,
    Content,
    EventSpec,
    Field,
    Part,
    Safe,
    SpanKindSpec,
    _end,
    _fields,
    _SpanValues,
    _start,
    to_events,
)
from whyops.wire.records import SpanKind, SpanRecord
from whyops.wire.stamp import event_key
from whyops.wire.text import json_text, string_text

__all__ = ["span_text"]

#: ``write(values, fields_text, first_key, second_key)``: a span's two events as text.
Writer = Callable[[_SpanValues, str, str, str], str]


def span_text(record: SpanRecord, safe: Safe, default_agent: str | None = None) -> str:
    """The span's events as comma-separated JSON objects (no enclosing brackets)."""
    if record.status is _FAILED or record.thinking:
        return json_text(to_events(record, safe, default_agent))[1:-1]
    fields = _fields(record, default_agent)
    span_id = fields["spanId"]
    write = _WRITERS.get(record.kind) or _WRITERS[SpanKind.TOOL]
    return write(
        _SpanValues(record, safe),
        ",".join([_KEY_TEXT[key] + string_text(value) for key, value in fields.items()]),
        string_text(event_key(span_id, 0)),
        string_text(event_key(span_id, 1)),
    )


class _KeyText(dict[str, str]):
    """``"key":`` of each key, made once (a dict: read faster than a cached function)."""

    def __missing__(self, key: str) -> str:
        text = self[key] = json_text(key) + ":"
        return text


_KEY_TEXT = _KeyText()  # the span's fields are all strings: only their keys are kept


class _Compiler:
    """Python source for one span kind's writer: a local per value, then one f-string."""

    def __init__(self) -> None:
        self.names: dict[object, str] = {}  # part or text function -> its global name
        self.locals: dict[tuple[Part, object], str] = {}  # (part, text) -> its local
        self.lines: list[str] = []

    def name(self, function: object) -> str:
        return self.names.setdefault(function, f"_f{len(self.names)}")

    def read(self, part: Part) -> str:
        """An expression for the part's value: an attribute read inline, else a call."""
        if isinstance(part, attrgetter):
            _, (path,) = cast(tuple[Any, tuple[str]], part.__reduce__())  # one dotted path
            return "values." + path
        return f"{self.name(part)}(values)"

    def value(self, field: Field) -> str:
        """A placeholder for the field's value as text (computed once per record)."""
        if field.item:
            return "[" + self.object(field.item) + "]"
        local = self.locals.get((field.part, field.text))
        if local is None:
            local = self.locals[field.part, field.text] = f"v{len(self.lines)}"
            self.lines.append(f"{local} = {self.name(field.text)}({self.read(field.part)})")
        return "{" + local + "}"

    def optional(self, field: Field, comma: str) -> str:
        """A placeholder for ``,"key":value``, or "" when the field is not written."""
        assert field.when is not None
        local = f"v{len(self.lines)}"
        pair = repr(comma + json_text(field.key) + ":")
        value = f"{self.name(field.text)}({self.read(field.part)})"
        self.lines.append(f'{local} = {pair} + {value} if {self.read(field.when)} else ""')
        return "{" + local + "}"

    def object(self, content: Content) -> str:
        if callable(content):
            return self.value(Field("", content))
        keys = [field.key for field in content]
        if not content or content[0].when is not None or len(set(keys)) < len(keys):
            raise ValueError(f"{keys}: the first key must always be written, none twice")
        pieces = []
        for n, field in enumerate(content):
            comma = "," if n else ""
            if field.when is not None:
                pieces.append(self.optional(field, comma))
            else:
                pieces.append(_literal(comma + json_text(field.key) + ":") + self.value(field))
        return "{{" + "".join(pieces) + "}}"

    def event(self, spec: EventSpec, timestamp: Part, key: str) -> str:
        return "".join(
            [
                _literal('{"eventType":' + json_text(spec.event_type) + ',"timestamp":'),
                self.value(Field("", timestamp, string_text)),
                _literal(',"content":') + self.object(spec.content),
                _literal(',"metadata":') + self.object(spec.meta),
                ",{fields}",
                _literal(',"idempotencyKey":') + "{" + key + "}}}",
            ]
        )


def _literal(text: str) -> str:
    """``text`` as the constant part of an f-string."""
    return text.replace("{", "{{").replace("}", "}}")


def _compile(spec: SpanKindSpec) -> Writer:
    compiler = _Compiler()
    opening = compiler.event(spec.opening, _start, "first_key")
    closing = compiler.event(spec.closing, _end, "second_key")
    source = "\n    ".join(
        [
            "def write(values, fields, first_key, second_key):",
            *compiler.lines,
            f"return f{opening + ',' + closing!r}",
        ]
    )
    namespace: dict[str, Any] = {name: function for function, name in compiler.names.items()}
    exec(compile(source, f"<whyops.wire.writer {spec.opening.event_type}>", "exec"), namespace)
    write: Writer = namespace["write"]
    return write


_WRITERS: dict[SpanKind, Writer] = {kind: _compile(spec) for kind, spec in SPAN_KINDS.items()}
