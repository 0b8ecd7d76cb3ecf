"""The pytest plugin, used the way a user's project uses it: through throwaway test projects."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import whyops

REPO_ROOT = str(Path(whyops.__file__).resolve().parent.parent)

AGENT = """
import whyops


@whyops.tool
def search_orders(order_id: str, limit: int = 5) -> list:
    return [{"id": order_id, "status": "shipped"}]


@whyops.tool
def refund(order_id: str) -> str:
    raise PermissionError(f"order {order_id} is not refundable")


@whyops.agent("support")
def support_agent(question: str) -> str:
    with whyops.span("plan"):
        whyops.thinking("The user asks about an order; look it up.", signature="sig-1")
    orders = search_orders(question.split()[-1])
    return f"Order {orders[0]['id']} is {orders[0]['status']}"


@whyops.agent("support")
def refunding_agent(order_id: str) -> str:
    try:
        refund(order_id)
    except PermissionError:
        return "sorry"
    return "done"
"""

# Plugins of this environment that only add noise to the throwaway projects.
QUIET = ("-p", "no:randomly", "-p", "no:benchmark")
INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    pytester.makepyfile(agent_under_test=AGENT)
    pytester.syspathinsert()
    return pytester


def test_fixture_is_registered_by_the_entry_point(project):
    result = project.runpytest("--fixtures", *QUIET)
    result.stdout.fnmatch_lines(["whyops_traces*", "*Every span and manual event*"])


def test_passing_assertions(project):
    project.makepyfile(
        test_support="""
        from agent_under_test import refunding_agent, support_agent


        def test_tool_call_and_tree(whyops_traces):
            assert support_agent("where is order 123") == "Order 123 is shipped"
            call = whyops_traces.assert_tool_called_once_with("search_orders", order_id="123")
            assert call.output == [{"id": "123", "status": "shipped"}]
            assert call.inputs == {"order_id": "123", "limit": 5}
            whyops_traces.assert_tool_not_called("refund")
            whyops_traces.assert_no_errors()
            assert [b.text for b in whyops_traces.thinking()] == [
                "The user asks about an order; look it up."
            ]
            assert [s.name for s in whyops_traces.find(kind="agent")] == ["support"]
            assert len(whyops_traces.trace_ids) == 1


        def test_errors_are_queryable(whyops_traces):
            refunding_agent("9")
            (failed,) = whyops_traces.errors()
            assert failed.name == "refund"
            assert failed.exception.type == "PermissionError"
            assert whyops_traces.tool_calls("refund")[0].ok is False


        def test_snapshot_is_stable(whyops_traces):
            support_agent("where is order 5")
            first = whyops_traces.snapshot()
            whyops_traces.clear()
            support_agent("where is order 5")
            assert whyops_traces.snapshot() == first
            assert first[0]["span"] == "span-1" and first[1]["parent"] == "span-1"


        def test_each_test_starts_empty(whyops_traces):
            assert whyops_traces.spans == []
        """
    )
    project.runpytest(*QUIET).assert_outcomes(passed=4)


def test_failing_tool_assertion_shows_the_calls_and_the_tree(project):
    project.makepyfile(
        test_support="""
        from agent_under_test import support_agent


        def test_wrong_order(whyops_traces):
            support_agent("where is order 123")
            whyops_traces.assert_tool_called_once_with("search_orders", order_id="999")
        """
    )
    result = project.runpytest(*QUIET)
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert (
        "AssertionError: tool 'search_orders' was not called exactly once with order_id='999'"
        in output
    )
    expected_failure = """
E       calls of 'search_orders':
E         search_orders(order_id='123', limit=5) -> [{'id': '123', 'status': 'shipped'}]
E       captured trace:
E         agent support
E         ├── span plan
E         └── tool search_orders
"""
    assert expected_failure in output
    # The report section repeats the tree, with durations.
    result.stdout.re_match_lines(
        [r"-+ whyops trace -+", r"agent support +\d", r"├── span plan +\d"]
    )


def test_failing_error_assertion_names_the_failed_span(project):
    project.makepyfile(
        test_support="""
        from agent_under_test import refunding_agent


        def test_no_errors(whyops_traces):
            refunding_agent("9")
            whyops_traces.assert_no_errors()
        """
    )
    result = project.runpytest(*QUIET)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: 1 span(s) failed:",
            "*tool 'refund': PermissionError: order 9 is not refundable",
        ]
    )


def test_tree_assertion_passes_on_match_and_shows_both_trees_on_mismatch(project):
    project.makepyfile(
        test_support='''
        from agent_under_test import support_agent


        def test_matches(whyops_traces):
            support_agent("where is order 1")
            whyops_traces.assert_tree(whyops_traces.tree())


        def test_differs(whyops_traces):
            support_agent("where is order 1")
            whyops_traces.assert_tree("""
                support
                  nothing-like-this
            """)
        '''
    )
    result = project.runpytest(*QUIET)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*trace tree differs",
            "*--- expected",
            "*nothing-like-this",
            "*--- actual",
            "*plan*",
            "*--- diff",
            "*@@*",
            "*-  nothing-like-this",
            "*+├── span plan",
        ]
    )


def test_async_tests_under_asyncio_and_anyio(project):
    project.makepyfile(
        test_async="""
        import asyncio

        import pytest
        import whyops


        @whyops.tool
        async def fetch(url: str) -> str:
            await asyncio.sleep(0)
            return url.upper()


        @whyops.agent("crawler")
        async def crawl(urls):
            return await asyncio.gather(*(fetch(u) for u in urls))


        async def test_gathered_tools_nest_under_the_agent(whyops_traces):
            assert await crawl(["a", "b"]) == ["A", "B"]
            agent = whyops_traces.one("crawler")
            assert sorted(c.inputs["url"] for c in whyops_traces.tool_calls("fetch")) == ["a", "b"]
            assert {c.name for c in whyops_traces.children(agent)} == {"fetch"}


        @pytest.mark.anyio
        @pytest.mark.parametrize("anyio_backend", ["asyncio"])
        async def test_under_anyio(whyops_traces, anyio_backend):
            await crawl(["c"])
            whyops_traces.assert_tool_called_once_with("fetch", url="c")
        """
    )
    project.runpytest(*QUIET).assert_outcomes(passed=2)


def test_tests_without_the_fixture_see_no_change(project):
    project.makepyfile(
        test_plain="""
        import httpx2
        import whyops
        from whyops._tracer import TRACER

        ORIGINAL = httpx2.HTTPTransport.handle_request


        def test_uses_fixture(whyops_traces):
            assert TRACER.enabled
            assert httpx2.HTTPTransport.handle_request is not ORIGINAL


        def test_plain():
            assert not TRACER.enabled
            assert httpx2.HTTPTransport.handle_request is ORIGINAL
        """
    )
    project.runpytest(*QUIET).assert_outcomes(passed=2)


def test_parallel_workers_under_xdist_stay_isolated(project, monkeypatch):
    # The workers are fresh interpreters: make sure they import this checkout of whyops.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([REPO_ROOT, os.environ.get("PYTHONPATH", "")]))
    project.makepyfile(
        test_parallel="""
        import pytest
        from agent_under_test import support_agent


        @pytest.mark.parametrize("order", [str(n) for n in range(8)])
        def test_only_my_order(whyops_traces, order):
            support_agent(f"where is order {order}")
            whyops_traces.assert_tool_called_once_with("search_orders", order_id=order)
            assert len(whyops_traces.spans) == 3
        """
    )
    result = project.runpytest_subprocess("-p", "xdist", "-n", "2", *QUIET)
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["*2 workers*"])


def test_loading_the_plugin_imports_nothing_heavy_and_configures_nothing():
    code = textwrap.dedent(
        """
        import sys
        import whyops.pytest_plugin
        from whyops._tracer import TRACER
        heavy = {"httpx2", "httpx", "starlette", "uvicorn", "openai", "anthropic", "whyops.testing"}
        print(sorted(heavy & set(sys.modules)), TRACER.configured)
        """
    )
    env_free = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": REPO_ROOT}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env_free
    )
    assert out.stdout.split() == ["[]", "False"]


def test_report_hook_is_an_old_style_hookwrapper_that_pluggy_1_0_understands():
    """``wrapper=True`` needs pluggy >= 1.1; users on pytest 7 may have pluggy 1.0."""
    from whyops import pytest_plugin

    options = pytest_plugin.pytest_runtest_makereport.pytest_impl
    assert options.get("hookwrapper") is True and not options.get("wrapper")
