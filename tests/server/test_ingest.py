"""Event ingest: WhyOps paths, status codes, validation details, dedupe and extensions."""

from __future__ import annotations

import pytest

from tests.server.conftest import Api, event, event_count, new_trace


def test_ingest_single_object_and_array(api: Api) -> None:
    trace = new_trace()
    one = api.ingest(event("user_message", trace, content={"messages": []}))
    assert one.status_code == 202
    assert one.json() == {"success": True, "accepted": True, "queuedCount": 1}
    many = api.ingest([event("user_message", trace), event("llm_response", trace)])
    assert many.json()["queuedCount"] == 2
    assert event_count(api.running.db_path, trace) == 3


def test_ingest_answers_only_after_commit(api: Api) -> None:
    trace = new_trace()
    batch = [event("user_message", trace, content={"i": i}) for i in range(50)]
    assert api.ingest(batch).status_code == 202
    # read straight from the file, on another connection, right after the 202
    assert event_count(api.running.db_path, trace) == 50


def test_empty_array_is_accepted(api: Api) -> None:
    assert api.ingest([]).json() == {"success": True, "accepted": True, "queuedCount": 0}


ALL_TYPES = [
    "user_message",
    "llm_response",
    "llm_thinking",
    "embedding_request",
    "embedding_response",
    "tool_call_request",
    "tool_call_response",
    "tool_result",
    "error",
]


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_each_event_type_is_stored(api: Api, event_type: str) -> None:
    trace = new_trace()
    assert api.ingest(event(event_type, trace, content={"x": 1})).status_code == 202
    events = api.thread(trace, eventInclude="content")["events"]
    assert [(e["eventType"], e["content"]) for e in events] == [(event_type, {"x": 1})]


@pytest.mark.parametrize(
    ("event_type", "metadata", "field"),
    [
        ("tool_call_request", {}, "metadata.tool"),
        ("tool_call_response", {"tool": ""}, "metadata.tool"),
        ("llm_response", {"provider": "openai"}, "metadata.model"),
        ("llm_response", {"model": "m"}, "metadata.provider"),
        ("embedding_response", {"model": "m"}, "metadata.provider"),
    ],
)
def test_type_specific_required_fields(
    api: Api, event_type: str, metadata: dict, field: str
) -> None:
    trace = new_trace()
    bad = event(event_type, trace, metadata=metadata)
    response = api.ingest(bad)
    assert response.status_code == 400
    assert response.json()["error"] == "Validation failed"
    assert field in [d["field"] for d in response.json()["details"]]


def test_batch_errors_name_the_item_and_reject_the_whole_batch(api: Api) -> None:
    trace = new_trace()
    batch = [event("user_message", trace), event("tool_call_request", trace, metadata={})]
    response = api.ingest(batch)
    assert response.status_code == 400
    assert response.json()["details"] == [
        {"field": "1.metadata.tool", "message": "Required", "code": "invalid_type"}
    ]
    assert event_count(api.running.db_path, trace) == 0


@pytest.mark.parametrize(
    ("patch", "field", "code"),
    [
        ({"eventType": "nope"}, "eventType", "invalid_enum_value"),
        ({"eventType": None}, "eventType", "invalid_type"),
        ({"traceId": ""}, "traceId", "too_small"),
        ({"traceId": "x" * 129}, "traceId", "too_big"),
        ({"traceId": 5}, "traceId", "invalid_type"),
        ({"agentName": None}, "agentName", "invalid_type"),
        ({"agentName": "a" * 256}, "agentName", "too_big"),
        ({"stepId": 0}, "stepId", "too_small"),
        ({"stepId": 1.5}, "stepId", "invalid_type"),
        ({"stepId": True}, "stepId", "invalid_type"),
        ({"parentStepId": "2"}, "parentStepId", "invalid_type"),
        ({"spanId": "s" * 129}, "spanId", "too_big"),
        ({"idempotencyKey": 7}, "idempotencyKey", "invalid_type"),
        ({"externalUserId": "u" * 256}, "externalUserId", "too_big"),
        ({"timestamp": "yesterday"}, "timestamp", "invalid_string"),
        ({"timestamp": "2026-11-27T07:03:48"}, "timestamp", "invalid_string"),
        ({"timestamp": 1700000000}, "timestamp", "invalid_type"),
        ({"metadata": [1]}, "metadata", "invalid_type"),
        ({"parentSpanId": ["x"]}, "parentSpanId", "invalid_type"),
    ],
)
def test_field_errors(api: Api, patch: dict, field: str, code: str) -> None:
    trace = new_trace()
    body = {**event("user_message", trace), **patch}
    response = api.ingest(body)
    assert response.status_code == 400, response.text
    details = response.json()["details"]
    assert {"field": field, "code": code} in [
        {"field": d["field"], "code": d["code"]} for d in details
    ]
    assert all(d["message"] for d in details)


def test_timestamps_z_and_offsets(api: Api) -> None:
    trace = new_trace()
    batch = [
        event("user_message", trace, timestamp="2026-01-02T03:04:05.123456Z"),
        event("tool_result", trace, timestamp="2026-01-02T05:04:06+02:00"),
    ]
    assert api.ingest(batch).status_code == 202
    stamps = [e["timestamp"] for e in api.thread(trace)["events"]]
    assert stamps == ["2026-01-02T03:04:05.123456Z", "2026-01-02T03:04:06.000000Z"]


def test_events_are_ordered_by_client_timestamp(api: Api) -> None:
    trace = new_trace()
    late = event("llm_response", trace, timestamp="2026-01-01T00:00:02Z")
    early = event("user_message", trace, timestamp="2026-01-01T00:00:01Z")
    api.ingest([late, early])
    detail = api.thread(trace)
    assert [e["eventType"] for e in detail["events"]] == ["user_message", "llm_response"]
    assert detail["duration"] == 1000.0


def test_idempotency_key_dedupes_per_trace(api: Api) -> None:
    trace, other = new_trace(), new_trace()
    first = event("user_message", trace, idempotencyKey="k-1")
    assert api.ingest([first, first]).status_code == 202
    api.ingest(first)
    api.ingest(event("user_message", other, idempotencyKey="k-1"))
    assert event_count(api.running.db_path, trace) == 1
    assert event_count(api.running.db_path, other) == 1


def test_sync_endpoint_reports_saved_and_skipped(api: Api) -> None:
    trace = new_trace()
    body = event("user_message", trace, idempotencyKey="once", spanId="span-a")
    first = api.post("/api/events", body)
    assert first.status_code == 201
    saved = first.json()
    assert saved["status"] == "saved"
    assert (saved["stepId"], saved["parentStepId"], saved["spanId"]) == (1, None, "span-a")
    again = api.post("/api/events", [body, event("tool_result", trace)])
    assert again.status_code == 201
    skipped, second = again.json()
    assert skipped == {**saved, "status": "skipped"}
    assert (second["status"], second["stepId"], second["parentStepId"]) == ("saved", 2, 1)
    assert second["spanId"].startswith("span_")


def test_explicit_steps_are_kept(api: Api) -> None:
    trace = new_trace()
    results = api.post(
        "/api/events",
        [
            event("user_message", trace, stepId=5),
            event("llm_response", trace, stepId=9, parentStepId=2),
            event("tool_result", trace),
        ],
    ).json()
    assert [(r["stepId"], r["parentStepId"]) for r in results] == [(5, 4), (9, 2), (10, 9)]


def test_tool_result_endpoint_forces_the_type(api: Api) -> None:
    trace = new_trace()
    body = {"traceId": trace, "agentName": "agent", "metadata": {"tool": "search"}}
    response = api.post("/api/events/tool-result", body)
    assert response.status_code == 201
    assert api.thread(trace)["events"][0]["eventType"] == "tool_call_response"
    missing = api.post("/api/events/tool-result", {"traceId": trace, "agentName": "agent"})
    assert missing.json()["details"][0]["field"] == "metadata.tool"


def test_legacy_tool_call_is_split(api: Api) -> None:
    trace = new_trace()
    content = {"toolCalls": [{"name": "f", "arguments": {"a": 1}}], "toolResults": {"ok": True}}
    result = api.post("/api/events", event("tool_call", trace, content=content)).json()
    assert result["status"] == "saved"
    events = api.thread(trace, eventInclude="content,metadata")["events"]
    assert [e["eventType"] for e in events] == ["tool_call_request", "tool_call_response"]
    assert events[0]["spanId"] == events[1]["spanId"]
    assert events[1]["content"]["toolResults"] == {"ok": True}
    assert events[1]["metadata"]["autoGenerated"] is True


def test_extension_fields_are_stored_and_served(api: Api) -> None:
    trace = new_trace()
    body = event(
        "tool_call_request",
        trace,
        spanId="child",
        parentSpanId="root",
        spanKind="tool",
        spanName="lookup_order",
        threadId="conversation-1",
        externalUserId="user-7",
    )
    api.ingest(body)
    stored = api.thread(trace)["events"][0]
    assert {k: stored[k] for k in ("spanId", "parentSpanId", "spanKind", "spanName")} == {
        "spanId": "child",
        "parentSpanId": "root",
        "spanKind": "tool",
        "spanName": "lookup_order",
    }
    assert (stored["threadId"], stored["externalUserId"]) == ("conversation-1", "user-7")
    again = api.get(f"/api/events/{stored['id']}").json()
    assert again["parentSpanId"] == "root"


def test_external_user_header_is_the_default(api: Api) -> None:
    trace = new_trace()
    batch = [event("user_message", trace), event("tool_result", trace, externalUserId="own")]
    api.ingest(batch, headers={"X-External-User-Id": "header-user"})
    users = [e["externalUserId"] for e in api.thread(trace)["events"]]
    assert users == ["header-user", "own"]
    assert api.thread(trace)["externalUserId"] == "header-user"


def test_external_user_header_is_read_as_utf8(api: Api) -> None:
    trace = new_trace()
    api.ingest([event("user_message", trace)], headers={"X-External-User-Id": "José".encode()})
    assert api.thread(trace)["events"][0]["externalUserId"] == "José"
    other = new_trace()  # not UTF-8: taken as latin-1, as sent
    api.ingest([event("user_message", other)], headers={"X-External-User-Id": b"Jos\xe9"})
    assert api.thread(other)["events"][0]["externalUserId"] == "José"


def test_unknown_agent_is_auto_created(api: Api) -> None:
    trace = new_trace()
    name = f"auto-{trace}"
    api.ingest(event("user_message", trace, agentName=name, metadata={"systemPrompt": "Be brief."}))
    agent = api.get(f"/api/entities/{name}").json()
    assert agent["name"] == name
    assert agent["latestVersion"]["autoCreated"] is True
    assert agent["latestVersion"]["metadata"]["systemPrompt"] == "Be brief."
    assert api.thread(trace)["agentId"] == agent["id"]


def test_every_agent_named_in_a_batch_is_registered(api: Api) -> None:
    trace = new_trace()
    first, second = f"first-{trace}", f"second-{trace}"
    api.ingest([event("user_message", trace, agentName=first),
                event("tool_result", trace, agentName=second)])  # fmt: skip
    assert api.get(f"/api/entities/{second}").status_code == 200
    detail = api.thread(trace)
    assert detail["agentName"] == first
    assert [e["agentName"] for e in detail["events"]] == [first, second]


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"inputTokens": 7, "outputTokens": 3}, (7, 3, None, None)),
        ({"promptTokens": 5, "inputTokens": 7, "completionTokens": 1}, (5, 1, None, None)),
        ({"cacheWriteTokens": 4, "cacheReadTokens": 9}, (None, None, 9, 4)),
        ({"cacheCreationTokens": 2, "cacheWriteTokens": 4}, (None, None, None, 2)),
        ({"cacheWrite5mTokens": 10, "cacheWrite1hTokens": 5}, (None, None, None, 15)),
        ({"promptTokens": True, "completionTokens": "3", "cacheReadTokens": -1}, (None,) * 4),
    ],
)
def test_usage_columns(api: Api, usage: dict, expected: tuple) -> None:
    trace = new_trace()
    metadata = {"model": "m", "provider": "anthropic", "usage": usage}
    api.ingest(event("llm_response", trace, metadata=metadata))
    stored = api.thread(trace, eventInclude="metadata")["events"][0]
    columns = ("promptTokens", "completionTokens", "cacheReadTokens", "cacheCreationTokens")
    assert tuple(stored[c] for c in columns) == expected
    assert stored["metadata"]["usage"] == usage  # stored exactly as sent
