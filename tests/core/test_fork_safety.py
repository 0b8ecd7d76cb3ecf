"""Forks at any moment of a busy flusher: no held import lock, no lost or repeated spans."""

from __future__ import annotations

import os
import random
from collections import Counter

import pytest
from core_helpers import FIRST_SEND_SCRIPT, Sink, run_python

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

# The parent traces on a thread while its flusher ships small batches, and forks at random
# moments from the first send on. Each child checks it can import the HTTP stack (a lock
# held across the fork would hang it), traces three spans and flushes them.
SCRIPT = """
import os, random, sys, threading, time
import whyops
whyops.configure(api_key="k", analyse_url={url!r}, flush_interval=0.005, max_batch_size=25)

@whyops.tool
def work(tag, i):
    return i

stop, emitted = threading.Event(), [0]

def busy():
    while not stop.is_set():
        work("parent", emitted[0])
        emitted[0] += 1
        if emitted[0] % 5 == 0:
            time.sleep(0.002)

def child(index):
    imported = []
    importer = threading.Thread(target=lambda: imported.append(__import__("httpx2")), daemon=True)
    importer.start()
    importer.join(5)
    if not imported:
        os._exit(3)
    for i in range(3):
        work(f"child-{{index}}", i)
    report = whyops.flush(10)
    os._exit(0 if (report.delivered, report.dropped, report.pending) == (3, 0, 0) else 4)

random.seed({seed})
emitter = threading.Thread(target=busy)
emitter.start()
failures = []
for index in range({forks}):
    time.sleep(random.uniform(0, 0.02))
    pid = os.fork()
    if pid == 0:
        child(index)
    _, status = os.waitpid(pid, 0)
    if status:
        failures.append((index, os.waitstatus_to_exitcode(status)))
stop.set()
emitter.join()
report = whyops.flush(90)  # generous: a loaded 2-core machine
print("failures", failures)
print("parent", emitted[0], report.delivered, report.dropped, report.pending)
"""


def test_fifty_forks_at_random_moments_of_a_busy_flusher(sink: Sink) -> None:
    forks, seed = 50, random.randrange(2**32)
    result = run_python(SCRIPT.format(url=sink.url, seed=seed, forks=forks), timeout=240)
    assert result.returncode == 0, (seed, result.stderr[-3000:])
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert lines["failures"] == "[]", (seed, lines["failures"], result.stderr[-3000:])
    emitted, delivered, dropped, pending = map(int, lines["parent"].split())
    assert pending == 0 and delivered + dropped == emitted, (seed, lines["parent"])
    requests = Counter(
        e["content"]["toolCalls"][0]["arguments"]["tag"]
        for e in sink.events
        if e["eventType"] == "tool_call_request"
    )
    # Every child delivered its own three spans and none of the parent's queue.
    assert requests == {"parent": delivered, **{f"child-{i}": 3 for i in range(forks)}}, seed
    keys = [e["idempotencyKey"] for e in sink.events]
    assert len(keys) == len(set(keys)), seed


# The flusher's first send imports nothing: a fork during an import on the flusher leaves the
# child the module half-made and its lock held (the child's sends fail or wait forever).


def test_the_flusher_imports_nothing_on_its_first_send(sink: Sink) -> None:
    configure = f'whyops.configure(api_key="k", analyse_url={sink.url!r}, flush_interval=0.005)'
    result = run_python(FIRST_SEND_SCRIPT.format(configure=configure))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2 []", result.stdout
