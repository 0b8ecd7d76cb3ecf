"""The examples in docs/testing.md run, and pass, as a user's project."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import whyops

DOCS = Path(whyops.__file__).resolve().parent.parent / "docs" / "testing.md"
# Plugins of this environment that only add noise to the throwaway projects.
QUIET = ("-p", "no:randomly", "-p", "no:benchmark")
INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)


def test_documented_examples_pass(pytester: pytest.Pytester, monkeypatch) -> None:
    # Anything that escaped the in-process answers would hit a closed loopback port.
    monkeypatch.setenv("WHYOPS_BASE_URL", "http://127.0.0.1:9")
    pytester.makeini(INI)
    pytester.syspathinsert()
    files: dict[str, str] = {}
    extra_tests = ["from support_agent import answer\n"]
    for block in python_blocks():
        first_line = block.splitlines()[0]
        if first_line.startswith("# ") and first_line.endswith(".py"):
            files[first_line[2:-3]] = block
        elif "def test_" in block:
            extra_tests.append(block)
    assert set(files) == {"support_agent", "test_support"}
    pytester.makepyfile(**files, test_more_examples="\n\n".join(extra_tests))
    result = pytester.runpytest(*QUIET)
    result.assert_outcomes(passed=3)


def test_documented_failure_output_is_what_users_see(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.syspathinsert()
    agent = next(b for b in python_blocks() if b.startswith("# support_agent.py"))
    pytester.makepyfile(
        support_agent=agent,
        test_fail="from support_agent import answer\n\n"
        "def test_it(whyops_traces):\n"
        "    answer('Refund my last order')\n"
        "    whyops_traces.assert_no_errors()\n",
    )
    result = pytester.runpytest(*QUIET)
    documented = re.search(r"```\n(E {7}AssertionError.*?)```", DOCS.read_text(), re.S)
    assert documented is not None
    assert documented.group(1) in result.stdout.str() + os.linesep
