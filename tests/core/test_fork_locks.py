"""A fork never leaves the child a lock that a thread it does not have was holding."""

from __future__ import annotations

import os
import threading

import pytest
from core_helpers import run_python

from whyops.export import forksafe

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def test_a_fork_that_gave_up_waiting_does_not_keep_another_forks_guard() -> None:
    # Two threads fork at once: this one holds the guard (the flusher waits), the other
    # gives up after FORK_WAIT. The guard must still be released when this fork is done.
    def gives_up() -> None:
        forksafe._before_fork()
        forksafe._after_fork_in_parent()

    forksafe._before_fork()
    other = threading.Thread(target=gives_up)
    other.start()
    other.join()
    forksafe._after_fork_in_parent()
    assert forksafe._guard.acquire(timeout=2), "the flusher would wait for the guard forever"
    forksafe._guard.release()


# The parent's flusher is inside a record's slow __str__ (past FORK_WAIT) when the process
# forks; the child traces a failing call and flushes it through its own flusher.
SLOW_STR = """
import os, sys, threading, time
import whyops
from whyops.export import ExportResult

class Count:
    def __init__(self): self.records = 0
    def export(self, records):
        self.records += len(records)
        return ExportResult(ok=True)
    def shutdown(self): pass

entered = threading.Event()

class Slow(Exception):
    def __str__(self):
        entered.set()
        time.sleep(1.5)
        return "slow"

whyops.configure(exporter=Count(), flush_interval=0.01)

@whyops.tool
def fails(error):
    raise error

try:
    fails(Slow())
except Slow:
    pass
assert entered.wait(10)
pid = os.fork()
if pid == 0:
    try:
        fails(ValueError("in the child"))
    except ValueError:
        pass
    report = whyops.flush(3)
    os._exit(0 if report.delivered == 1 and report.ok else 5)
_, status = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(status))
"""


def test_a_child_forked_during_a_slow_exception_message_resolves_its_own() -> None:
    result = run_python(SLOW_STR, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["child", "0"], result.stderr[-3000:]


# Another thread of the parent holds an exporter's lock when the process forks (the
# flusher writing a JSONL file; a caller exporting to memory): the child exports anyway.
HELD_LOCK = """
import os, sys, threading, time
import whyops
from whyops.export.jsonl import JsonlExporter
from whyops.export.memory import InMemoryExporter

exporter = JsonlExporter({path!r}) if {kind!r} == "jsonl" else InMemoryExporter()
whyops.configure(exporter=exporter, flush_interval=0.01)
held, release = threading.Event(), threading.Event()

def hold():
    with exporter._lock:
        held.set()
        release.wait()

threading.Thread(target=hold, daemon=True).start()
assert held.wait(10)
pid = os.fork()
if pid == 0:
    reports = []
    def traced():
        with whyops.span("in the child"):
            pass
        reports.append(whyops.flush(3))
    threading.Thread(target=traced, daemon=True).start()
    deadline = time.monotonic() + 5
    while not reports and time.monotonic() < deadline:
        time.sleep(0.01)
    os._exit(0 if reports and reports[0].delivered == 1 and reports[0].ok else 6)
release.set()
_, status = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(status))
"""


@pytest.mark.parametrize("kind", ["jsonl", "memory"])
def test_a_child_does_not_inherit_an_exporter_lock_held_by_another_thread(
    kind: str, tmp_path: object
) -> None:
    script = HELD_LOCK.format(path=str(tmp_path) + "/spans.jsonl", kind=kind)
    result = run_python(script, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["child", "0"], result.stderr[-3000:]
