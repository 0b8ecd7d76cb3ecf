"""Everything the SDK sent during a test, and the questions a test asks about it."""

from __future__ import annotations

import difflib
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from whyops._tracer import TRACER
from whyops.export.memory import InMemoryExporter
from whyops.render import nodes_from_spans, render_tree
from whyops.testing._upstream import ProviderRequest, intercept_whyops_traffic
from whyops.wire.records import (
    EventRecord,
    ExceptionInfo,
    SpanKind,
    SpanRecord,
    Status,
    ThinkingBlock,
)

__all__ = ["CapturedTraces", "ToolCall", "capture_traces"]

_MISSING = object()


@attrs.frozen(slots=True)
class ToolCall:
    """One run of a ``@whyops.tool``: its bound arguments and what came of it."""

    name: str
    inputs: Mapping[str, Any]
    output: Any
    error: ExceptionInfo | None
    span: SpanRecord

    @property
    def ok(self) -> bool:
        return self.error is None


class CapturedTraces:
    """Everything the SDK handed to its exporter since capture started.

    Reading any property flushes the tracer first, so spans that ended just before the
    read are included; spans still open are not (they have not been sent either).
    """

    def __init__(
        self, exporter: InMemoryExporter, provider_requests: list[ProviderRequest]
    ) -> None:
        self._exporter = exporter
        self._provider_requests = provider_requests

    # -- raw material -------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far reached the in-memory exporter.

        Manual events wait for their client's agent registration (answered in-process
        here, on a background thread), so that is waited for first.
        """
        deadline = time.monotonic() + timeout
        client = sys.modules.get("whyops.client")
        if client is not None:  # not imported: no client, so no registration to wait for
            client.wait_for_registration(timeout)
        TRACER.flush(timeout=max(0.0, deadline - time.monotonic()))

    @property
    def records(self) -> list[SpanRecord | EventRecord]:
        self.flush()
        return list(self._exporter.records)

    @property
    def spans(self) -> list[SpanRecord]:
        """Finished spans in tree order: each root, then its children depth-first, by start."""
        return _tree_order([r for r in self.records if isinstance(r, SpanRecord)])

    @property
    def events(self) -> list[dict[str, Any]]:
        """Manual WhyOps events (``sdk.trace(id).*_sync(...)``), as sent."""
        return [dict(r.payload) for r in self.records if isinstance(r, EventRecord)]

    def wire_events(self) -> list[dict[str, Any]]:
        """Every record as the WhyOps event dicts the HTTP exporter would post."""
        self.flush()
        return list(self._exporter.events())

    @property
    def provider_requests(self) -> list[ProviderRequest]:
        """Requests of patched OpenAI/Anthropic clients (URL, trace headers, JSON body)."""
        return list(self._provider_requests)

    def provider_requests_under(self, span: SpanRecord) -> list[ProviderRequest]:
        """Provider requests made while ``span`` was the current span."""
        return [
            r
            for r in self._provider_requests
            if r.parent_span_id == span.span_id and r.trace_id == span.trace_id
        ]

    @property
    def trace_ids(self) -> list[str]:
        """Distinct trace ids, in the order their first root span started."""
        return list(dict.fromkeys(s.trace_id for s in self.spans))

    def clear(self) -> None:
        """Forget everything captured so far."""
        self.flush()
        self._exporter.clear()
        self._provider_requests.clear()

    # -- queries ------------------------------------------------------------------

    def find(
        self,
        name: str | None = None,
        *,
        kind: SpanKind | str | None = None,
        trace_id: str | None = None,
        **attributes: Any,
    ) -> list[SpanRecord]:
        """Spans matching every given criterion; keyword arguments match attributes."""
        kind_value = SpanKind(kind) if kind is not None else None
        return [
            span
            for span in self.spans
            if (name is None or span.name == name)
            and (kind_value is None or span.kind == kind_value)
            and (trace_id is None or span.trace_id == trace_id)
            and all(span.attributes.get(k, _MISSING) == v for k, v in attributes.items())
        ]

    def one(self, name: str | None = None, **criteria: Any) -> SpanRecord:
        """The only span matching, else an AssertionError that shows the tree."""
        __tracebackhide__ = True  # pytest shows the caller's line, not ours
        found = self.find(name, **criteria)
        if len(found) != 1:
            wanted = ", ".join([*([repr(name)] if name else []), *_kwargs_text(criteria)])
            self._fail(f"expected exactly one span matching {wanted}, found {len(found)}")
        return found[0]

    def children(self, span: SpanRecord) -> list[SpanRecord]:
        return [s for s in self.spans if s.parent_span_id == span.span_id]

    def parent(self, span: SpanRecord) -> SpanRecord | None:
        return next((s for s in self.spans if s.span_id == span.parent_span_id), None)

    def roots(self) -> list[SpanRecord]:
        """Spans whose parent was not captured (the top of each trace seen here)."""
        ids = {s.span_id for s in self.spans}
        return [s for s in self.spans if s.parent_span_id not in ids]

    def tool_calls(self, name: str | None = None) -> list[ToolCall]:
        """Runs of ``@whyops.tool`` functions, in start order."""
        return [
            ToolCall(s.name, dict(s.inputs or {}), s.output, s.exception, s)
            for s in self.find(name, kind=SpanKind.TOOL)
        ]

    def llm_calls(self) -> list[SpanRecord]:
        return self.find(kind=SpanKind.LLM)

    def errors(self) -> list[SpanRecord]:
        """Spans that ended with an exception."""
        return [s for s in self.spans if s.status == Status.ERROR]

    def thinking(self) -> list[ThinkingBlock]:
        """Thinking blocks of every span, in span start order."""
        return [block for s in self.spans for block in s.thinking]

    # -- text ---------------------------------------------------------------------

    def tree(
        self,
        trace_id: str | None = None,
        *,
        durations: bool = False,
        width: int = 100,
        thinking: bool = False,
    ) -> str:
        """The captured spans as an indented text tree: structure only by default (no ids,
        times or thinking), so ``assert_tree`` compares what the agent did."""
        spans = [s for s in self.spans if trace_id is None or s.trace_id == trace_id]
        nodes = nodes_from_spans(spans)
        return render_tree(nodes, color=False, durations=durations, width=width, thinking=thinking)

    def snapshot(self) -> list[dict[str, Any]]:
        """Spans as plain dicts with ids numbered in start order and no times.

        Two runs of the same code give equal snapshots, whatever ids the tracer drew.
        """
        ids = _StableIds()
        return [_span_snapshot(span, ids) for span in self.spans]

    # -- assertions ---------------------------------------------------------------

    def assert_tool_called(self, name: str, /, **inputs: Any) -> ToolCall:
        """At least one run of tool ``name`` had these arguments (others not compared)."""
        __tracebackhide__ = True
        matching = [c for c in self.tool_calls(name) if _has_inputs(c, inputs)]
        if not matching:
            self._fail_tool(name, inputs, "was never called with")
        return matching[0]

    def assert_tool_called_once_with(self, name: str, /, **inputs: Any) -> ToolCall:
        """Tool ``name`` ran exactly once, with these arguments (others not compared)."""
        __tracebackhide__ = True
        calls = self.tool_calls(name)
        if len(calls) != 1 or not _has_inputs(calls[0], inputs):
            self._fail_tool(name, inputs, "was not called exactly once with")
        return calls[0]

    def assert_tool_not_called(self, name: str, /) -> None:
        __tracebackhide__ = True
        calls = self.tool_calls(name)
        if calls:
            self._fail(f"tool {name!r} was called {len(calls)} time(s)\n{_calls_text(calls)}")

    def assert_no_errors(self) -> None:
        """No span ended with an exception."""
        __tracebackhide__ = True
        errors = self.errors()
        if errors:
            lines = [f"  {s.kind.value} {s.name!r}: {_error_text(s.exception)}" for s in errors]
            self._fail(f"{len(errors)} span(s) failed:\n" + "\n".join(lines))

    def assert_tree(self, expected: str, *, trace_id: str | None = None) -> None:
        """The rendered tree equals ``expected`` (indentation and blank edges ignored)."""
        __tracebackhide__ = True
        actual = _normalize_text(self.tree(trace_id))
        wanted = _normalize_text(expected)
        if actual != wanted:
            diff = difflib.unified_diff(
                wanted.splitlines(), actual.splitlines(), "expected", "actual", lineterm=""
            )
            raise AssertionError(
                "trace tree differs\n--- expected\n"
                + textwrap.indent(wanted, "  ")
                + "\n--- actual\n"
                + textwrap.indent(actual, "  ")
                + "\n--- diff\n"
                + textwrap.indent("\n".join(list(diff)[2:]), "  ")
            )

    def _fail_tool(self, name: str, inputs: Mapping[str, Any], verb: str) -> None:
        __tracebackhide__ = True
        calls = self.tool_calls(name)
        wanted = ", ".join(_kwargs_text(inputs)) or "any arguments"
        seen = _calls_text(calls) if calls else "  (no calls)"
        self._fail(f"tool {name!r} {verb} {wanted}\ncalls of {name!r}:\n{seen}")

    def _fail(self, message: str) -> None:
        __tracebackhide__ = True
        raise AssertionError(
            f"{message}\ncaptured trace:\n{textwrap.indent(self._tree_or_empty(), '  ')}"
        )

    def _tree_or_empty(self) -> str:
        return self.tree() if self.spans else "(no spans captured)"


@contextmanager
def capture_traces() -> Iterator[CapturedTraces]:
    """Send every span and event to memory instead of the configured exporter.

    What was queued before the block goes to the previous exporter; what is queued inside
    it is captured; the previous exporter is restored on exit. Inside the block the WhyOps
    client's own HTTP (agent registration, patched provider calls) is answered in-process.
    """
    tracer = TRACER
    tracer.flush(timeout=5.0)
    exporter = InMemoryExporter()
    with intercept_whyops_traffic() as requests, tracer.use_exporter(exporter):
        captured = CapturedTraces(exporter, requests)
        try:
            yield captured
        finally:
            captured.flush()


class _StableIds:
    def __init__(self) -> None:
        self._names: dict[tuple[str, str], str] = {}

    def name(self, prefix: str, value: str | None) -> str | None:
        if value is None:
            return None
        key = (prefix, value)
        if key not in self._names:
            count = sum(1 for p, _ in self._names if p == prefix)
            self._names[key] = f"{prefix}-{count + 1}"
        return self._names[key]


def _span_snapshot(span: SpanRecord, ids: _StableIds) -> dict[str, Any]:
    return {
        "trace": ids.name("trace", span.trace_id),
        "span": ids.name("span", span.span_id),
        "parent": ids.name("span", span.parent_span_id),
        "name": span.name,
        "kind": span.kind.value,
        "status": span.status.value,
        "inputs": dict(span.inputs) if span.inputs is not None else None,
        "output": span.output if span.has_output else None,
        "error": _error_text(span.exception) if span.exception else None,
        "attributes": dict(span.attributes),
    }


def _tree_order(spans: list[SpanRecord]) -> list[SpanRecord]:
    by_start = sorted(spans, key=lambda s: (s.start_time_ns, -s.end_time_ns))
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[SpanRecord]] = {}
    for span in by_start:
        parent = span.parent_span_id if span.parent_span_id in ids else None
        children.setdefault(parent, []).append(span)
    ordered: list[SpanRecord] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        span = stack.pop()
        ordered.append(span)
        stack.extend(reversed(children.get(span.span_id, [])))
    return ordered


def _has_inputs(call: ToolCall, inputs: Mapping[str, Any]) -> bool:
    return all(call.inputs.get(k, _MISSING) == v for k, v in inputs.items())


def _kwargs_text(values: Mapping[str, Any]) -> list[str]:
    return [f"{k}={v!r}" for k, v in values.items()]


def _calls_text(calls: Sequence[ToolCall]) -> str:
    lines = []
    for call in calls:
        args = ", ".join(_kwargs_text(call.inputs))
        result = f"raised {_error_text(call.error)}" if call.error else f"-> {call.output!r}"
        lines.append(f"  {call.name}({args}) {result}")
    return "\n".join(lines)


def _error_text(error: ExceptionInfo | None) -> str:
    return f"{error.type}: {error.message}" if error else "error"


def _normalize_text(text: str) -> str:
    lines = [line.rstrip() for line in textwrap.dedent(text).strip("\n").splitlines()]
    return "\n".join(lines)
