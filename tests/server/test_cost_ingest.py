"""Cost at ingest, on SQLite and PostgreSQL: every LLM call with token counts gets its cost and
the price version, every trace the sum of its priced calls (NULL while none is priced), the
count of calls without a price, and its reasoning tokens."""

from __future__ import annotations

import math
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import StoreUnderTest
from tests.server.conftest import Api, event, new_trace, read_only
from whyops.pricing import PriceTable
from whyops.server.run import RunningServer, start_in_thread
from whyops.server.settings import ServerSettings

M = 1_000_000
TABLE = PriceTable.load()
VERSION = TABLE.version


def llm(
    trace: str, model: str, provider: str, usage: dict[str, Any] | None, **fields: Any
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"model": model, "provider": provider}
    if usage is not None:
        metadata["usage"] = usage
    return event("llm_response", trace, metadata=metadata, **fields)


def query_rows(db: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """The rows of ``query``, read on a read-only connection beside the server."""
    conn = read_only(db)
    try:
        return [tuple(row) for row in conn.execute(query, params).fetchall()]
    finally:
        conn.close()


def stored_events(db: str, trace: str) -> list[tuple[Any, ...]]:
    query = (
        "SELECT model, cost_usd, price_version, reasoning_tokens FROM events"
        " WHERE trace_id = ? AND event_type IN ('llm_response', 'embedding_response')"
        " ORDER BY step_id"
    )
    return query_rows(db, query, trace)


def stored_trace(db: str, trace: str) -> tuple[Any, ...]:
    query = (
        "SELECT cost_usd, unpriced_calls, reasoning_tokens, llm_calls FROM traces"
        " WHERE trace_id = ?"
    )
    return query_rows(db, query, trace)[0]


GPT4O_CALL = {"promptTokens": 1000, "cacheReadTokens": 400, "completionTokens": 500,
              "reasoningTokens": 100, "totalTokens": 1500}  # fmt: skip
GPT4O_USD = (600 * 2.5 + 400 * 1.25 + 500 * 10) / M
SONNET_CALL = {"promptTokens": 10, "cacheReadTokens": 200, "cacheCreationTokens": 100,
               "cacheWrite5mTokens": 60, "cacheWrite1hTokens": 40, "completionTokens": 7,
               "totalTokens": 317}  # fmt: skip
SONNET_USD = (10 * 3 + 200 * 0.3 + 60 * 3.75 + 40 * 6 + 7 * 15) / M
EMBEDDING_USD = 1000 * 0.02 / M


def test_each_llm_call_is_priced_and_summed(api: Api) -> None:
    trace = new_trace()
    batch = [
        event("user_message", trace),
        llm(trace, "gpt-4o-2024-08-06", "openai", GPT4O_CALL),
        llm(trace, "claude-sonnet-4-5-20250929", "anthropic", SONNET_CALL),
        llm(trace, "house-model-7", "openai", {"promptTokens": 50, "completionTokens": 5}),
        llm(trace, "gpt-4o", "openai", None),  # nothing to price
        event(
            "embedding_response",
            trace,
            metadata={
                "model": "text-embedding-3-small",
                "provider": "openai",
                "usage": {"promptTokens": 1000, "totalTokens": 1000},
            },
        ),
    ]
    assert api.ingest(batch).status_code == 202
    db = api.running.db_path
    assert stored_events(db, trace) == [
        ("gpt-4o-2024-08-06", pytest.approx(GPT4O_USD), VERSION, 100),
        ("claude-sonnet-4-5-20250929", pytest.approx(SONNET_USD), VERSION, None),
        ("house-model-7", None, None, None),
        ("gpt-4o", None, None, None),
        ("text-embedding-3-small", pytest.approx(EMBEDDING_USD), VERSION, None),
    ]
    assert stored_trace(db, trace) == (
        pytest.approx(GPT4O_USD + SONNET_USD + EMBEDDING_USD),
        1,
        100,
        5,
    )


def test_trace_sums_across_batches_and_repeats(api: Api) -> None:
    trace = new_trace()
    db = api.running.db_path
    unknown = llm(trace, "house-model-7", "openai", {"promptTokens": 5})
    assert api.ingest(unknown).status_code == 202
    assert stored_trace(db, trace) == (None, 1, 0, 1)  # nothing priced yet: NULL, not 0
    first = llm(trace, "gpt-4o", "openai", GPT4O_CALL, idempotencyKey=f"{trace}:1")
    assert api.ingest(first).status_code == 202
    assert stored_trace(db, trace) == (pytest.approx(GPT4O_USD), 1, 100, 2)
    second = llm(trace, "claude-sonnet-4-5", "anthropic", SONNET_CALL)
    assert api.ingest([second, first]).status_code == 202  # ``first`` again: skipped
    assert stored_trace(db, trace) == (pytest.approx(GPT4O_USD + SONNET_USD), 1, 100, 3)


def _wait_for_llm_events(db: str, trace: str, count: int) -> list[tuple[Any, ...]]:
    deadline = time.monotonic() + 10
    while True:
        rows = stored_events(db, trace)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def _tokens(db: str, trace: str) -> tuple[Any, ...]:
    query = (
        "SELECT prompt_tokens, completion_tokens, cache_read_tokens, cache_creation_tokens"
        " FROM events WHERE trace_id = ? AND event_type = 'llm_response'"
    )
    return query_rows(db, query, trace)[0]


def test_proxied_calls_are_priced(server: RunningServer) -> None:
    """The real SDKs through the proxy to the simulator: the recorded calls carry their cost."""
    trace = new_trace()
    headers = {"X-Agent-Name": "cost-agent", "X-Trace-ID": trace}
    with openai.OpenAI(base_url=server.base_url + "/v1", api_key=server.api_key,
                       default_headers=headers, max_retries=0) as client:  # fmt: skip
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Where is my order?"}]
        )
    rows = _wait_for_llm_events(server.db_path, trace, 1)
    prompt, completion, read, _ = _tokens(server.db_path, trace)
    expected = ((prompt - (read or 0)) * 0.15 + (read or 0) * 0.075 + completion * 0.6) / M
    assert rows == [("gpt-4o-mini", pytest.approx(expected), VERSION, None)]
    assert expected > 0

    trace = new_trace()
    headers = {"X-Agent-Name": "cost-agent", "X-Trace-ID": trace}
    with anthropic.Anthropic(base_url=server.base_url, api_key=server.api_key,
                             default_headers=headers, max_retries=0) as claude:  # fmt: skip
        claude.messages.create(model="claude-haiku-4-5", max_tokens=100,
                               messages=[{"role": "user", "content": "Hello"}])  # fmt: skip
    rows = _wait_for_llm_events(server.db_path, trace, 1)
    prompt, completion, read, created = _tokens(server.db_path, trace)
    # Anthropic's input count excludes the cache: each part at its own price.
    expected = (prompt * 1 + (read or 0) * 0.1 + (created or 0) * 1.25 + completion * 5) / M
    assert rows == [("claude-haiku-4-5", pytest.approx(expected), VERSION, None)]
    assert stored_trace(server.db_path, trace)[:2] == (pytest.approx(expected), 0)


def _override(tmp_path: Path, body: str) -> str:
    header = ("provider,model,input,output,cached_input,cache_write_5m,cache_write_1h,reasoning,"
              "batch_input,batch_output,per,currency,effective,source")  # fmt: skip
    path = tmp_path / "my-prices.csv"
    path.write_text(header + "\n" + body + "\n", encoding="utf-8")
    return str(path)


def test_prices_file_overrides_and_adds(db_store: StoreUnderTest, tmp_path: Path) -> None:
    prices = _override(tmp_path, "\n".join([
        "openai,gpt-4o,3,12,1.5,,,,,,1000000,USD,2026-12-01,https://example.invalid/contract",
        "openai,ft:gpt-4o-mini:acme::x1,0.5,2,,,,,,,1000000,USD,2026-12-01,https://example.invalid",
    ]))  # fmt: skip
    settings = ServerSettings(port=0, db_path=db_store.new_db(tmp_path), prices_path=prices,
                              api_keys=("whyops_cost_key",))  # fmt: skip
    with start_in_thread(settings) as running:
        api = Api(running)
        trace = new_trace()
        tuned = llm(trace, "ft:gpt-4o-mini:acme::x1", "openai", {"promptTokens": 1000})
        batch = [llm(trace, "gpt-4o", "openai", GPT4O_CALL), tuned]
        assert api.ingest(batch).status_code == 202
        version = PriceTable.load(prices).version
        assert version != VERSION
        assert stored_events(running.db_path, trace) == [
            ("gpt-4o", pytest.approx((600 * 3 + 400 * 1.5 + 500 * 12) / M), version, 100),
            ("ft:gpt-4o-mini:acme::x1", pytest.approx(1000 * 0.5 / M), version, None),
        ]
        api.close()


def test_bad_prices_file_stops_the_start(tmp_path: Path) -> None:
    prices = _override(tmp_path, "openai,gpt-4o,three,12,,,,,,,1000000,USD,2026-12-01,https://x")
    settings = ServerSettings(port=0, db_path=str(tmp_path / "w.db"), prices_path=prices)
    with pytest.raises(ValueError, match=r"my-prices\.csv, line 2, column input"):
        start_in_thread(settings)
    command = [sys.executable, "-m", "whyops", "serve", "--port", "0", "--db",
               str(tmp_path / "w.db"), "--prices", prices]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith(f"whyops serve: {prices}, line 2, column input: expected a")


_FLOAT = st.floats(allow_nan=False, allow_infinity=False)
_COUNT = st.one_of(st.none(), st.integers(min_value=-5, max_value=2**41), st.booleans(), _FLOAT,
                   st.text(max_size=3))  # fmt: skip
_USAGE_KEYS = ("promptTokens", "inputTokens", "completionTokens", "outputTokens", "totalTokens",
               "cacheReadTokens", "cacheCreationTokens", "cacheWriteTokens",
               "cacheWrite5mTokens", "cacheWrite1hTokens", "reasoningTokens")  # fmt: skip
_MODELS = st.sampled_from([("gpt-4o", "openai"), ("claude-opus-4-1-20250805", "anthropic"),
                           ("o3-2025-04-16", "unknown"), ("nobody-knows", "openai"),
                           ("text-embedding-3-large", "openai")])  # fmt: skip


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(calls=st.lists(st.tuples(_MODELS, st.dictionaries(st.sampled_from(_USAGE_KEYS), _COUNT)),
                      min_size=1, max_size=6))  # fmt: skip
def test_fuzzed_usage_is_priced_or_left_unpriced(api: Api, calls: list[Any]) -> None:
    trace = new_trace()
    batch = [llm(trace, model, provider, usage) for (model, provider), usage in calls]
    answer = api.ingest(batch)
    if answer.status_code == 400:  # a count validation refuses: nothing stored
        assert stored_events(api.running.db_path, trace) == []
        return
    assert answer.status_code == 202, answer.text
    events = stored_events(api.running.db_path, trace)
    # The ingest reads the usage as the price table does: the same cost, or none for both.
    for ((model, provider), usage), (_, stored, _, _) in zip(calls, events, strict=True):
        expected = TABLE.cost(provider, model, usage)
        assert stored == (None if expected is None else pytest.approx(expected.usd, rel=1e-12))
    costs = [cost for _, cost, _, _ in events if cost is not None]
    assert all(math.isfinite(cost) and cost >= 0 for cost in costs)
    assert all((cost is None) == (version is None) for _, cost, version, _ in events)
    cost, unpriced, _, calls_stored = stored_trace(api.running.db_path, trace)
    assert calls_stored == len(batch)
    assert cost == (pytest.approx(sum(costs)) if costs else None)
    assert unpriced <= len(batch) - len(costs)
    for path in (f"/api/threads/{trace}", f"/api/traces/{trace}/spans", "/api/threads"):
        assert api.get(path).status_code == 200, path


ANTHROPIC_ANSWER = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Refunded."}], "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 7, "cache_creation_input_tokens": 100,
              "cache_read_input_tokens": 200,
              "cache_creation": {"ephemeral_5m_input_tokens": 60, "ephemeral_1h_input_tokens": 40}},
}  # fmt: skip


def test_sdk_recorded_calls_are_priced(fresh_server: RunningServer) -> None:
    """The real SDK: an LLM span returning an Anthropic ``Message``, exported over HTTP."""
    import whyops

    @whyops.span(kind="llm")
    def answer() -> Any:
        return anthropic.types.Message.model_validate(ANTHROPIC_ANSWER)

    @whyops.agent
    def refunds() -> Any:
        return answer()

    whyops.configure(api_key=fresh_server.api_key, base_url=fresh_server.base_url)
    try:
        refunds()
        report = whyops.flush(10)
        assert (report.dropped, report.pending) == (0, 0), report
    finally:
        whyops.shutdown()
    conn = read_only(fresh_server.db_path)
    try:
        (trace,) = conn.execute("SELECT trace_id FROM traces").fetchone()
    finally:
        conn.close()
    assert stored_events(fresh_server.db_path, trace) == [
        ("claude-sonnet-4-5-20250929", pytest.approx(SONNET_USD), VERSION, None)
    ]
    assert stored_trace(fresh_server.db_path, trace)[:2] == (pytest.approx(SONNET_USD), 0)


def test_otlp_ingested_calls_are_priced(api: Api) -> None:
    """A GenAI chat span posted to ``/v1/traces`` (OTLP/JSON): priced like any other call."""
    pytest.importorskip("opentelemetry.proto", reason="the otlp extra is not installed")
    from whyops.otlp.attributes import key_values
    from whyops.otlp.proto import request_json

    trace, span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    attributes = {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 14,
        "gen_ai.usage.cache_read.input_tokens": 40,
    }  # fmt: skip
    start = 1_764_000_000_000_000_000
    request = {"resourceSpans": [{
        "resource": {"attributes": key_values({"service.name": "svc"})},
        "scopeSpans": [{"scope": {"name": "tests"}, "spans": [{
            "traceId": trace, "spanId": span, "parentSpanId": "", "name": "chat gpt-4o-mini",
            "kind": 3, "startTimeUnixNano": start, "endTimeUnixNano": start + 50_000_000,
            "attributes": key_values(attributes), "events": [], "links": [],
            "status": {"code": 0, "message": ""}}]}]}]}  # fmt: skip
    answer = api.post("/v1/traces", content=request_json(request),
                      headers={"Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    # The GenAI conventions count cached tokens inside gen_ai.usage.input_tokens.
    expected = ((120 - 40) * 0.15 + 40 * 0.075 + 14 * 0.6) / M
    assert stored_events(api.running.db_path, trace) == [
        ("gpt-4o-mini", pytest.approx(expected), VERSION, None)
    ]
    assert stored_trace(api.running.db_path, trace)[:2] == (pytest.approx(expected), 0)
