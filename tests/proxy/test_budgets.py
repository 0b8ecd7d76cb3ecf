"""Proxy budgets (``--budget``): past the spend of its period, a scope's calls are refused with
the provider's 429 shape, through the real OpenAI and Anthropic clients."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import anthropic
import httpx2
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whyops.server.proxy.budgets import Budget, parse_budgets, period_bounds, refusal_message
from whyops.server.run import RunningServer, start_in_thread
from whyops.server.settings import ServerSettings

KEY = "whyops_budget_main_key"
OTHER_KEY = "whyops_budget_other_key"
CHAT = [{"role": "user", "content": "Where is my order?"}]
BUDGETS = (
    "agent=capped:1tokens/day",
    "key=whyops_budget_o:1tokens/hour",
    "agent=ahead:1tokens/day",
    "agent=untotalled:1tokens/day",
)


@pytest.fixture(scope="module")
def capped(db_store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = ServerSettings(
        host="127.0.0.1",
        port=0,
        db_path=db_store.new_db(tmp_path_factory.mktemp("budgets")),
        api_keys=(KEY, OTHER_KEY),
        simulate=True,
        budgets=BUDGETS,
    )
    with start_in_thread(settings) as running:
        yield running


def openai_client(
    server: RunningServer, agent: str, key: str = KEY, sent: list[str] | None = None
) -> openai.OpenAI:
    """The real client, retries on; ``sent`` collects the path of every request it makes."""
    hooks = {"request": [lambda request: sent.append(request.url.path)]} if sent is not None else {}
    return openai.OpenAI(
        api_key=key,
        base_url=server.base_url + "/v1",
        default_headers={"X-Agent-Name": agent},
        max_retries=2,
        http_client=openai.DefaultHttpxClient(event_hooks=hooks),
    )


def spend_until_refused(call, attempts: int = 40):
    """Calls until one is refused (the spend shows once the first calls are recorded)."""
    for _ in range(attempts):
        try:
            call()
        except (openai.RateLimitError, anthropic.RateLimitError) as refused:
            return refused
        time.sleep(0.1)
    raise AssertionError("no call was refused")


def test_an_agent_past_its_token_budget_gets_openais_429_and_no_retries(capped) -> None:
    sent: list[str] = []
    client = openai_client(capped, "capped", sent=sent)
    call = lambda: client.chat.completions.create(model="gpt-4o-mini", messages=CHAT)  # noqa: E731
    refused = spend_until_refused(call)
    assert refused.status_code == 429
    assert refused.body["code"] == "budget_exceeded"  # type: ignore[index]
    assert "budget exceeded for agent 'capped': 1 tokens per day" in refused.message
    assert refused.response.headers["x-should-retry"] == "false"
    retry_after = int(refused.response.headers["retry-after"])
    _, end = period_bounds("day", time.time())
    assert 0 < retry_after <= end - time.time() + 1
    # x-should-retry: false: one request per refused call, the client's two retries unused
    sent.clear()
    with pytest.raises(openai.RateLimitError):
        call()
    assert sent == ["/v1/chat/completions"]
    # another agent of the same key is not limited
    answer = openai_client(capped, "uncapped").chat.completions.create(
        model="gpt-4o-mini", messages=CHAT
    )
    assert answer.choices[0].message.content


def test_a_key_past_its_budget_gets_anthropics_429(capped) -> None:
    client = anthropic.Anthropic(
        api_key=OTHER_KEY,
        base_url=capped.base_url,
        default_headers={"X-Agent-Name": "anyone"},
        max_retries=2,
    )
    call = lambda: client.messages.create(  # noqa: E731
        model="claude-sonnet-4-5", max_tokens=64, messages=CHAT
    )
    refused = spend_until_refused(call)
    assert refused.status_code == 429
    assert refused.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert "budget exceeded for key 'whyops_budget_o': 1 tokens per hour" in refused.message
    # the main key's calls (a different prefix) go through
    main = anthropic.Anthropic(api_key=KEY, base_url=capped.base_url, max_retries=0)
    answer = main.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=CHAT)
    assert answer.content


def record_call(server: RunningServer, agent: str, trace: str, at: float, usage: dict) -> None:
    """An LLM call recorded through the ingest route (as an SDK would), once stored."""
    metadata = {"model": "gpt-4o-mini", "provider": "openai", "usage": usage}
    stamp = datetime.fromtimestamp(at, timezone.utc).isoformat()
    call = {"eventType": "llm_response", "traceId": trace, "agentName": agent,
            "timestamp": stamp, "metadata": metadata}  # fmt: skip
    with httpx2.Client(base_url=server.base_url, headers={"X-API-Key": KEY}) as http:
        assert http.post("/api/events/ingest", json=call).status_code in (200, 202)
        for _ in range(100):  # stored once the trace reads back
            if http.get(f"/api/threads/{trace}").status_code == 200:
                return
            time.sleep(0.05)
    raise AssertionError(f"{trace} was not stored")


def test_calls_stamped_after_the_period_do_not_count_in_it(capped) -> None:
    # A client whose clock runs a day ahead records a call "tomorrow": today's budget is whole.
    _, end = period_bounds("day", time.time())
    usage = {"promptTokens": 1000, "completionTokens": 10, "totalTokens": 1010}
    record_call(capped, "ahead", "budget-ahead", end + 3600, usage)
    answer = openai_client(capped, "ahead").chat.completions.create(
        model="gpt-4o-mini", messages=CHAT
    )
    assert answer.choices[0].message.content


def test_a_call_without_a_total_counts_its_prompt_and_completion(capped) -> None:
    usage = {"promptTokens": 1000, "completionTokens": 10}  # no totalTokens
    record_call(capped, "untotalled", "budget-untotalled", time.time(), usage)
    client = openai_client(capped, "untotalled")
    with pytest.raises(openai.RateLimitError, match="1010 tokens used this day"):
        client.chat.completions.create(model="gpt-4o-mini", messages=CHAT)


def test_a_usd_budget_counts_the_cost_written_at_ingest(db_store, tmp_path: Path) -> None:
    settings = ServerSettings(
        host="127.0.0.1",
        port=0,
        db_path=db_store.new_db(tmp_path),
        api_keys=(KEY,),
        simulate=True,
        budgets=("agent=spender:0.000001USD/month",),
    )
    with start_in_thread(settings) as server:
        client = openai_client(server, "spender")
        refused = spend_until_refused(
            lambda: client.chat.completions.create(model="gpt-4o", messages=CHAT)
        )
        assert "0.000001 USD per month" in refused.message
        assert " USD used this month" in refused.message


@pytest.mark.parametrize(
    ("spec", "part"),
    [
        ("agent=a:10EUR/day", "unit must be USD or tokens"),
        ("agent=a:10USD/week", "period must be one of hour, day, month"),
        ("team=a:10USD/day", "scope must be one of agent, key"),
        ("agent=a:USD/day", "expected SCOPE=NAME:AMOUNT UNIT/PERIOD"),
        ("agent=:1USD/day", "expected SCOPE=NAME:AMOUNT UNIT/PERIOD"),
    ],
)
def test_a_bad_budget_stops_the_server_naming_it(spec: str, part: str, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "whyops", "serve", "--port", "0", "--budget", spec]
    command += ["--db", str(tmp_path / "w.db"), "--api-key", KEY]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"--budget {spec!r}" in result.stderr and part in result.stderr, result.stderr


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=60))
def test_any_budget_text_parses_or_says_what_is_wrong(text: str) -> None:
    try:
        (budget,) = parse_budgets([text])
    except ValueError as exc:
        assert str(exc).startswith("--budget ")
        return
    assert budget == Budget.parse(budget.describe_spec())


@pytest.mark.parametrize(
    ("period", "moment", "start", "end"),
    [
        ("hour", "2026-12-31T23:59:59", "2026-12-31T23:00:00", "2027-01-01T00:00:00"),
        ("day", "2026-12-31T23:59:59", "2026-12-31T00:00:00", "2027-01-01T00:00:00"),
        ("month", "2026-12-31T23:59:59", "2026-12-01T00:00:00", "2027-01-01T00:00:00"),
        ("month", "2028-02-15T12:00:00", "2028-02-01T00:00:00", "2028-03-01T00:00:00"),
    ],
)
def test_periods_are_utc_calendar_periods(period: str, moment: str, start: str, end: str) -> None:
    def at(text: str) -> float:
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()

    assert period_bounds(period, at(moment)) == (at(start), at(end))


def test_the_refusal_says_what_was_spent_and_when_it_resets() -> None:
    budget = Budget.parse("agent=support:10USD/day")
    moment = datetime(2026, 12, 6, 22, 0, tzinfo=timezone.utc).timestamp()
    message, retry_after = refusal_message(budget, 10.25, moment)
    assert retry_after == 2 * 3600
    assert message == (
        "whyops proxy: budget exceeded for agent 'support': 10 USD per day; 10.2500 USD used"
        " this day. New calls are refused until 2026-12-07T00:00:00Z."
    )
