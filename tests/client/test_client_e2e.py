"""End to end against a real `whyops serve` (simulator upstream, SQLite): the WhyOps docs'
examples, and one tree from manual events, decorated spans and proxied calls."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import openai
import pytest
from client_helpers import METADATA

import whyops
from whyops._tracer import TRACER
from whyops.client import WhyOps
from whyops.export.http import HttpExporter
from whyops.export.memory import InMemoryExporter

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "whyops_docs"


def thread_events(server, trace_id):
    answer = httpx2.get(
        f"{server.base_url}/api/threads/{trace_id}",
        params={"eventInclude": "content,metadata"},
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    assert answer.status_code == 200, answer.text
    return sorted(answer.json()["events"], key=lambda e: e["stepId"])


def types(events):
    return [e["eventType"] for e in events]


def run_example(server, name):
    env = {
        **os.environ,
        "WHYOPS_BASE_URL": server.base_url,
        "WHYOPS_API_KEY": server.api_key,
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    for var in ("WHYOPS_PROXY_URL", "WHYOPS_ANALYSE_URL", "WHYOPS_EXPORTER", "WHYOPS_DISABLED"):
        env.pop(var, None)
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    return done.stdout, [
        line[7:] for line in done.stdout.splitlines() if line.startswith("trace: ")
    ]


def check_issue_snippet(server, stdout, traces):
    (events,) = [thread_events(server, t) for t in traces]
    assert types(events) == [
        "user_message",
        "llm_response",
        "tool_call_request",
        "tool_call_response",
    ]
    assert {e["agentName"] for e in events} == {"customer-support-agent"}
    request, response = events[2:]
    assert request["spanId"] == response["spanId"]
    assert response["content"]["toolResults"] == {"status": "shipped"}
    assert response["metadata"]["latencyMs"] == 42


def check_quickstart(server, stdout, traces):
    first, second = (thread_events(server, t) for t in traces)
    assert sorted(types(first)) == ["llm_response", "user_message", "user_message"]
    assert sorted(types(second)) == [
        "llm_response",
        "tool_call_request",
        "tool_call_response",
        "user_message",
    ]


def check_proxy_helpers(server, stdout, traces):
    for events in (thread_events(server, t) for t in traces):
        assert types(events) == ["user_message", "llm_response"] * 2
        assert {e["metadata"]["provider"] for e in events if e["eventType"] == "llm_response"} == {
            "openai",
            "anthropic",
        }


def check_runtime_events(server, stdout, traces):
    sync, asynchronous = (thread_events(server, t) for t in traces)
    assert types(sync) == [
        "user_message",
        "tool_call_request",
        "tool_call_response",
        "llm_response",
    ]
    assert {e["externalUserId"] for e in sync} == {"customer-42"}
    assert sync[3]["metadata"]["usage"]["totalTokens"] == 132
    assert "llm_thinking" in types(asynchronous)


def check_hybrid_tracing(server, stdout, traces):
    pinned, ambient = (thread_events(server, t) for t in traces)
    assert types(pinned) == [
        "user_message",
        "llm_response",
        "tool_call_request",
        "tool_call_response",
    ]
    assert types(ambient) == [
        "user_message",
        "llm_response",
        "tool_call_request",
        "tool_call_response",
        "tool_result",
    ]
    decorated = ambient[2]
    assert decorated.get("spanName") == "lookup" and decorated.get("spanKind") == "tool"
    assert {e["agentName"] for e in ambient if e.get("spanName") != "lookup"} == {
        "customer-support-agent"
    }


def check_self_hosted(server, stdout, traces):
    assert "agent " in stdout and "version " in stdout
    (events,) = [thread_events(server, t) for t in traces]
    assert types(events) == ["user_message", "llm_response"]


def check_prompt_caching(server, stdout, traces):
    (events,) = [thread_events(server, t) for t in traces]
    usage = events[1]["metadata"]["usage"]
    assert usage == {
        "promptTokens": 1200,
        "completionTokens": 240,
        "cacheReadTokens": 8200,
        "cacheCreationTokens": 300,
        "totalTokens": 9940,
    }


def check_event_ids(server, stdout, traces):
    (events,) = [thread_events(server, t) for t in traces]
    assert types(events) == [
        "user_message",
        "tool_call_request",
        "tool_call_response",
    ]  # retry stored once
    assert [e["stepId"] for e in events] == [1, 2, 3]
    assert events[1]["spanId"] == events[2]["spanId"] == f"{traces[0]}-tool-1"


CHECKS = {
    "issue_snippet": check_issue_snippet,
    "quickstart": check_quickstart,
    "proxy_helpers": check_proxy_helpers,
    "runtime_events": check_runtime_events,
    "hybrid_tracing": check_hybrid_tracing,
    "self_hosted": check_self_hosted,
    "prompt_caching": check_prompt_caching,
    "event_ids": check_event_ids,
}


def test_every_example_is_checked():
    """Each script in examples/whyops_docs has its check here."""
    scripts = {p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_")}
    assert scripts == set(CHECKS)


def test_docs_examples_run_against_our_server(server):
    """The WhyOps docs' examples run unchanged and store what they should."""
    with ThreadPoolExecutor(4) as pool:
        runs = dict(zip(CHECKS, pool.map(lambda name: run_example(server, name), CHECKS)))
    for name, (stdout, traces) in runs.items():
        assert traces, name
        CHECKS[name](server, stdout, traces)


@pytest.fixture
def server_exporter(server):
    """The tracer exports to the server for one test, then goes back to what it was."""
    exporter = HttpExporter(server.base_url + "/api", server.api_key)
    with TRACER.use_exporter(exporter):
        yield exporter


def test_one_tree_from_spans_manual_events_and_proxied_calls(server, server_exporter):
    """Manual events and proxied calls inside a span hang under it."""
    sdk = WhyOps(server.api_key, "tree-agent", METADATA, proxy_base_url=server.base_url)
    client = sdk.openai(openai.OpenAI(api_key="unused", max_retries=0))
    with whyops.trace_context(
        trace_id="tree-trace-1", external_user_id="u-1", agent_name="tree-agent"
    ):
        with whyops.span("turn") as span:
            sdk.trace().user_message_sync([{"role": "user", "content": "Where is order 7?"}])
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )
    assert sdk.flush(timeout=10).pending == 0
    events = thread_events(server, "tree-trace-1")
    by_type = {}
    for event in events:
        by_type.setdefault(event["eventType"], []).append(event)
    manual = [
        e
        for e in by_type["user_message"]
        if e.get("spanId") != by_type["llm_response"][0]["spanId"]
    ]
    proxied = by_type["llm_response"][0]
    assert manual[0]["parentSpanId"] == span.span_id
    assert proxied["parentSpanId"] == span.span_id
    assert {e["externalUserId"] for e in [*manual, proxied]} == {"u-1"}
    span_events = [e for e in events if e.get("spanId") == span.span_id]
    assert span_events and {e["agentName"] for e in events} == {"tree-agent"}


def test_client_configures_an_unconfigured_tracer(server):
    """A client made before any configure() makes decorators report under its agent."""
    with TRACER.use_exporter(InMemoryExporter()):
        TRACER.set_exporter(None)
        assert not TRACER.configured
        sdk = WhyOps(server.api_key, "decorated-agent", METADATA, proxy_base_url=server.base_url)
        assert TRACER.configured
        assert TRACER.config.analyse_url == server.base_url + "/api"

        @whyops.tool
        def lookup(order_id: str) -> str:
            return "shipped"

        with whyops.trace_context(trace_id="decorated-trace-1"):
            lookup("7")
        assert sdk.flush(timeout=10).pending == 0
    events = thread_events(server, "decorated-trace-1")
    assert types(events) == ["tool_call_request", "tool_call_response"]
    assert {e["agentName"] for e in events} == {"decorated-agent"}


def test_bare_trace_context_spans_use_the_client_agent(server, server_exporter):
    """Decorated spans in a trace_context without agent_name report under the client's agent."""
    sdk = WhyOps(server.api_key, "bare-agent", METADATA, proxy_base_url=server.base_url)
    with whyops.trace_context(trace_id="bare-trace-1"), whyops.span("turn"):
        sdk.trace().error_sync("x")
    assert sdk.flush(timeout=10).pending == 0
    assert {e["agentName"] for e in thread_events(server, "bare-trace-1")} == {"bare-agent"}
