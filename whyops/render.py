"""Trace trees as text: for the console exporter, ``whyops show`` and test assertions.

::

    agent support_agent                                              1.20 s
    ├── tool search_orders                                          12.3 ms
    │   └── llm chat · 165 tok                                       800 ms
    └── tool refund ✗ ValueError: unknown order                      3.1 ms
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from whyops.wire.records import SpanKind, SpanRecord, Status, TokenUsage

__all__ = ["TreeNode", "fold_thinking", "format_duration", "nodes_from_spans", "render_tree"]


@attrs.frozen(slots=True)
class TreeNode:
    """One span as the tree shows it."""

    name: str
    kind: SpanKind
    start_ns: int
    duration_ns: int
    status: Status = Status.OK
    error: str | None = None
    usage: TokenUsage | None = None
    attributes: Mapping[str, Any] = attrs.field(factory=dict)
    children: tuple[TreeNode, ...] = ()
    # The model's thinking folded to one line (fold_thinking), shown under the span.
    thinking: str | None = None


def fold_thinking(texts: Sequence[str | None]) -> str | None:
    """Thinking blocks as one line: their text, whitespace folded; None texts are redacted."""
    parts = [" ".join(text.split()) if text is not None else "(redacted)" for text in texts]
    line = " ¶ ".join(part for part in parts if part)
    return line or None


def _node(record: SpanRecord, children: tuple[TreeNode, ...]) -> TreeNode:
    info = record.exception
    error = f"{info.type}: {info.message}" if info is not None else None
    return TreeNode(
        name=record.name,
        kind=record.kind,
        start_ns=record.start_time_ns,
        duration_ns=record.duration_ns,
        status=record.status,
        error=error,
        usage=record.usage,
        attributes=record.attributes,
        children=children,
        thinking=fold_thinking([block.text for block in record.thinking]),
    )


def nodes_from_spans(records: Iterable[SpanRecord]) -> list[TreeNode]:
    """Trees of the given spans; spans whose parent is missing become roots. Start order."""
    spans = sorted(records, key=lambda r: (r.start_time_ns, r.end_time_ns))
    known = {r.span_id for r in spans}
    children: dict[str | None, list[SpanRecord]] = {}
    for record in spans:
        parent = record.parent_span_id if record.parent_span_id in known else None
        children.setdefault(parent, []).append(record)

    def build(record: SpanRecord, depth: int) -> TreeNode:
        kids = children.get(record.span_id, []) if depth < 200 else []
        return _node(record, tuple(build(kid, depth + 1) for kid in kids))

    return [build(root, 0) for root in children.get(None, [])]


def format_duration(ns: int) -> str:
    """``850 µs``, ``12.3 ms``, ``1.20 s``, ``2m 05s``."""
    if ns < 1_000_000:
        return f"{ns / 1000:.0f} µs"
    if ns < 100_000_000:
        return f"{ns / 1_000_000:.1f} ms"
    if ns < 1_000_000_000:
        return f"{ns / 1_000_000:.0f} ms"
    if ns < 60_000_000_000:
        return f"{ns / 1_000_000_000:.2f} s"
    minutes, seconds = divmod(round(ns / 1_000_000_000), 60)
    return f"{minutes}m {seconds:02d}s"


_COLORS = {
    SpanKind.AGENT: "\x1b[1;35m",
    SpanKind.TOOL: "\x1b[36m",
    SpanKind.LLM: "\x1b[33m",
    SpanKind.EMBEDDING: "\x1b[34m",
    SpanKind.SPAN: "\x1b[37m",
}
_RED, _DIM, _RESET = "\x1b[31m", "\x1b[2m", "\x1b[0m"


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color and text else text


def _fit(text: str, room: int) -> str:
    text = " ".join(text.split())  # newlines in names or messages would break the tree
    if room <= 1:
        return text[: max(room, 0)]
    return text if len(text) <= room else text[: room - 1] + "…"


def _line(node: TreeNode, prefix: str, width: int, color: bool, durations: bool) -> str:
    duration = format_duration(node.duration_ns) if durations else ""
    room = width - len(prefix) - (len(duration) + 1 if duration else 0)
    label = f"{node.kind.value} {node.name}"
    extra = ""
    if node.usage is not None and node.usage.total_tokens:
        extra += f" · {node.usage.total_tokens} tok"
    if node.status is Status.ERROR:
        extra += f" ✗ {node.error or 'error'}"
    # A long name gives way to the error, but keeps at least half the line.
    label = _fit(label, max(room - len(extra), room // 2))
    text = _fit(label + extra, room)
    label_part = text[: len(label)]
    rest = text[len(label) :]
    painted = _paint(label_part, _COLORS.get(node.kind, ""), color)
    painted += _paint(rest, _RED, color) if node.status is Status.ERROR else rest
    if not duration:
        return prefix + painted
    pad = max(1, width - len(prefix) - len(text) - len(duration))
    return prefix + painted + " " * pad + _paint(duration, _DIM, color)


def _thinking_line(thinking: str, prefix: str, width: int, color: bool) -> str:
    """``thinking: …`` under its span, cut to the line like the page's folded block."""
    text = _fit(f"thinking: {thinking}", width - len(prefix))
    return prefix + _paint(text, _DIM, color)


def render_tree(
    roots: Sequence[TreeNode],
    *,
    color: bool = False,
    width: int = 80,
    durations: bool = True,
    thinking: bool = True,
) -> str:
    """The trees as text, one span per line (plus a folded ``thinking:`` line under a span
    that has thinking, unless ``thinking=False``), at most ``width`` columns."""
    lines: list[str] = []

    def walk(node: TreeNode, lead: str, branch: str) -> None:
        lines.append(_line(node, lead + branch, width, color, durations))
        below = lead + ("    " if branch == "└── " else "│   ") if branch else lead
        if thinking and node.thinking:
            rail = "│ " if node.children else "  "
            lines.append(_thinking_line(node.thinking, below + rail, width, color))
        for index, child in enumerate(node.children):
            last = index == len(node.children) - 1
            walk(child, below, "└── " if last else "├── ")

    for root in roots:
        walk(root, "", "")
    return "\n".join(lines)
