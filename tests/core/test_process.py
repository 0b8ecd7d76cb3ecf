"""Whole processes: spans are flushed at exit, exit is bounded, forks do not resend."""

from __future__ import annotations

import socket
from collections import Counter

import pytest
from core_helpers import Sink, run_python

PRELUDE = """
import os, sys, whyops
whyops.configure(api_key="k", analyse_url={url!r}, flush_interval=60, max_batch_size=100000,
                 max_retries=1000)

@whyops.tool
def work(tag, i):
    return i
"""


def test_spans_are_flushed_at_interpreter_exit(sink: Sink) -> None:
    code = PRELUDE.format(url=sink.url) + "for i in range(500): work('exit', i)\n"
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert len(sink.events) == 1000
    assert len({e["idempotencyKey"] for e in sink.events}) == 1000


def test_exit_with_a_dead_backend_waits_no_longer_than_the_bound(refused_url: str) -> None:
    url = refused_url + "/api"
    # atexit runs handlers last-registered first: this one, registered before whyops
    # configures, runs after whyops's exit flush and measures how long that took.
    clock = (
        "import atexit, time\nEND = []\n"
        "atexit.register(lambda: print('exit-wait %.3f' % (time.monotonic() - END[0])))\n"
    )
    body = "for i in range(1000): work('dead', i)\nEND.append(time.monotonic())\n"
    result = run_python(clock + PRELUDE.format(url=url) + body)
    assert result.returncode == 0, result.stderr
    waited = float(result.stdout.split("exit-wait ")[1])
    # The documented 2 s bound, spent retrying (max_retries=1000 would take minutes); the
    # upper margin absorbs a loaded 2-core machine.
    assert 1.5 < waited < 6.0, waited
    assert "1000 records not delivered" in result.stderr


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_has_its_own_flusher_and_does_not_resend_the_parents_queue(
    sink: Sink,
) -> None:
    code = PRELUDE.format(url=sink.url) + (
        "for i in range(10): work('parent-before', i)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    for i in range(3): work('child', i)\n"
        "    report = whyops.flush(5)\n"
        "    print('child', report.delivered, report.pending, flush=True)\n"
        "    sys.exit(0)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "assert status == 0, status\n"
        "for i in range(2): work('parent-after', i)\n"
        "report = whyops.flush(5)\n"
        "print('parent', report.delivered, report.pending, flush=True)\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "child 3 0" in result.stdout and "parent 12 0" in result.stdout
    requests = Counter(
        e["content"]["toolCalls"][0]["arguments"]["tag"]
        for e in sink.events
        if e["eventType"] == "tool_call_request"
    )
    assert requests == {"parent-before": 10, "child": 3, "parent-after": 2}
    assert len({e["idempotencyKey"] for e in sink.events}) == len(sink.events) == 30


def test_the_whole_exit_hooks_included_stays_within_the_budget() -> None:
    """A backend that accepts connections and never answers; exit hooks that take time."""

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        base = f"http://127.0.0.1:{listener.getsockname()[1]}"
        clock = (
            "import atexit, time\nEND = []\n"
            "atexit.register(lambda: print('exit-wait %.3f' % (time.monotonic() - END[0])))\n"
        )
        body = f"""
import time, whyops
from whyops import _tracer
from whyops.client import WhyOps
whyops.configure(api_key="k", analyse_url="{base}/api", flush_interval=0.01, exit_timeout=1.0,
                 max_retries=1000)
sdk = WhyOps("k", "stuck-agent", {{"systemPrompt": "p", "description": "d"}},
             proxy_base_url="{base}", analyse_base_url="{base}/api")
trace = sdk.trace("held")
trace.user_message_sync([{{"role": "user", "content": "hi"}}])
_tracer.TRACER.before_exit(lambda: time.sleep(0.4))  # a slow hook
for i in range(200):
    whyops.tool(lambda i: i)(i)
time.sleep(0.1)
END.append(time.monotonic())
"""
        result = run_python(clock + body)
    assert result.returncode == 0, result.stderr
    waited = float(result.stdout.split("exit-wait ")[1])
    # The 1 s budget covers the hooks too (0.4 s of them); the margin absorbs scheduling.
    assert waited < 1.0 + 0.25, waited
    assert "held events unregistered" in result.stderr  # the client's exit hook ran
    line = next(x for x in result.stderr.splitlines() if "records not delivered to" in x)
    assert f"{base}/api/events/ingest (no answer within the time allowed)" in line


# -- configuration from the environment: on first use, never at import ---------------------

IMPORT_ONLY = """
import threading
from concurrent.futures import ThreadPoolExecutor
original = ThreadPoolExecutor.submit
import whyops, whyops.client
from whyops._tracer import TRACER
assert ThreadPoolExecutor.submit is original, "import patched the thread pools"
assert threading.active_count() == 1, threading.enumerate()
assert not TRACER.settled and not TRACER.configured
print("untouched")
"""


def _server_env(server, **extra: str) -> dict[str, str]:
    return {"WHYOPS_API_KEY": server.api_key, **extra}


def _events_of(server, trace_id: str) -> list[dict]:
    import httpx2

    answer = httpx2.get(
        f"{server.base_url}/api/threads/{trace_id}",
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["events"]


NOWHERE = {"WHYOPS_API_KEY": "k", "WHYOPS_BASE_URL": "http://127.0.0.1:9"}  # never sent to


def test_import_with_an_api_key_set_changes_nothing() -> None:
    """``import whyops`` with WHYOPS_API_KEY set patches nothing and starts no thread."""
    result = run_python(IMPORT_ONLY, env=NOWHERE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "untouched"


def test_the_first_span_configures_from_the_environment(server) -> None:
    """Without configure(), the first span sets tracing up from WHYOPS_* and is delivered."""
    body = """
@whyops.tool
def lookup(order):
    return "shipped"

with whyops.trace_context(trace_id="first-use-env-1"):
    lookup("7")
assert TRACER.settled and TRACER.enabled
assert ThreadPoolExecutor.submit is not original  # the one configure() path patched it
report = whyops.flush(10)
assert report.delivered == 1 and report.ok, report  # one span
"""
    env = _server_env(server, WHYOPS_BASE_URL=server.base_url, WHYOPS_AGENT_NAME="env-agent")
    result = run_python(IMPORT_ONLY + body, env=env)
    assert result.returncode == 0, result.stderr
    events = _events_of(server, "first-use-env-1")
    assert sorted(e["eventType"] for e in events) == ["tool_call_request", "tool_call_response"]
    assert {e["agentName"] for e in events} == {"env-agent"}


def test_a_flush_is_a_first_use_too() -> None:
    """Events queued by the client before any span count: flushing settles the tracer."""
    body = """
report = whyops.flush(1)
assert TRACER.settled and TRACER.enabled and report.ok
"""
    result = run_python(IMPORT_ONLY + body, env=NOWHERE)
    assert result.returncode == 0, result.stderr


def test_configure_before_the_first_span_wins_over_the_environment(
    server, refused_url: str
) -> None:
    """An explicit configure() is the set-up; the environment does not replace it later."""
    dead = refused_url
    body = f"""
whyops.configure(analyse_url={server.base_url + "/api"!r}, agent_name="explicit-agent")
with whyops.trace_context(trace_id="first-use-explicit-1"):
    whyops.tool(lambda: 1)()
assert TRACER.config.analyse_url == {server.base_url + "/api"!r}
report = whyops.flush(10)
assert report.delivered == 1 and report.ok, report  # one span
"""
    env = _server_env(server, WHYOPS_BASE_URL=dead, WHYOPS_AGENT_NAME="env-agent")
    result = run_python(IMPORT_ONLY + body, env=env)
    assert result.returncode == 0, result.stderr
    events = _events_of(server, "first-use-explicit-1")
    assert len(events) == 2 and {e["agentName"] for e in events} == {"explicit-agent"}


def test_a_client_shutdown_leaves_a_tracer_it_did_not_configure_running(server) -> None:
    """``WhyOps(...).shutdown()`` flushes; the module-level tracer someone else set up runs on."""
    body = f"""
whyops.configure(api_key={server.api_key!r}, base_url={server.base_url!r})
sdk = whyops.client.WhyOps({server.api_key!r}, "client-agent", {{"systemPrompt": "p"}},
                           proxy_base_url={server.base_url!r})
assert sdk.shutdown(10).ok
assert TRACER.enabled
with whyops.trace_context(trace_id="client-shutdown-1", agent_name="module-agent"):
    whyops.tool(lambda: 1)()
report = whyops.flush(10)
assert report.delivered == 1 and report.ok, report  # one span
"""
    result = run_python(IMPORT_ONLY + body)
    assert result.returncode == 0, result.stderr
    assert len(_events_of(server, "client-shutdown-1")) == 2


def test_a_client_shutdown_stops_the_tracer_it_configured() -> None:
    """A client that set the tracer up (nothing else did) stops it on shutdown."""
    body = """
sdk = whyops.client.WhyOps("k", "client-agent", {"systemPrompt": "p"},
                           proxy_base_url="http://127.0.0.1:9")
assert TRACER.enabled and TRACER.config.agent_name == "client-agent"
sdk.shutdown(10)
assert not TRACER.enabled
assert ThreadPoolExecutor.submit is original
"""
    result = run_python(IMPORT_ONLY + body)
    assert result.returncode == 0, result.stderr


def test_a_trace_opened_first_carries_into_thread_pools(server) -> None:
    """Opening a trace is a first use: work it hands to a pool stays in the trace."""
    body = """
@whyops.tool
def lookup(order):
    return order

with whyops.trace_context(trace_id="first-use-pool-1"):
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lookup, range(3)))
report = whyops.flush(10)
assert report.delivered == 3 and report.ok, report
"""
    result = run_python(
        IMPORT_ONLY + body, env=_server_env(server, WHYOPS_BASE_URL=server.base_url)
    )
    assert result.returncode == 0, result.stderr
    assert len(_events_of(server, "first-use-pool-1")) == 6


def test_a_span_used_directly_first_configures_too(server) -> None:
    """A ``Span`` entered without a decorator (nothing checked ``enabled``) still settles."""
    body = """
span = whyops.Span("direct")
with span:
    pass
assert TRACER.settled and TRACER.enabled
report = whyops.flush(10)
assert report.delivered == 1 and report.ok, report
print(span.trace_id)
"""
    result = run_python(
        IMPORT_ONLY + body, env=_server_env(server, WHYOPS_BASE_URL=server.base_url)
    )
    assert result.returncode == 0, result.stderr
    trace_id = result.stdout.split()[-1]
    assert len(_events_of(server, trace_id)) == 2


def test_a_client_shutdown_leaves_a_later_configuration_running() -> None:
    """Configured by the client, then reconfigured: the client no longer owns the tracer."""
    body = """
from whyops.export.memory import InMemoryExporter
sdk = whyops.client.WhyOps("k", "client-agent", {"systemPrompt": "p"},
                           proxy_base_url="http://127.0.0.1:9")
memory = InMemoryExporter()
whyops.configure(exporter=memory)
sdk.shutdown(10)
assert TRACER.enabled
whyops.tool(lambda: 1)()
assert len(memory.records) == 1
"""
    result = run_python(IMPORT_ONLY + body)
    assert result.returncode == 0, result.stderr
