"""whyops traces exported to a real Arize Phoenix and read back through Phoenix's REST API:
by `whyops serve --otlp-export` (everything stored, proxied model calls included) and by the
SDK's `otlp` exporter. Phoenix reads the GenAI conventions itself (its gen_ai → OpenInference
mapping), so each span's kind, model, token counts and tool name are checked as Phoenix
understood them, beside the gen_ai.* attributes whyops wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

import whyops
from tests.frameworks.support import TOOLS
from tests.otlp.otel_sdk_support import CALL_ID, emit_support_run, provider_to
from whyops._tracer import TRACER

from .phoenix_process import Phoenix, by_name

pytest.importorskip("whyops.otlp.outbound", reason="the otlp extra is not installed")


@pytest.fixture
def forwarding_server(phoenix: Phoenix, tmp_path: Path) -> Iterator[Any]:
    """`whyops serve --simulate --otlp-export {phoenix}/v1/traces` on a new SQLite file."""
    from whyops.server.run import start_in_thread
    from whyops.server.settings import ServerSettings

    settings = ServerSettings(
        host="127.0.0.1",
        port=0,
        db_path=str(tmp_path / "whyops.db"),
        simulate=True,
        otlp_export_url=f"{phoenix.base_url}/v1/traces",
    )
    running = start_in_thread(settings)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def whyops_to(forwarding_server: Any) -> Iterator[None]:
    """whyops spans go to the forwarding server over HTTP for one test."""
    from whyops.export.http import HttpExporter

    exporter = HttpExporter(
        analyse_url=forwarding_server.base_url + "/api", api_key=forwarding_server.api_key
    )
    with TRACER.use_exporter(exporter):
        yield


def proxied_support_run(server: Any) -> tuple[str, dict[str, Any]]:
    """An agent whose model call goes through the proxy (recorded by the server) and whose
    tool is a `@whyops.tool` (sent by the SDK); the trace id and the model's answer."""
    sdk = whyops.WhyOps(
        api_key=server.api_key,
        agent_name="order-support",
        agent_metadata={"systemPrompt": "You help customers with their orders.", "tools": []},
        proxy_base_url=server.base_url,
    )
    client = sdk.openai(openai.OpenAI(api_key=server.api_key))

    @whyops.tool("get_order")
    def get_order(order_id: str) -> dict[str, str]:
        return {"order_id": order_id, "status": "shipped"}

    @whyops.agent("order-support")
    def support(question: str) -> tuple[str, dict[str, Any]]:
        answer = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": question}], tools=TOOLS
        )
        [call] = answer.choices[0].message.tool_calls
        get_order(**json.loads(call.function.arguments))
        return whyops.current_trace_id() or "", answer.model_dump()

    trace_id, answer = support("Where is order 1234?")
    assert TRACER.flush(timeout=10).ok
    return trace_id, answer


def test_serve_forwards_a_stored_trace_to_phoenix(phoenix, forwarding_server, whyops_to):
    trace_id, answer = proxied_support_run(forwarding_server)
    spans = by_name(phoenix.spans(trace_id, expected=3))

    agent = spans["invoke_agent order-support"]
    assert agent["span_kind"] == "AGENT"
    assert agent["parent_id"] is None
    assert agent["attributes"]["gen_ai.agent.name"] == "order-support"

    [llm] = [span for span in spans.values() if span["span_kind"] == "LLM"]
    assert llm["parent_id"] == agent["context"]["span_id"]
    attributes = llm["attributes"]
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["llm.model_name"].startswith("gpt-4o-mini")
    usage = answer["usage"]
    assert attributes["gen_ai.usage.input_tokens"] == usage["prompt_tokens"] > 0
    assert attributes["gen_ai.usage.output_tokens"] == usage["completion_tokens"] > 0
    assert attributes["llm.token_count.prompt"] == usage["prompt_tokens"]
    assert attributes["llm.token_count.completion"] == usage["completion_tokens"]

    tool = spans["execute_tool get_order"]
    assert tool["span_kind"] == "TOOL"
    assert tool["parent_id"] == agent["context"]["span_id"]
    assert tool["attributes"]["gen_ai.tool.name"] == "get_order"
    assert tool["attributes"]["tool.name"] == "get_order"
    assert all(span["context"]["trace_id"] == trace_id for span in spans.values())


# A program traced by the whyops SDK alone, exporting with `exporter="otlp"` configured by the
# standard variables: an agent, a model call that returns an OpenAI chat completion (its usage
# and model read by the SDK) asking for a tool, and the tool.
SDK_PROGRAM = """
import whyops

@whyops.span(name="chat gpt-4o-mini", kind="llm")
def ask_model(question):
    call = {"id": "call_get_order_1", "type": "function",
            "function": {"name": "get_order", "arguments": '{"order_id": "1234"}'}}
    return {"object": "chat.completion", "id": "chatcmpl-1", "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "finish_reason": "tool_calls",
                         "message": {"role": "assistant", "content": None, "tool_calls": [call]}}],
            "usage": {"prompt_tokens": 31, "completion_tokens": 9, "total_tokens": 40}}

@whyops.tool("get_order")
def get_order(order_id):
    return {"order_id": order_id, "status": "shipped"}

@whyops.agent("order-support")
def support(question):
    ask_model(question)
    get_order("1234")
    return whyops.current_trace_id()

print(support("Where is order 1234?"))
report = whyops.flush(20)
print(report.delivered, report.dropped)
"""


def test_sdk_otlp_exporter_sends_a_trace_to_phoenix(phoenix):
    env = {
        **os.environ,
        "WHYOPS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": phoenix.base_url,
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_SERVICE_NAME": "order-service",
    }
    env.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
    done = subprocess.run(
        [sys.executable, "-c", SDK_PROGRAM], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    trace_id, delivery = done.stdout.splitlines()
    assert delivery == "3 0"  # delivered, dropped
    spans = phoenix.spans(trace_id, expected=3)
    kinds = {span["span_kind"]: span for span in spans}
    assert set(kinds) == {"AGENT", "LLM", "TOOL"}
    agent, llm, tool = kinds["AGENT"], kinds["LLM"], kinds["TOOL"]
    assert agent["parent_id"] is None
    assert agent["attributes"]["gen_ai.agent.name"] == "order-support"
    assert llm["parent_id"] == tool["parent_id"] == agent["context"]["span_id"]
    model = llm["attributes"]
    assert model["gen_ai.request.model"].startswith("gpt-4o-mini")
    assert model["llm.model_name"].startswith("gpt-4o-mini")
    assert (model["gen_ai.usage.input_tokens"], model["gen_ai.usage.output_tokens"]) == (31, 9)
    assert (model["llm.token_count.prompt"], model["llm.token_count.completion"]) == (31, 9)
    assert tool["attributes"]["gen_ai.tool.name"] == tool["attributes"]["tool.name"] == "get_order"
    assert "shipped" in json.dumps(tool["attributes"])


def test_spans_received_over_otlp_are_forwarded_too(phoenix, forwarding_server):
    """OpenTelemetry SDK → `whyops serve` (/v1/traces) → Phoenix: the same ids, kinds, models,
    token counts, tool and failure arrive at the far end."""
    provider = provider_to(forwarding_server.base_url, forwarding_server.api_key)
    ids = emit_support_run(provider.get_tracer("checkout"), conversation_id=uuid.uuid4().hex)
    provider.shutdown()
    spans = {span["context"]["span_id"]: span for span in phoenix.spans(ids.trace_id, 5)}
    assert set(spans) == {ids.agent, ids.ask, ids.tool, ids.answer, ids.lookup}
    kinds = {span_id: span["span_kind"] for span_id, span in spans.items()}
    assert kinds == {
        ids.agent: "AGENT",
        ids.ask: "LLM",
        ids.tool: "TOOL",
        ids.answer: "LLM",
        ids.lookup: "UNKNOWN",
    }
    for span_id, completion in ((ids.ask, 9), (ids.answer, 12)):
        attributes = spans[span_id]["attributes"]
        assert attributes["llm.model_name"].startswith("gpt-4o-mini")
        assert attributes["llm.token_count.prompt"] == 31
        assert attributes["llm.token_count.completion"] == completion
        assert spans[span_id]["parent_id"] == ids.agent
    assert spans[ids.tool]["attributes"]["tool.name"] == "get_order"
    assert spans[ids.tool]["attributes"]["gen_ai.tool.call.id"] == CALL_ID
    assert spans[ids.lookup]["parent_id"] == ids.tool
    assert spans[ids.lookup]["status_code"] == "ERROR"
