"""Capture what whyops would send, in memory, and assert on it.

``capture_traces()`` swaps the tracer's exporter for an in-memory one for the duration of a
``with`` block and answers the WhyOps client's own HTTP in-process (the pytest fixture
``whyops_traces`` does exactly this for one test). The :class:`CapturedTraces` it yields
answers the questions a test asks about an agent run: which spans exist, which tools ran
with which arguments, what failed, what the model thought, which trace headers the
provider calls carried, and what the whole tree looks like, rendered without ids or times
so it compares equal across runs.
"""

from whyops.testing._captured import CapturedTraces, ToolCall, capture_traces
from whyops.testing._upstream import ProviderRequest

__all__ = ["CapturedTraces", "ProviderRequest", "ToolCall", "capture_traces"]
