"""whyops: tracing for LLM agents.

Decorate functions with ``@whyops.agent`` and ``@whyops.tool`` (or open blocks with
``with whyops.span(...)``), call ``whyops.configure(...)`` once, and every call becomes a
span in a trace tree: latency, inputs, output, errors, thinking and token usage. Spans
are shipped by a background thread; the traced code never waits for the network.

Importing whyops changes nothing in the process: without a ``configure()`` call, the
first span (or flush) configures tracing from the ``WHYOPS_*`` variables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from whyops._api import agent, span, thinking, tool
from whyops._config import Limits
from whyops._context import (
    TraceContext,
    current_span,
    current_trace,
    current_trace_id,
    trace_context,
)
from whyops._setup import aflush, configure, flush, flush_after, shutdown
from whyops._span import Span
from whyops._threads import propagate
from whyops._version import __version__
from whyops.wire.records import (
    DeliveryReport,
    ExceptionInfo,
    SpanKind,
    SpanRecord,
    Status,
    ThinkingBlock,
    TokenUsage,
)

if TYPE_CHECKING:
    from whyops.client import WhyOps, WhyOpsTrace

__all__ = [
    "DeliveryReport",
    "ExceptionInfo",
    "Limits",
    "Span",
    "SpanKind",
    "SpanRecord",
    "Status",
    "ThinkingBlock",
    "TokenUsage",
    "TraceContext",
    "WhyOps",
    "WhyOpsTrace",
    "__version__",
    "aflush",
    "agent",
    "configure",
    "current_span",
    "current_trace",
    "current_trace_id",
    "flush",
    "flush_after",
    "propagate",
    "shutdown",
    "span",
    "thinking",
    "tool",
    "trace_context",
]


def __dir__() -> list[str]:
    # The public names only (not ``Any`` or ``annotations``), the lazy ones included.
    return sorted(__all__)


def __getattr__(name: str) -> Any:
    if name in ("WhyOps", "WhyOpsTrace"):
        from whyops import client

        return getattr(client, name)
    raise AttributeError(f"module 'whyops' has no attribute {name!r}")
