"""pytest plugin: assert on the traces an agent emits, with no network and no server.

Loaded in every pytest run of every project that installs whyops (``pytest11`` entry
point), so it imports nothing but pytest at load time, configures nothing, and only the
tests that request its fixtures see any change:

- ``whyops_traces``: a :class:`whyops.testing.CapturedTraces` holding every span and event
  the SDK would have sent during the test, and the requests of patched OpenAI/Anthropic
  clients, which are answered in-process (no server, no network).

A failing test that used ``whyops_traces`` gets a "whyops trace" section in its report.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from whyops.testing import CapturedTraces

_REPORT_SECTION = "whyops trace"


@pytest.fixture
def whyops_traces() -> Iterator[CapturedTraces]:
    """Every span and manual event the SDK sends during this test, kept in memory.

    Assert with ``whyops_traces.assert_tool_called_once_with("search", query="x")``,
    ``.assert_no_errors()``, ``.assert_tree(...)``; query with ``.find()``,
    ``.tool_calls()``, ``.errors()``, ``.thinking()``, ``.tree()``,
    ``.provider_requests``.
    """
    from whyops.testing import capture_traces

    with capture_traces() as captured:
        yield captured


# Old-style ``hookwrapper``: new-style ``wrapper=True`` needs pluggy >= 1.1, and this
# plugin loads in every pytest run of every project that installs whyops.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """On failure of a test that captured traces, show the tree in the report."""
    outcome = yield
    captured = getattr(item, "funcargs", {}).get("whyops_traces")
    if captured is None or call.when != "call":
        return
    report = outcome.get_result()
    if report.failed:
        report.sections.append((_REPORT_SECTION, _tree_text(captured)))


def _tree_text(captured: Any) -> str:
    try:
        return str(captured.tree(durations=True, width=88, thinking=True)) or "(no spans captured)"
    except Exception as error:  # a report must never break because of tracing
        return f"(could not render the trace: {type(error).__name__}: {error})"
