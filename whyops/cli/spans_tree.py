"""The read API's spans JSON (``GET /api/traces/{id}/spans``) as :class:`TreeNode` trees.

Used by ``whyops show`` and ``whyops demo``, so a stored trace prints exactly as the SDK's
console exporter prints it (both draw with :mod:`whyops.render`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from whyops.render import TreeNode, fold_thinking
from whyops.wire.records import SpanKind, Status, TokenUsage


def parse_timestamp_ns(value: Any) -> int | None:
    """ISO 8601 (``Z`` or offset, any fraction) or epoch milliseconds -> epoch nanoseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        whole = int(value)  # integer maths: floats near 1e18 lose nanoseconds
        return whole * 1_000_000 + round((value - whole) * 1_000_000)
    text = str(value).replace("Z", "+00:00")
    seconds_part, _, rest = text.partition(".")
    fraction = ""
    if rest:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, text = rest[:digits], seconds_part + rest[digits:]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    seconds = int(moment.timestamp())
    return seconds * 1_000_000_000 + int((fraction or "0").ljust(9, "0")[:9])


def nodes_from_json(spans: Sequence[Mapping[str, Any]]) -> list[TreeNode]:
    """Build render TreeNodes from the spans API: children ordered by start, orphans as roots."""
    by_id = {str(span.get("id")): span for span in spans}
    children: dict[str | None, list[Mapping[str, Any]]] = {}
    for span in spans:
        parent = span.get("parentSpanId")
        key = str(parent) if parent and str(parent) in by_id else None
        children.setdefault(key, []).append(span)
    for group in children.values():
        group.sort(key=lambda s: parse_timestamp_ns(s.get("start")) or 0)

    def build(span: Mapping[str, Any], seen: frozenset[str]) -> TreeNode:
        span_id = str(span.get("id"))
        kids = [] if span_id in seen else children.get(span_id, [])
        return _tree_node(span, [build(kid, seen | {span_id}) for kid in kids])

    return [build(root, frozenset()) for root in children.get(None, [])]


def _tree_node(span: Mapping[str, Any], kids: list[TreeNode]) -> TreeNode:
    start_ns = parse_timestamp_ns(span.get("start")) or 0
    duration_ms = span.get("durationMs")
    if duration_ms is None:
        end_ns = parse_timestamp_ns(span.get("end"))
        duration_ns = max(end_ns - start_ns, 0) if end_ns else 0
    else:
        duration_ns = int(float(duration_ms) * 1_000_000)
    return TreeNode(
        name=str(span.get("name") or span.get("kind") or "span"),
        kind=_kind(span.get("kind")),
        start_ns=start_ns,
        duration_ns=duration_ns,
        status=_status(span),
        error=_error_text(span.get("error")),
        usage=_usage(span.get("usage")),
        attributes=_attributes(span),
        thinking=_thinking(span.get("thinking")),
        children=tuple(kids),
    )


def _kind(value: Any) -> SpanKind:
    try:
        return SpanKind(value)
    except ValueError:
        return SpanKind.SPAN


def _status(span: Mapping[str, Any]) -> Status:
    try:
        return Status(span.get("status"))
    except ValueError:
        return Status.ERROR if span.get("error") else Status.OK


def _error_text(error: Any) -> str | None:
    if not error:
        return None
    if isinstance(error, Mapping):
        message = str(error.get("message") or error.get("error") or "")
        kind = str(error.get("type") or "")
        return message if not kind or message.startswith(kind) else f"{kind}: {message}"
    return str(error)


def _usage(usage: Any) -> TokenUsage | None:
    if not isinstance(usage, Mapping) or not usage:
        return None
    return TokenUsage(
        prompt_tokens=usage.get("promptTokens"),
        completion_tokens=usage.get("completionTokens"),
        total_tokens=usage.get("totalTokens"),
        cache_read_tokens=usage.get("cacheReadTokens"),
        cache_creation_tokens=usage.get("cacheCreationTokens"),
    )


def _thinking(blocks: Any) -> str | None:
    """The span's thinking blocks (``{"text", "redacted"}``) as one folded line, or None."""
    if not isinstance(blocks, list) or not blocks:
        return None
    texts = [
        None if block.get("redacted") else str(block.get("text") or "")
        for block in blocks
        if isinstance(block, Mapping)
    ]
    return fold_thinking(texts)


def _attributes(span: Mapping[str, Any]) -> dict[str, Any]:
    attributes = dict(span.get("attributes") or {})
    if span.get("model"):
        attributes.setdefault("model", span["model"])
    if span.get("status") not in (None, "ok", "error"):
        attributes.setdefault("status", span["status"])  # e.g. "unfinished"
    return attributes
