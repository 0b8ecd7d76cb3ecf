"""One exception through nested spans is one error: counted where it began, once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import whyops
from tests.server.conftest import Api
from whyops.server.run import RunningServer


@pytest.fixture
def sdk(fresh_server: RunningServer) -> Iterator[str]:
    """The real SDK exporting to the server over HTTP; the agent name traces report under."""
    whyops.configure(api_key=fresh_server.api_key, base_url=fresh_server.base_url)
    try:
        yield "support"  # the @whyops.agent function's name
    finally:
        whyops.shutdown()


@whyops.tool
def fetch(order: str) -> str:
    raise KeyError(order)


@whyops.tool
def lookup(order: str) -> str:
    return fetch(order)


@whyops.agent
def support(order: str) -> str:
    return lookup(order)


def test_one_exception_through_three_spans_counts_once(
    sdk: str, fresh_server: RunningServer
) -> None:
    with pytest.raises(KeyError):
        support("A1")
    report = whyops.flush(10)
    assert (report.dropped, report.pending) == (0, 0), report
    api = Api(fresh_server)
    try:
        threads = api.get("/api/threads", params={"agentName": sdk}).json()["threads"]
        assert len(threads) == 1
        thread = threads[0]
        trace_id = thread["traceId"]
        events = api.get("/api/events", params={"traceId": trace_id, "include": "content"})
        errors = [e for e in events.json()["events"] if e["eventType"] == "error"]
        assert len(errors) == 3  # the SDK closes every span the exception left with an error
        origins = [e for e in errors if "originSpanId" not in (e.get("content") or {})]
        assert len(origins) == 1 and "stack" in origins[0]["content"]
        assert thread["errorCount"] == 1
        spans = api.get(f"/api/traces/{trace_id}/spans").json()["spans"]
        assert [s["status"] for s in spans] == ["error"] * 3  # each span still failed
        entity = api.get(f"/api/entities/{sdk}").json()
        assert entity["tracesWithErrors"] == 1
        events_stored = entity["eventCount"]
        assert entity["successPercentage"] == round((events_stored - 1) / events_stored * 100, 1)
        assert api.get("/api/threads", params={"hasErrors": "true", "agentName": sdk}).json()[
            "threads"
        ]
    finally:
        api.close()
