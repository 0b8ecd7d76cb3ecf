"""Agent registration: explicit calls raise clear errors; implicit runs once, in the background."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from client_helpers import KEY, METADATA

from whyops.client import AgentInitError
from whyops.client._metadata import version_hash


def inits(recorder, sdk):
    return [r for r in recorder.under(sdk.proxy_base_url) if r.path.endswith("init")]


def test_explicit_init_returns_agent_info(recorder, sdk_factory):
    """init_agent_sync posts the normalised metadata with the key and returns the info."""
    sdk = sdk_factory()
    info = sdk.init_agent_sync()
    assert info == {
        "agentId": "agent-customer-support-agent",
        "agentVersionId": "version-1",
        "status": "created",
        "versionHash": sdk.version_hash,
    }
    (request,) = inits(recorder, sdk)
    assert request.path.endswith("/api/entities/init")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body == {"agentName": "customer-support-agent", "metadata": sdk.agent_metadata}
    assert version_hash(request.body["metadata"]) == info["versionHash"]
    assert sdk.init_agent_sync() == info and len(inits(recorder, sdk)) == 1  # cached


def test_falls_back_to_the_proxy(recorder, sdk_factory, refused_url):
    """When analyse is unreachable, {proxy}/v1/agents/init registers the agent."""
    sdk = sdk_factory(analyse_base_url=refused_url + "/api")
    info = sdk.init_agent_sync()
    assert info["agentId"] == "agent-customer-support-agent"
    assert [r.path.rsplit("/", 3)[-3:] for r in inits(recorder, sdk)] == [["v1", "agents", "init"]]


def test_bad_key_raises_without_fallback(recorder, sdk_factory):
    """A 401 is final: the error says so and the fallback is not tried."""
    base = recorder.base()
    recorder.answers[base.removeprefix(recorder.url) + "/api/entities/init"] = (
        401,
        {"success": False, "error": "Unauthorized: Invalid API key"},
    )
    sdk = sdk_factory(base=base)
    with pytest.raises(AgentInitError, match="HTTP 401 Unauthorized: Invalid API key") as caught:
        sdk.init_agent_sync()
    assert caught.value.status == 401 and "api_key" in str(caught.value)
    assert len(inits(recorder, sdk)) == 1


def test_invalid_metadata_rejected_by_server_raises(recorder, sdk_factory):
    """A 400 from the server surfaces with its body."""
    base = recorder.base()
    recorder.answers[base.removeprefix(recorder.url) + "/api/entities/init"] = (
        400,
        {"success": False, "error": {"name": "ZodError"}},
    )
    with pytest.raises(AgentInitError, match="HTTP 400") as caught:
        sdk_factory(base=base).init_agent_sync()
    assert caught.value.status == 400


def test_unreachable_raises_listing_both_urls(sdk_factory, refused_url):
    """Nothing listening: the error names both URLs tried."""
    url = refused_url
    sdk = sdk_factory(base=url)
    started = time.monotonic()
    with pytest.raises(AgentInitError, match="unreachable") as caught:
        sdk.init_agent_sync()
    assert time.monotonic() - started < 5
    assert caught.value.status is None
    assert [a.split(": ")[0] for a in caught.value.attempts] == [
        url + "/api/entities/init",
        url + "/v1/agents/init",
    ]


async def test_async_explicit_init_raises_too(sdk_factory, refused_url):
    """await init_agent() raises the same error."""
    with pytest.raises(AgentInitError, match="unreachable"):
        await sdk_factory(base=refused_url).init_agent()


def test_single_flight_across_threads_and_loops(recorder, sdk_factory):
    """8 threads and 3 event loops x 10 tasks asking at once share one request."""
    recorder.init_delay = 0.3
    try:
        sdk = sdk_factory()

        async def many():
            return await asyncio.gather(*(sdk.init_agent() for _ in range(10)))

        with ThreadPoolExecutor(11) as pool:
            sync = [pool.submit(sdk.init_agent_sync) for _ in range(8)]
            loops = [pool.submit(asyncio.run, many()) for _ in range(3)]
            results = [f.result() for f in sync] + [i for f in loops for i in f.result()]
    finally:
        recorder.init_delay = 0.0
    assert len(results) == 38 and all(r == results[0] for r in results)
    assert len(inits(recorder, sdk)) == 1


def test_implicit_init_runs_once_off_the_callers_thread(recorder, sdk_factory, events):
    """Many concurrent first events: one registration, in the background, none waiting."""
    recorder.init_delay = 0.5
    try:
        sdk = sdk_factory()
        trace = sdk.trace("t-implicit")
        barrier = threading.Barrier(8)
        durations = []

        def first_events():
            barrier.wait()
            started = time.perf_counter()
            for _ in range(5):
                trace.error_sync("e")
            durations.append(time.perf_counter() - started)

        threads = [threading.Thread(target=first_events) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert max(durations) < 0.25  # far below the 0.5 s the server takes
        assert events.records == []  # held until registration is over
        report = sdk.flush(timeout=10)
    finally:
        recorder.init_delay = 0.0
    assert report.pending == 0
    assert len(events.records) == 40
    assert len(inits(recorder, sdk)) == 1
    assert sdk.agent_info is not None


def test_implicit_init_failure_never_raises(sdk_factory, events, caplog, refused_url):
    """With the server down, events still go to the tracer and a warning is logged."""
    sdk = sdk_factory(base=refused_url)
    sdk.trace("t-down").error_sync("boom")
    report = sdk.flush(timeout=10)
    assert report.pending == 0 and len(events.records) == 1
    assert sdk.agent_info is None
    assert "registering agent 'customer-support-agent' failed" in caplog.text


def test_explicit_init_after_implicit_failure_retries(recorder, sdk_factory, events):
    """A failed background registration is not cached: an explicit call tries again."""
    base = recorder.base()
    path = base.removeprefix(recorder.url)
    recorder.answers[path + "/api/entities/init"] = (500, {"error": "down"})
    recorder.answers[path + "/v1/agents/init"] = (500, {"error": "down"})
    sdk = sdk_factory(base=base)
    sdk.trace("t-retry").error_sync("x")
    sdk.flush(timeout=10)
    assert sdk.agent_info is None
    del recorder.answers[path + "/api/entities/init"]
    assert sdk.init_agent_sync()["status"] == "created"


def test_metadata_sent_is_what_was_validated(events, refused_url):
    """agent_metadata returns the normalised copy (dict schemas as JSON text)."""
    from whyops.client import WhyOps

    sdk = WhyOps(
        KEY,
        "a",
        {**METADATA, "tools": [{"name": "t", "inputSchema": {"type": "object"}}]},
        proxy_base_url=refused_url,
    )
    assert sdk.agent_metadata["tools"] == [
        {"name": "t", "inputSchema": '{"type":"object"}', "outputSchema": "{}", "description": "t"}
    ]


def test_after_explicit_init_events_go_straight_through(sdk_factory, events):
    """Once registered, an event reaches the tracer at once, with no thread started."""
    sdk = sdk_factory()
    sdk.init_agent_sync()
    before = threading.active_count()
    sdk.trace("t-direct").error_sync("x")
    assert len(events.records) == 1
    assert threading.active_count() == before


def test_a_forked_child_registers_on_its_own(recorder, sdk_factory, events, monkeypatch):
    """A child process does not wait for its parent's registration thread."""
    from whyops.client import _registration

    recorder.init_delay = 0.3
    try:
        sdk = sdk_factory()
        sdk.trace("t-fork").error_sync("parent")  # starts the parent's registration
        pid = _registration.os.getpid()
        monkeypatch.setattr(_registration.os, "getpid", lambda: pid + 1)
        sdk.trace("t-fork").error_sync("child")
        assert sdk._registration.held == 1  # only the child's own event waits
        assert sdk.flush(timeout=10).pending == 0
    finally:
        recorder.init_delay = 0.0
    # The parent's held event stays the parent's: a child never re-sends it.
    assert [r.payload["content"]["message"] for r in events.records] == ["child"]


def test_no_thread_available_still_sends(sdk_factory, events, monkeypatch):
    """If no registration thread can start, events go on unregistered, without an error."""
    from whyops.client import _registration

    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(_registration.threading.Thread, "start", refuse)
    sdk = sdk_factory()
    sdk.trace("t-nothread").error_sync("x")
    assert len(events.records) == 1
