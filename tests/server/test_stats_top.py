"""``GET /api/stats/top`` and the cost fields of the other read routes, on the data set of
tests/server/stats_data.py posted through the real ingest route."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server import stats_data
from tests.server.conftest import Api, event
from whyops.server.run import RunningServer, start_in_thread
from whyops.server.settings import ServerSettings

DAY = {"from": f"{stats_data.DAY}T00:00:00Z", "to": f"{stats_data.DAY}T23:59:59Z"}


@pytest.fixture(scope="module")
def top_api(db_store: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    db = db_store.new_db(Path(tmp_path_factory.mktemp("stats-top")))
    running: RunningServer = start_in_thread(ServerSettings(port=0, db_path=db))
    client = Api(running)
    assert client.ingest(stats_data.events()).status_code in (200, 201, 202)
    yield client
    client.close()
    running.stop()


def top(api: Api, kind: str, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/api/stats/top", params={"kind": kind, **DAY, **params})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["kind"] == kind and answer["from"].startswith(stats_data.DAY)
    return answer["rows"]  # type: ignore[no-any-return]


def test_costliest_traces_put_unpriced_ones_last(top_api: Api) -> None:
    rows = top(top_api, "costliest_traces")
    assert [row["traceId"] for row in rows] == ["A", "C", "B"]
    first = rows[0]
    assert first["costUsd"] == pytest.approx(stats_data.COST_A)
    assert (first["agentName"], first["threadId"], first["userId"]) == ("alpha", "A", "u1")
    assert (first["tokens"], first["llmCalls"]) == (3600, 2)
    assert first["startedAt"].startswith(f"{stats_data.DAY}T10:05:00")
    assert rows[2]["costUsd"] is None
    assert [row["traceId"] for row in top(top_api, "costliest_traces", limit=1)] == ["A"]
    assert [row["traceId"] for row in top(top_api, "costliest_traces", agent="beta")] == ["B"]


def test_slowest_tools(top_api: Api) -> None:
    # lookup took 30 and 50 ms: p95 = 30 + 0.95 * 20
    assert top(top_api, "slowest_tools") == [
        {"tool": "lookup", "calls": 2, "p95Ms": 49.0, "maxMs": 50.0, "slowestTraceId": "B"}
    ]


def test_failing_tools(top_api: Api) -> None:
    assert top(top_api, "failing_tools") == [
        {"tool": "lookup", "calls": 2, "failures": 1, "failureRate": 0.5, "lastFailedTraceId": "B"}
    ]
    assert top(top_api, "failing_tools", agent="alpha") == []


def test_heaviest_users(top_api: Api) -> None:
    rows = top(top_api, "heaviest_users")
    assert [(r["userId"], r["traces"], r["tokens"], r["lastTraceId"]) for r in rows] == [
        ("u1", 2, 7600, "C"),
        ("u2", 1, 110, "B"),
    ]
    assert rows[0]["costUsd"] == pytest.approx(stats_data.COST_A + stats_data.COST_C)
    assert rows[1]["costUsd"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [({}, "kind"), ({"kind": "nope"}, "kind"), ({"kind": "slowest_tools", "limit": "0"}, "limit"),
     ({"kind": "slowest_tools", "limit": "x"}, "limit"),
     ({"kind": "heaviest_users", "from": "2031-03-05T00:00:00Z", "to": "2031-03-04T00:00:00Z"},
      "to")],
)  # fmt: skip
def test_bad_parameters_answer_400_naming_the_field(
    top_api: Api, params: dict[str, str], field: str
) -> None:
    response = top_api.get("/api/stats/top", params=params)
    assert response.status_code == 400
    assert field in [issue["field"] for issue in response.json()["details"]]


def test_trace_routes_carry_cost(top_api: Api) -> None:
    detail = top_api.thread("A")
    assert detail["costUsd"] == pytest.approx(stats_data.COST_A)
    assert (detail["unpricedCalls"], detail["reasoningTokens"]) == (0, 0)
    assert detail["promptTokens"] == 3000  # the fields the released SDK and page read stay
    unpriced = top_api.thread("B")
    assert unpriced["costUsd"] is None and unpriced["unpricedCalls"] == 1
    listed = top_api.get("/api/threads", params={"threadId": "C"}).json()["threads"]
    assert [t["costUsd"] for t in listed] == [pytest.approx(stats_data.COST_C)]


def test_event_routes_carry_cost_and_price_version(top_api: Api) -> None:
    events = top_api.get("/api/events", params={"traceId": "A"}).json()["events"]
    answers = [e for e in events if e["eventType"] == "llm_response"]
    assert sorted(e["costUsd"] for e in answers) == pytest.approx([0.006, 0.0075])
    assert all(e["priceVersion"] for e in answers)
    assert all(e["costUsd"] is None for e in events if e["eventType"] != "llm_response")
    one = top_api.get(f"/api/events/{answers[0]['id']}").json()
    assert one["costUsd"] == answers[0]["costUsd"]
    assert one["priceVersion"] == answers[0]["priceVersion"]


def test_entities_and_spans_carry_cost(top_api: Api) -> None:
    agents = {a["name"]: a for a in top_api.get("/api/entities").json()["agents"]}
    assert agents["alpha"]["costUsd"] == pytest.approx(stats_data.COST_A + stats_data.COST_C)
    assert agents["beta"]["costUsd"] is None
    assert top_api.get("/api/entities/alpha").json()["agent"]["costUsd"] == pytest.approx(
        stats_data.COST_A + stats_data.COST_C
    )
    spans = top_api.get("/api/traces/A/spans").json()["spans"]
    answered = [s["costUsd"] for s in spans if s["kind"] == "llm" and s["model"] == "gpt-4o"]
    assert sorted(answered) == pytest.approx([0.006, 0.0075])
    assert all(s["costUsd"] is None for s in spans if s["kind"] != "llm")


def test_tool_names_holding_escaped_nul_still_rank(fresh_api: Api) -> None:
    odd = stats_data.tool("N", "10:00:00", 70)
    odd[1]["metadata"]["tool"] = "nul\x00tool"  # stored as JSON text with a \u0000 escape
    assert fresh_api.ingest(odd).status_code in (200, 202)
    assert fresh_api.ingest(stats_data.tool("M", "10:01:00", 20)).status_code in (200, 202)
    slowest = top(fresh_api, "slowest_tools")
    # PostgreSQL's json cannot give such text: the call ranks unnamed there; SQLite's
    # json_extract ends the name at the NUL
    assert [row["maxMs"] for row in slowest] == [70.0, 20.0]
    assert slowest[0]["tool"] in ("nul", None) and slowest[1]["tool"] == "lookup"


def test_a_tool_name_that_is_not_a_string_gives_way_to_the_span_name(fresh_api: Api) -> None:
    # An error event closing a tool span may carry any metadata: a number or a boolean is not
    # a tool's name, on either store.
    failures = [
        event("error", trace, timestamp=f"{stats_data.DAY}T10:0{n}:00Z", spanKind="tool",
              spanId=f"{trace}-t", spanName=f"span-{n}", metadata={"tool": odd, "latencyMs": 5})
        for n, (trace, odd) in enumerate([("P", 5), ("Q", True), ("R", {"a": 1})])
    ]  # fmt: skip
    assert fresh_api.ingest(failures).status_code in (200, 202)
    names = sorted(row["tool"] for row in top(fresh_api, "failing_tools"))
    assert names == ["span-0", "span-1", "span-2"]
    assert sorted(row["tool"] for row in top(fresh_api, "slowest_tools")) == names


def test_the_slowest_call_among_equals_is_the_latest_then_the_last_trace_id(
    fresh_api: Api,
) -> None:
    # Calls of one tool, equally slow: the row links the latest, then the greatest trace id,
    # on either store (not whichever its sort met last).
    calls = [("tie-z", "10:00:00"), ("tie-y", "10:01:00"), ("tie-a", "10:01:00"),
             ("tie-m", "10:01:00"), ("tie-b", "10:00:00")]  # fmt: skip
    for trace, time in calls:
        assert fresh_api.ingest(stats_data.tool(trace, time, 90)).status_code in (200, 202)
    [row] = top(fresh_api, "slowest_tools")
    assert (row["calls"], row["maxMs"], row["slowestTraceId"]) == (5, 90.0, "tie-y")
