"""The SDK and the proxy record the same usage, tool calls and thinking for the same answers.

One fake provider on 127.0.0.1 returns recorded answers (whole, or as the provider streams
them). The SDK path: the real openai/anthropic client calls it directly inside an LLM span,
whose events come from the real encoder into the in-memory exporter. The proxy path: the
same client calls a real ``whyops serve`` proxy in front of the same fake provider, and the
events are read back through the read API.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from provider_answers import ANTHROPIC_ANSWER, CHAT_ANSWER, EXPECTED, RESPONSES_ANSWER, FakeProvider

import whyops

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")

PROXY_KEY = "whyops_drift_test_key_0001"


class Proxy:
    """A real ``whyops serve`` whose proxy talks to the fake provider."""

    def __init__(self, provider_url: str, db_path: str) -> None:
        from whyops.server.run import start_in_thread
        from whyops.server.settings import ServerSettings

        settings = ServerSettings(
            host="127.0.0.1",
            port=0,
            db_path=db_path,
            api_keys=(PROXY_KEY,),
            openai_base_url=provider_url + "/v1",
            openai_api_key="sk-upstream-openai",
            anthropic_base_url=provider_url,
            anthropic_api_key="sk-ant-upstream",
        )
        self.running = start_in_thread(settings)
        self.url: str = self.running.base_url

    def recorded(self, trace_id: str) -> list[dict[str, Any]]:
        """The trace's events, once its ``llm_response`` has landed."""
        deadline = time.monotonic() + 10
        while True:
            answer = httpx2.get(
                self.url + "/api/events",
                params={"traceId": trace_id, "include": "content,metadata", "limit": 50},
                headers={"Authorization": f"Bearer {PROXY_KEY}"},
            )
            answer.raise_for_status()
            events = answer.json()["events"]
            if any(e["eventType"] == "llm_response" for e in events) or time.monotonic() > deadline:
                events.sort(key=lambda e: (e["stepId"] or 0, e["timestamp"]))
                return list(events)
            time.sleep(0.02)


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    try:
        yield fake
    finally:
        for client in _CLIENTS.values():
            client.close()
        _CLIENTS.clear()
        fake.close()


@pytest.fixture(scope="module")
def proxy(provider: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    server = Proxy(provider.url, str(tmp_path_factory.mktemp("drift") / "whyops.db"))
    try:
        yield server
    finally:
        server.running.stop()


# -- the calls, as an application makes them ----------------------------------------------


_CLIENTS: dict[tuple[str, str], Any] = {}  # one client per server and SDK, closed at the end


def _openai(base_url: str) -> Any:
    key = ("openai", base_url)
    if key not in _CLIENTS:
        _CLIENTS[key] = openai.OpenAI(base_url=base_url + "/v1", api_key=PROXY_KEY, max_retries=0)
    return _CLIENTS[key]


def _anthropic(base_url: str) -> Any:
    key = ("anthropic", base_url)
    if key not in _CLIENTS:
        _CLIENTS[key] = anthropic.Anthropic(base_url=base_url, api_key=PROXY_KEY, max_retries=0)
    return _CLIENTS[key]


ASK = [{"role": "user", "content": "refund order 42"}]


def call_chat(base_url: str, headers: dict[str, str], stream: bool) -> Any:
    chat = _openai(base_url).chat.completions
    if not stream:
        return chat.create(model="gpt-drift", messages=ASK, extra_headers=headers)
    with chat.stream(model="gpt-drift", messages=ASK, extra_headers=headers) as events:
        return events.get_final_completion()


def call_responses(base_url: str, headers: dict[str, str], stream: bool) -> Any:
    responses = _openai(base_url).responses
    if not stream:
        return responses.create(model="o-drift", input="refund order 42", extra_headers=headers)
    with responses.stream(
        model="o-drift", input="refund order 42", extra_headers=headers
    ) as events:
        return events.get_final_response()


def call_anthropic(base_url: str, headers: dict[str, str], stream: bool) -> Any:
    messages = _anthropic(base_url).messages
    asked = {"model": "claude-drift", "max_tokens": 100, "messages": ASK, "extra_headers": headers}
    if not stream:
        return messages.create(**asked)
    with messages.stream(**asked) as events:
        return events.get_final_message()


CASES: dict[str, tuple[dict[str, Any], Callable[[str, dict[str, str], bool], Any]]] = {
    "chat": (CHAT_ANSWER, call_chat),
    "responses": (RESPONSES_ANSWER, call_responses),
    "anthropic": (ANTHROPIC_ANSWER, call_anthropic),
}


def recorded_parts(events: list[dict[str, Any]]) -> dict[str, Any]:
    """What a model call recorded: its ``llm_response`` content, usage and thinking."""
    (response,) = [e for e in events if e["eventType"] == "llm_response"]
    return {
        "response": response["content"],
        "usage": response["metadata"].get("usage"),
        "thinking": [e["content"] for e in events if e["eventType"] == "llm_thinking"],
    }


def through_the_sdk(memory: Any, provider: FakeProvider, case: str, stream: bool) -> dict[str, Any]:
    memory.clear()
    call = CASES[case][1]
    whyops.span(kind="llm")(call)(provider.url, {}, stream)
    return recorded_parts(memory.events())


def through_the_proxy(proxy: Proxy, case: str, stream: bool) -> dict[str, Any]:
    trace_id = "drift-" + uuid.uuid4().hex
    CASES[case][1](proxy.url, {"X-Trace-ID": trace_id, "X-Agent-Name": "drift"}, stream)
    return recorded_parts(proxy.recorded(trace_id))


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_sdk_and_proxy_record_the_same_answer(
    memory: Any, provider: FakeProvider, proxy: Proxy, case: str, stream: bool
) -> None:
    provider.answer = CASES[case][0]
    by_sdk = through_the_sdk(memory, provider, case, stream)
    by_proxy = through_the_proxy(proxy, case, stream)
    assert by_proxy == EXPECTED[case]
    assert by_sdk == by_proxy


# -- any usage: the same wire usage either way --------------------------------------------

COUNT = st.integers(min_value=0, max_value=10**7)


def _some(**fields: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts with a random subset of ``fields``."""
    return st.fixed_dictionaries({}, optional=fields)


# OpenAI usage with any subset of its counters; Anthropic always sends input and output.
USAGES = {
    "chat": _some(
        prompt_tokens=COUNT,
        completion_tokens=COUNT,
        total_tokens=COUNT,
        prompt_tokens_details=_some(cached_tokens=COUNT, cache_write_tokens=COUNT),
        completion_tokens_details=_some(reasoning_tokens=COUNT),
    ),
    "responses": _some(
        input_tokens=COUNT,
        output_tokens=COUNT,
        total_tokens=COUNT,
        input_tokens_details=_some(cached_tokens=COUNT),
        output_tokens_details=_some(reasoning_tokens=COUNT),
    ),
    "anthropic": st.fixed_dictionaries(
        {"input_tokens": COUNT, "output_tokens": COUNT},
        optional={
            "cache_read_input_tokens": COUNT,
            "cache_creation_input_tokens": COUNT,
            "cache_creation": _some(
                ephemeral_5m_input_tokens=COUNT, ephemeral_1h_input_tokens=COUNT
            ),
        },
    ),
}
CASE_AND_USAGE = st.sampled_from(sorted(USAGES)).flatmap(
    lambda case: st.tuples(st.just(case), USAGES[case])
)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case_and_usage=CASE_AND_USAGE, stream=st.booleans())
def test_any_usage_gives_the_same_wire_usage_through_sdk_and_proxy(
    memory: Any,
    provider: FakeProvider,
    proxy: Proxy,
    case_and_usage: tuple[str, dict[str, Any]],
    stream: bool,
) -> None:
    case, usage = case_and_usage
    provider.answer = {**CASES[case][0], "usage": usage}
    by_sdk = through_the_sdk(memory, provider, case, stream)
    by_proxy = through_the_proxy(proxy, case, stream)
    assert by_sdk["usage"] == by_proxy["usage"]
    prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
    if prompt is not None:
        assert by_sdk["usage"]["promptTokens"] == prompt
