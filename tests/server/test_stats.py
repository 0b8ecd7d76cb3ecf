"""``GET /api/stats``: buckets, series, percentiles, tokens and cost, checked by hand against
the data set of tests/server/stats_data.py, posted through the real ingest route."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server import stats_data
from tests.server.conftest import Api, event
from whyops.server.run import RunningServer, start_in_thread
from whyops.server.settings import ServerSettings

RANGE = {"from": stats_data.FROM, "to": stats_data.TO, "bucket": "1h"}


@pytest.fixture(scope="module")
def stats_api(db_store: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    db = db_store.new_db(Path(tmp_path_factory.mktemp("stats")))
    running: RunningServer = start_in_thread(ServerSettings(port=0, db_path=db))
    client = Api(running)
    response = client.ingest(stats_data.events())
    assert response.status_code in (200, 201, 202), response.text
    yield client
    client.close()
    running.stop()


def stats(api: Api, **params: Any) -> dict[str, Any]:
    response = api.get("/api/stats", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _zero(start: str) -> dict[str, Any]:
    return {
        "start": start, "traces": 0, "llmCalls": 0, "toolCalls": 0, "errors": 0,
        "errorRate": 0.0, "latencyMs": None,
        "tokens": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0, "reasoning": 0},
        "costUsd": None, "unpricedCalls": 0,
    }  # fmt: skip


def test_buckets_hold_counts_tokens_cost_and_exact_percentiles(stats_api: Api) -> None:
    answer = stats(stats_api, **RANGE)
    assert answer["bucket"] == "1h" and answer["bucketSeconds"] == 3600
    assert answer["from"].startswith("2031-03-04T10:00:00") and answer["groupBy"] is None
    [series] = answer["series"]
    assert series["key"] is None
    first, second, third = series["buckets"]
    assert first["start"].startswith("2031-03-04T10:00:00")
    # 10:00 — trace A: two priced calls (100 and 300 ms) and a tool call
    assert (first["traces"], first["llmCalls"], first["toolCalls"], first["errors"]) == (1, 2, 1, 0)
    assert first["latencyMs"] == {"p50": 200.0, "p95": 290.0, "p99": 298.0}
    assert first["tokens"] == {"input": 3000, "output": 600, "cacheRead": 0, "cacheWrite": 0,
                               "reasoning": 0}  # fmt: skip
    assert first["costUsd"] == pytest.approx(0.0075 + 0.006)
    # 11:00 — trace B: an unpriced call, a failed tool, an error
    assert (second["traces"], second["errors"], second["errorRate"]) == (1, 1, 1.0)
    assert second["costUsd"] is None and second["unpricedCalls"] == 1
    assert second["latencyMs"] == {"p50": 200.0, "p95": 200.0, "p99": 200.0}
    # 12:00 — trace C
    assert third["costUsd"] == pytest.approx(0.01)
    totals = answer["totals"]
    assert totals == series["totals"]
    assert (totals["traces"], totals["errors"], totals["llmCalls"], totals["toolCalls"]) == (
        3, 1, 4, 2,
    )  # fmt: skip
    assert totals["errorRate"] == pytest.approx(1 / 3)
    # 100, 200, 300, 400: p95 sits at 0.95 * 3 = 2.85 -> 300 + 0.85 * 100
    assert totals["latencyMs"] == {"p50": 250.0, "p95": 385.0, "p99": 397.0}
    assert totals["costUsd"] == pytest.approx(stats_data.COST_A + stats_data.COST_C)
    assert totals["unpricedCalls"] == 1


def test_group_by_agent_orders_series_by_cost_and_fills_every_bucket(stats_api: Api) -> None:
    answer = stats(stats_api, groupBy="agent", **RANGE)
    alpha, beta = answer["series"]
    assert (alpha["key"], beta["key"]) == ("alpha", "beta")
    assert alpha["totals"]["costUsd"] == pytest.approx(stats_data.COST_A + stats_data.COST_C)
    assert alpha["totals"]["latencyMs"] == {"p50": 300.0, "p95": 390.0, "p99": 398.0}
    assert beta["totals"]["costUsd"] is None and beta["totals"]["traces"] == 1
    assert alpha["buckets"][1] == _zero(alpha["buckets"][1]["start"])
    assert [b["traces"] for b in beta["buckets"]] == [0, 1, 0]


def test_group_by_model_and_user(stats_api: Api) -> None:
    models = {s["key"]: s["totals"] for s in stats(stats_api, groupBy="model", **RANGE)["series"]}
    assert models["gpt-4o"]["llmCalls"] == 3 and models["mystery-model"]["unpricedCalls"] == 1
    users = stats(stats_api, groupBy="user", **RANGE)["series"]
    assert [(s["key"], s["totals"]["traces"]) for s in users] == [("u1", 2), ("u2", 1)]


def test_agent_filter(stats_api: Api) -> None:
    answer = stats(stats_api, agent="beta", **RANGE)
    assert answer["agent"] == "beta"
    assert answer["totals"]["traces"] == 1 and answer["totals"]["costUsd"] is None
    assert stats(stats_api, agent="nobody", **RANGE)["totals"]["traces"] == 0


def test_range_is_half_open_and_buckets_align(stats_api: Api) -> None:
    # 10:30 to 12:10: trace A (10:05) and C (12:10, at "to") are out; B is in
    answer = stats(stats_api, **{"from": "2031-03-04T10:30:00Z", "to": "2031-03-04T12:10:00Z"})
    assert answer["bucket"] == "1m"  # 100 buckets of a minute fit in 200
    assert len(answer["series"][0]["buckets"]) == 100
    assert answer["totals"]["traces"] == 1 and answer["totals"]["llmCalls"] == 1
    hourly = stats(stats_api, **{"from": "2031-03-04T10:30:00Z", "to": TO_NEXT, "bucket": "1h"})
    assert [b["start"][11:19] for b in hourly["series"][0]["buckets"]] == [
        "10:00:00", "11:00:00", "12:00:00",
    ]  # fmt: skip


TO_NEXT = "2031-03-04T12:30:00Z"


def test_default_range_is_the_last_day(stats_api: Api) -> None:
    answer = stats(stats_api)
    assert answer["bucket"] == "15m"
    assert len(answer["series"][0]["buckets"]) in (96, 97)  # 97 when "from" is mid-bucket
    assert answer["totals"]["traces"] == 0


def test_more_than_twenty_series_fold_into_other(fresh_api: Api) -> None:
    calls = [
        stats_data.llm(f"t{n}", f"10:{n:02d}:00", "gpt-4o", (1000 * (n + 1), 0), 10 * (n + 1),
                       externalUserId=f"user-{n:02d}")
        for n in range(23)
    ]  # fmt: skip
    assert fresh_api.ingest(calls).status_code in (200, 201, 202)
    series = stats(fresh_api, groupBy="user", **RANGE)["series"]
    assert len(series) == 21
    assert [s["key"] for s in series[:3]] == ["user-22", "user-21", "user-20"]
    other = series[-1]
    assert other["key"] == "(other)"
    # users 00, 01, 02: latencies 10, 20, 30 ms, 1000 + 2000 + 3000 input tokens
    assert other["totals"]["traces"] == 3
    assert other["totals"]["latencyMs"] == {"p50": 20.0, "p95": 29.0, "p99": 29.8}
    assert other["totals"]["costUsd"] == pytest.approx(6000 * 2.5e-6)


def test_percentiles_are_exact_to_the_last_digit_on_both_stores(fresh_api: Api) -> None:
    latencies = [1234567.891234567, 0.1 + 0.2, 987.6543210987654, 2 / 3]
    calls = [
        stats_data.llm(f"x{n}", f"10:0{n}:00", "gpt-4o", (10, 0), 0, **{"spanId": f"s{n}"})
        for n in range(len(latencies))
    ]
    for call, latency in zip(calls, latencies, strict=True):
        call["metadata"]["latencyMs"] = latency
    assert fresh_api.ingest(calls).status_code in (200, 201, 202)
    # percentile_cont by hand over the sorted values: rank p * (n - 1), interpolated
    _, mid, high, top = sorted(latencies)
    expected = {
        "p50": mid + (high - mid) * 50 / 100,
        "p95": high + (top - high) * 85 / 100,
        "p99": high + (top - high) * 97 / 100,
    }
    assert stats(fresh_api, **RANGE)["totals"]["latencyMs"] == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2031-13-01T00:00:00Z"}, "to"),
        ({"from": "2031-03-04T10:00:00Z", "to": "2031-03-04T10:00:00Z"}, "to"),
        ({"from": "2031-01-01T00:00:00Z", "to": "2032-03-01T00:00:00Z"}, "to"),
        ({"bucket": "2h"}, "bucket"),
        ({"from": "2031-01-01T00:00:00Z", "to": "2031-01-10T00:00:00Z", "bucket": "1m"}, "bucket"),
        ({"groupBy": "tool"}, "groupBy"),
        ({"agent": "x" * 256}, "agent"),
        ({"agent": "a\x00b"}, "agent"),
        # past the years 1 to 9999 once in UTC: no ISO-8601 time to answer with
        ({"from": "9999-12-31T00:00:00Z", "to": "9999-12-31T23:59:59-14:00"}, "to"),
        ({"from": "0001-01-01T00:00:00+14:00", "to": "0001-01-02T00:00:00Z"}, "from"),
    ],
)
def test_bad_parameters_answer_400_naming_the_field(
    stats_api: Api, params: dict[str, str], field: str
) -> None:
    response = stats_api.get("/api/stats", params=params)
    assert response.status_code == 400, response.text
    assert field in [issue["field"] for issue in response.json()["details"]]


def test_needs_a_key_and_reads_only_its_own_project(keyed_server: RunningServer) -> None:
    owner, stranger = Api(keyed_server, "whyops_alpha"), Api(keyed_server, "whyops_gamma")
    try:
        trace = event("user_message", "mine", timestamp="2031-03-04T10:10:00Z")
        assert owner.ingest(trace).status_code in (200, 201, 202)
        assert stats(owner, **RANGE)["totals"]["traces"] == 1
        assert stats(stranger, **RANGE)["totals"]["traces"] == 0
        assert Api(keyed_server, "").get("/api/stats").status_code == 401
    finally:
        owner.close()
        stranger.close()


_PARAM_NAMES = ("from", "to", "bucket", "groupBy", "agent", "kind", "limit", "other")
_VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["1m", "5m", "1h", "1d", "agent", "model", "user", "0", "-1", "101"]),
    st.datetimes().map(lambda moment: moment.isoformat() + "Z"),
    st.sampled_from(["2031-03-04T10:00:00Z", "2031-03-04", "0001-01-01T00:00:00Z",
                     "9999-12-31T23:59:59Z", "2031-03-04T10:00:00+14:00"]),
)  # fmt: skip


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(params=st.dictionaries(st.sampled_from(_PARAM_NAMES), _VALUES, max_size=6))
def test_fuzzed_parameters_never_fail_the_server(stats_api: Api, params: dict[str, str]) -> None:
    for path in ("/api/stats", "/api/stats/top"):
        response = stats_api.get(path, params=params)
        assert response.status_code in (200, 400), (path, params, response.text)
        if response.status_code == 400:
            assert all(issue["field"] for issue in response.json()["details"])


_NAMES = st.text(min_size=1, max_size=12)  # NUL, quotes, backslashes and \u escapes included


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(calls=st.lists(stats_data.calls(_NAMES), min_size=1, max_size=4))
def test_every_stats_view_answers_whatever_was_stored(
    stats_api: Api, calls: list[dict[str, Any]]
) -> None:
    trace = f"fz-{uuid.uuid4().hex[:10]}"
    events = [e for call in calls for e in stats_data.call_events(trace, call)]
    stored = stats_api.ingest(events)
    assert stored.status_code in (200, 202, 400), stored.text  # 400: a NUL on PostgreSQL
    window = {"from": "2031-03-05T10:00:00Z", "to": "2031-03-05T13:00:00Z"}
    for group_by in (None, "agent", "model", "user"):
        answer = stats(stats_api, groupBy=group_by, **window)
        assert len(answer["series"]) <= 21
    for kind in ("costliest_traces", "slowest_tools", "failing_tools", "heaviest_users"):
        response = stats_api.get("/api/stats/top", params={"kind": kind, **window})
        assert response.status_code == 200, (kind, response.text)
    # the routes carrying cost fields answer too
    reads = ["/api/threads", f"/api/threads/{trace}", f"/api/traces/{trace}/spans",
             f"/api/threads/{trace}/graph", "/api/entities"]  # fmt: skip
    for path in reads:
        response = stats_api.get(path)
        assert response.status_code in (200, 404), (path, response.text)  # 404: nothing stored
    response = stats_api.get("/api/events", params={"traceId": trace})
    assert response.status_code == 200, response.text
