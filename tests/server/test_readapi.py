"""The read API: thread summaries and details, events, entities, health."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.conftest import Api, event, new_trace
from whyops.server.timeutil import format_us, now_us


def _usage(prompt: int, completion: int, read: int = 0, created: int = 0) -> dict:
    return {
        "model": "claude-test",
        "provider": "anthropic",
        "latencyMs": 120,
        "usage": {
            "promptTokens": prompt,
            "completionTokens": completion,
            "totalTokens": prompt + completion + read + created,
            "cacheReadTokens": read,
            "cacheCreationTokens": created,
        },
    }


def test_health_needs_no_key_and_tells_nothing_else_without_one(api: Api) -> None:
    for key in ("", "Bearer not-a-key"):
        response = api.http.get("/api/health", headers={"Authorization": key})
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "service": "whyops"}


def test_health_with_a_key_reports_the_build_and_the_writes(api: Api) -> None:
    report = api.get("/api/health").json()
    assert report["status"] == "ok"
    assert {"version", "schema", "recorder", "writerQueue"} <= set(report)


def test_thread_totals_include_cache_tokens_and_errors(api: Api) -> None:
    trace = new_trace()
    api.ingest(
        [
            event("user_message", trace, timestamp="2026-02-01T00:00:00Z"),
            event("llm_response", trace, metadata=_usage(100, 20, 1000, 300),
                  timestamp="2026-02-01T00:00:01Z"),
            event("llm_response", trace, metadata=_usage(50, 10), timestamp="2026-02-01T00:00:02Z"),
            event("error", trace, content={"message": "boom"}, timestamp="2026-02-01T00:00:03.5Z"),
        ]
    )  # fmt: skip
    detail = api.thread(trace)
    expected = {
        "eventCount": 4,
        "errorCount": 1,
        "promptTokens": 150,
        "completionTokens": 30,
        "cacheReadTokens": 1000,
        "cacheCreationTokens": 300,
        "totalTokens": 1480,
        "duration": 3500.0,
        "totalLatency": 240.0,
        "avgLatency": 120.0,
        "firstEventTimestamp": "2026-02-01T00:00:00Z",
        "lastEventTimestamp": "2026-02-01T00:00:03.5Z",
        "model": "claude-test",
    }
    assert {k: detail[k] for k in expected} == expected
    assert [e["timeSinceStart"] for e in detail["events"]] == [0.0, 1000.0, 2000.0, 3500.0]
    assert detail["events"][1]["cacheReadTokens"] == 1000
    listed = api.get("/api/threads", params={"threadId": trace}).json()["threads"]
    assert [t["totalTokens"] for t in listed] == [1480]


def test_thread_detail_includes_content_only_on_request(api: Api) -> None:
    trace = new_trace()
    api.ingest(event("user_message", trace, content={"messages": [{"role": "user"}]}))
    plain = api.thread(trace)["events"][0]
    assert "content" not in plain
    assert "metadata" not in plain
    full = api.thread(trace, eventInclude="content,metadata")["events"][0]
    assert full["content"] == {"messages": [{"role": "user"}]}
    assert full["metadata"] is None


def test_thread_event_pagination(api: Api) -> None:
    trace = new_trace()
    api.ingest([event("tool_result", trace, content=i) for i in range(7)])
    page = api.thread(trace, eventLimit=3, eventOffset=3, eventInclude="content")
    assert [e["content"] for e in page["events"]] == [3, 4, 5]
    assert page["eventsPagination"] == {"total": 7, "limit": 3, "offset": 3, "hasMore": True}


def test_thread_list_filters(api: Api) -> None:
    agent = f"filters-{new_trace()}"
    ok, failed, other_user = new_trace(), new_trace(), new_trace()
    api.ingest(
        event(
            "user_message",
            ok,
            agentName=agent,
            externalUserId="u1",
            timestamp="2025-03-01T00:00:00Z",
        )
    )
    api.ingest(
        event(
            "error", failed, agentName=agent, externalUserId="u1", timestamp="2025-03-05T00:00:00Z"
        )
    )
    api.ingest(event("user_message", other_user, agentName=agent, externalUserId="u2",
                     timestamp="2025-03-09T00:00:00Z"))  # fmt: skip

    def ids(**params: object) -> list[str]:
        response = api.get("/api/threads", params={"agentName": agent, **params})
        assert response.status_code == 200, response.text
        return [t["threadId"] for t in response.json()["threads"]]

    assert ids() == [other_user, failed, ok]  # most recent activity first
    assert ids(externalUserId="u1") == [failed, ok]
    assert ids(hasErrors="true") == [failed]
    assert ids(hasErrors="false") == [other_user, ok]
    assert ids(startDate="2025-03-04T00:00:00Z") == [other_user, failed]
    assert ids(endDate="2025-03-04") == [ok]
    assert ids(startDate="2025-03-02", endDate="2025-03-06T00:00:00+00:00") == [failed]


def test_thread_list_pagination(api: Api) -> None:
    agent = f"pages-{new_trace()}"
    for _ in range(5):
        api.ingest(event("user_message", new_trace(), agentName=agent))
    first = api.get("/api/threads", params={"agentName": agent, "count": 2}).json()
    assert first["pagination"] == {
        "total": 5, "count": 2, "page": 1, "totalPages": 3, "hasMore": True,
    }  # fmt: skip
    last = api.get("/api/threads", params={"agentName": agent, "count": 2, "page": 3}).json()
    assert len(last["threads"]) == 1
    assert last["pagination"]["hasMore"] is False


def test_updated_since_is_for_live_polling(api: Api) -> None:
    agent = f"live-{new_trace()}"
    trace = new_trace()
    api.ingest(event("user_message", trace, agentName=agent))
    mark = format_us(now_us())
    time.sleep(0.002)
    assert (
        api.get("/api/threads", params={"agentName": agent, "updatedSince": mark}).json()["threads"]
        == []
    )
    api.ingest(event("tool_result", trace, agentName=agent))
    changed = api.get("/api/threads", params={"agentName": agent, "updatedSince": mark}).json()
    assert [(t["threadId"], t["eventCount"]) for t in changed["threads"]] == [(trace, 2)]


def test_bad_query_parameters_are_400_with_the_field(api: Api) -> None:
    cases = [
        ("/api/threads", {"count": "0"}, "count"),
        ("/api/threads", {"page": "x"}, "page"),
        ("/api/threads", {"hasErrors": "maybe"}, "hasErrors"),
        ("/api/threads", {"startDate": "soon"}, "startDate"),
        ("/api/events", {"limit": "500"}, "limit"),
        ("/api/entities", {"count": "-1"}, "count"),
    ]
    for path, params, field in cases:
        response = api.get(path, params=params)
        assert response.status_code == 400, (path, params)
        assert response.json()["details"][0]["field"] == field


def test_unknown_thread_and_event_are_404(api: Api) -> None:
    assert api.get("/api/threads/no-such-trace").status_code == 404
    assert api.get("/api/threads/no-such-trace/graph").status_code == 404
    assert api.get("/api/traces/no-such-trace/spans").status_code == 404
    missing = api.get("/api/events/00000000-0000-0000-0000-000000000000")
    assert missing.json() == {"error": "Event not found"}


def test_events_list_is_newest_first(api: Api) -> None:
    trace = new_trace()
    api.ingest([event("tool_result", trace, content=i, timestamp=f"2026-01-01T00:00:0{i}Z")
                for i in range(5)])  # fmt: skip
    page = api.get("/api/events", params={"traceId": trace, "limit": 2, "include": "content"})
    body = page.json()
    assert [e["content"] for e in body["events"]] == [4, 3]
    assert body["pagination"] == {"total": 5, "limit": 2, "offset": 0, "hasMore": True}
    by_thread = api.get("/api/events", params={"threadId": trace, "offset": 4}).json()
    assert len(by_thread["events"]) == 1
    one = api.get(f"/api/events/{body['events'][0]['id']}", params={"include": "metadata"})
    assert one.json()["traceId"] == trace
    assert "metadata" in one.json()
    assert "content" not in one.json()


def test_entities_list_and_detail(api: Api) -> None:
    name = f"entity-{new_trace()}"
    init = {"agentName": name, "metadata": {"systemPrompt": "v1", "tools": []}}
    created = api.post("/api/entities/init", init).json()
    api.post("/api/entities/init", {**init, "metadata": {"systemPrompt": "v2", "tools": []}})
    trace, failing_twice, clean = new_trace(), new_trace(), new_trace()
    api.ingest(
        [event("user_message", trace, agentName=name), event("error", trace, agentName=name)]
    )
    api.ingest([event("error", failing_twice, agentName=name) for _ in range(2)])
    api.ingest([event("user_message", clean, agentName=name)])
    listed = api.get("/api/entities", params={"count": 100, "include": "metadata"}).json()
    mine = next(a for a in listed["agents"] if a["name"] == name)
    assert (mine["traceCount"], mine["eventCount"], mine["versionCount"]) == (3, 5, 2)
    assert mine["tracesWithErrors"] == 2  # traces, not error events (3)
    assert mine["successPercentage"] == 40.0
    assert mine["latestVersion"]["metadata"]["systemPrompt"] == "v2"
    detail = api.get(f"/api/entities/{created['agentId']}").json()
    assert (detail["versionCount"], detail["tracesWithErrors"]) == (2, 2)
    assert [v["metadata"]["systemPrompt"] for v in detail["versions"]] == ["v1", "v2"]
    assert detail["versions"][0]["hash"] == created["versionHash"]
    assert api.get("/api/entities/unknown-agent").status_code == 404


PREFIX_TRACES = ["ab%_1", "ab%_2", "abX", "a\u00e9\U0001f600z"]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=12))
def test_a_trace_id_prefix_lists_exactly_the_traces_it_starts(api: Api, prefix: str) -> None:
    # The prefix is a text range, not a LIKE pattern: % and _ are plain characters.
    mine = {"agentName": "prefix-agent"}
    if api.get("/api/threads", params=mine).json()["threads"] == []:
        events = [event("user_message", t, content="hi", **mine) for t in PREFIX_TRACES]
        assert api.ingest(events).is_success
    response = api.get("/api/threads", params={**mine, "traceIdPrefix": prefix, "count": 100})
    assert response.status_code == 200, response.text
    listed = {t["traceId"] for t in response.json()["threads"]}
    assert listed == {t for t in PREFIX_TRACES if t.startswith(prefix)}
