"""multiprocessing children deliver their spans: Process, Pool, ``with Pool()``, fork and spawn.

Children started with ``fork`` end with ``os._exit``, which skips ``atexit``; the tracer
flushes them through multiprocessing's own finalizers instead.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections import Counter
from pathlib import Path

import pytest
from core_helpers import ROOT, Sink

SCRIPT = """
import multiprocessing, sys
import whyops

# Top level: spawned children run it too (as __mp_main__), so they trace the same way.
whyops.configure(api_key="k", analyse_url={url!r}, flush_interval=60)


@whyops.tool
def work(tag, i):
    return i


def task(args):
    return work(*args)


def several(tag, first):
    for i in range(first, first + 5):
        work(tag, i)


if __name__ == "__main__":
    context = multiprocessing.get_context(sys.argv[1])
    case = sys.argv[2]
    if case == "process":
        children = [context.Process(target=several, args=(case, 5 * n)) for n in range(4)]
        for child in children:
            child.start()
        for child in children:
            child.join()
            assert child.exitcode == 0, child.exitcode
    elif case == "pool":
        pool = context.Pool(2)
        assert pool.map(task, [(case, i) for i in range(200)]) == list(range(200))
        pool.close()
        pool.join()
    else:  # "with-pool": leaving the block terminates the workers; close and join first
        with context.Pool(2) as pool:
            assert pool.map(task, [(case, i) for i in range(200)]) == list(range(200))
            pool.close()
            pool.join()
    print("done", flush=True)
"""

EXPECTED = {"process": 20, "pool": 200, "with-pool": 200}
METHODS = [m for m in ("fork", "spawn") if m in multiprocessing.get_all_start_methods()]


@pytest.mark.parametrize("case", sorted(EXPECTED))
@pytest.mark.parametrize("method", METHODS)
def test_every_span_of_the_children_is_delivered(
    sink: Sink, tmp_path: Path, method: str, case: str
) -> None:
    import os
    import subprocess

    script = tmp_path / "mp_script.py"
    script.write_text(SCRIPT.format(url=sink.url))
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHYOPS_")}
    result = subprocess.run(
        [sys.executable, str(script), method, case],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 0 and "done" in result.stdout, result.stderr[-3000:]
    requests = [e for e in sink.events if e["eventType"] == "tool_call_request"]
    tags = Counter(e["content"]["toolCalls"][0]["arguments"]["tag"] for e in requests)
    assert tags == {case: EXPECTED[case]}
    indices = sorted(e["content"]["toolCalls"][0]["arguments"]["i"] for e in requests)
    assert indices == list(range(EXPECTED[case]))
    keys = [e["idempotencyKey"] for e in sink.events]
    assert len(keys) == len(set(keys)) == 2 * EXPECTED[case]


BOUNDED = """
import multiprocessing, socket, sys, time
import whyops

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(16)  # accepts connections, never answers
whyops.configure(api_key="k", analyse_url="http://127.0.0.1:%d/api" % listener.getsockname()[1],
                 flush_interval=60, exit_timeout=0.5)


@whyops.tool
def work(i):
    return i


def several():
    for i in range(5):
        work(i)


if __name__ == "__main__":
    child = multiprocessing.get_context("fork").Process(target=several)
    started = time.monotonic()
    child.start()
    child.join()
    print("child-exit %.3f %d" % (time.monotonic() - started, child.exitcode), flush=True)
"""


@pytest.mark.skipif("fork" not in METHODS, reason="needs the fork start method")
def test_a_forked_childs_exit_flush_keeps_to_the_exit_budget(tmp_path: Path) -> None:
    import os
    import subprocess

    script = tmp_path / "bounded.py"
    script.write_text(BOUNDED)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHYOPS_")}
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    waited, exitcode = result.stdout.split()[1:3]
    assert exitcode == "0"
    # The child waited for its dead backend (the flush ran) but no longer than the 0.5 s
    # budget; the margin covers starting the child on a loaded machine.
    assert 0.45 < float(waited) < 0.5 + 0.5, waited
    assert "5 records not delivered to http://127.0.0.1:" in result.stderr
