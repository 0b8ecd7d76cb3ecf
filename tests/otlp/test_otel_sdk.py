"""The real OpenTelemetry SDK and its OTLP/HTTP exporter pointed at a real `whyops serve`:
configured in code and by the standard OTEL_EXPORTER_OTLP_* variables, gzip on, protobuf
and JSON bodies; the run reads back the same through the read API and `whyops show`.

The installed protobuf exporter has no JSON mode; the JSON test here encodes the SDK's own
spans with the SDK's own encoder and protobuf's JSON mapping, ids as hex as OTLP/JSON says.
The OTLP/JSON exporter itself (opentelemetry-exporter-otlp-json-http) is driven in the
frameworks venv: tests/frameworks/test_otel_sdk_json.py.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import uuid
from typing import Any

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.otlp.otel_sdk_support import (
    check_support_run,
    emit_support_run,
    fetch_spans,
    provider_for,
    recording,
)
from whyops.cli import main

pytest.importorskip("opentelemetry.sdk.trace", reason="the dev extra is not installed")
otlp_http = pytest.importorskip(
    "opentelemetry.exporter.otlp.proto.http.trace_exporter", reason="the dev extra is not installed"
)
requests = pytest.importorskip("requests")

ANSI = re.compile(r"\x1b\[[0-9;]*m")


class WatchedSession(requests.Session):
    """A requests session keeping the headers of what the exporter sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, str]] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        response = super().request(method, url, *args, **kwargs)
        self.sent.append({k.lower(): v for k, v in response.request.headers.items()})
        return response


def run_through(exporter: Any) -> Any:
    """Emit the support run through a batching provider into `exporter`; its ids."""
    provider = provider_for(exporter)
    ids = emit_support_run(provider.get_tracer("checkout"), conversation_id=uuid.uuid4().hex)
    assert provider.force_flush(10_000)
    provider.shutdown()
    return ids


def succeeded(recorder: Any) -> bool:
    from opentelemetry.sdk.trace.export import SpanExportResult

    return bool(recorder.results) and all(r is SpanExportResult.SUCCESS for r in recorder.results)


def test_protobuf_gzip_with_a_bearer_key(server):
    session = WatchedSession()
    exporter = otlp_http.OTLPSpanExporter(
        endpoint=f"{server.base_url}/v1/traces",
        headers={"Authorization": f"Bearer {server.api_key}"},
        compression=otlp_http.Compression.Gzip,
        session=session,
    )
    recorder = recording(exporter)
    ids = run_through(recorder)
    assert succeeded(recorder), recorder.results
    assert session.sent, "the exporter sent nothing"
    for headers in session.sent:
        assert headers["content-encoding"] == "gzip"
        assert headers["content-type"] == "application/x-protobuf"
    check_support_run(fetch_spans(server.base_url, server.api_key, ids.trace_id, 5), ids)
    # gen_ai.conversation.id is the thread
    assert {e["threadId"] for e in stored_events(server, ids.trace_id)} == {ids.conversation_id}


@pytest.mark.parametrize(
    ("variable", "header"),
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "authorization=Bearer%20{key}"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "x-api-key={key}"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "Authorization=Bearer {key}"),
    ],
)
def test_configured_by_the_standard_variables(server, monkeypatch, variable, header):
    """The base endpoint gets /v1/traces appended; the traces endpoint is used as is (here the
    /api/otlp/ alias); headers in the variable's `k=v` form, URL-encoded or not."""
    endpoint = server.base_url
    if variable.endswith("TRACES_ENDPOINT"):
        endpoint += "/api/otlp/v1/traces"
    monkeypatch.setenv(variable, endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", header.format(key=server.api_key))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    session = WatchedSession()
    recorder = recording(otlp_http.OTLPSpanExporter(session=session))
    ids = run_through(recorder)
    assert succeeded(recorder), recorder.results
    assert {h["content-encoding"] for h in session.sent} == {"gzip"}
    check_support_run(fetch_spans(server.base_url, server.api_key, ids.trace_id, 5), ids)


def test_a_wrong_key_fails_the_export_and_stores_nothing(server):
    from opentelemetry.sdk.trace.export import SpanExportResult

    exporter = otlp_http.OTLPSpanExporter(
        endpoint=f"{server.base_url}/v1/traces", headers={"Authorization": "Bearer nope"}
    )
    recorder = recording(exporter)
    ids = run_through(recorder)
    assert recorder.results and set(recorder.results) == {SpanExportResult.FAILURE}
    answer = httpx2.get(
        f"{server.base_url}/api/traces/{ids.trace_id}/spans",
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    assert answer.status_code == 404


def captured_spans() -> tuple[Any, list[Any]]:
    """The support run's finished SDK spans (ReadableSpan), kept in memory."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    ids = run_through(memory)
    return ids, list(memory.get_finished_spans())


def otlp_json(spans: list[Any]) -> bytes:
    """The SDK's ExportTraceServiceRequest for `spans` in the OTLP/JSON encoding: protobuf's
    JSON mapping, with trace and span ids as hex instead of base64 (OTLP/JSON's one rule of
    its own), 64-bit integers left as strings as the mapping writes them."""
    from google.protobuf import json_format
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    request = json_format.MessageToDict(encode_spans(spans))
    for resource_spans in request["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(request).encode()


def test_json_bodies_gzipped(server):
    ids, spans = captured_spans()
    body = otlp_json(spans)
    assert f'"traceId": "{ids.trace_id}"' in body.decode()
    answer = httpx2.post(
        f"{server.base_url}/v1/traces",
        content=gzip.compress(body),
        headers={
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "X-API-Key": server.api_key,
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert "rejectedSpans" not in answer.text
    check_support_run(fetch_spans(server.base_url, server.api_key, ids.trace_id, 5), ids)


def stored_events(server: Any, trace_id: str) -> list[dict[str, Any]]:
    answer = httpx2.get(
        f"{server.base_url}/api/events",
        params={"traceId": trace_id, "limit": 200},
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    answer.raise_for_status()
    return list(answer.json()["events"])


def test_the_same_batch_exported_twice_is_stored_once(server):
    """What an exporter re-sends after a lost answer stores nothing twice."""
    from opentelemetry.sdk.trace.export import SpanExportResult

    ids, spans = captured_spans()
    exporter = otlp_http.OTLPSpanExporter(
        endpoint=f"{server.base_url}/v1/traces",
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    first = fetch_spans(server.base_url, server.api_key, ids.trace_id, 5)
    stored = stored_events(server, ids.trace_id)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    assert stored_events(server, ids.trace_id) == stored
    assert fetch_spans(server.base_url, server.api_key, ids.trace_id, 5) == first
    exporter.shutdown()


def test_whyops_show_prints_the_run(server, capsys):
    recorder = recording(
        otlp_http.OTLPSpanExporter(
            endpoint=f"{server.base_url}/v1/traces",
            headers={"Authorization": f"Bearer {server.api_key}"},
        )
    )
    ids = run_through(recorder)
    fetch_spans(server.base_url, server.api_key, ids.trace_id, 5)
    argv = ["show", ids.trace_id, "--base-url", server.base_url, "--api-key", server.api_key]
    code = main([*argv, "--width", "100"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert not ANSI.search(out)
    # Hand-checked: two calls of 31 prompt tokens (8 from the cache) and 9 + 12 completion.
    for text in ("order-support", "get_order", "SELECT orders", "chat gpt-4o-mini", "40 tok"):
        assert text in out, (text, out)
    assert "62 in / 21 out tokens" in out and "cache 16 read" in out, out
    assert out.index("get_order") < out.index("SELECT orders")


# Values a producer may put in any GenAI attribute: every type an OpenTelemetry attribute can
# hold, including the wrong one for the name (a string of tokens, a list for a model name…).
ATTRIBUTE_VALUES = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.lists(st.text(max_size=10), max_size=4),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=4),
)
GENAI_NAMES = st.sampled_from(
    [
        "gen_ai.operation.name",
        "gen_ai.request.model",
        "gen_ai.provider.name",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.tool.name",
        "gen_ai.tool.call.arguments",
        "gen_ai.agent.name",
        "gen_ai.conversation.id",
        "openinference.span.kind",
        "llm.token_count.prompt",
        "input.value",
    ]
)
READ_ROUTES = (
    "/api/threads/{trace}",
    "/api/threads/{trace}/graph",
    "/api/events?traceId={trace}&include=content,metadata",
    "/api/threads?limit=5",
)
OPERATIONS = st.sampled_from(["chat", "execute_tool", "invoke_agent", "embeddings", "other"])


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    operation=OPERATIONS,
    attributes=st.dictionaries(GENAI_NAMES, ATTRIBUTE_VALUES, max_size=8),
    name=st.text(max_size=30),
)
def test_any_attribute_values_from_the_sdk_are_stored_and_readable(
    server, operation, attributes, name
):
    """Whatever typed values a real producer puts in the GenAI attributes, the export succeeds
    and the trace reads back: never a 500, never a lost span."""
    from opentelemetry.sdk.trace.export import SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = provider_for(memory)
    with provider.get_tracer("fuzz").start_as_current_span(name) as span:
        span.set_attribute("gen_ai.operation.name", operation)
        span.set_attributes(attributes)
    provider.shutdown()
    trace_id = format(span.get_span_context().trace_id, "032x")
    exporter = otlp_http.OTLPSpanExporter(
        endpoint=f"{server.base_url}/v1/traces",
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    assert exporter.export(memory.get_finished_spans()) is SpanExportResult.SUCCESS
    exporter.shutdown()
    trace = fetch_spans(server.base_url, server.api_key, trace_id, 1)
    assert [s["id"] for s in trace["spans"]] == [format(span.get_span_context().span_id, "016x")]
    assert main(["show", trace_id, "--base-url", server.base_url, "--api-key", server.api_key]) == 0
    for route in READ_ROUTES:
        answer = httpx2.get(
            server.base_url + route.format(trace=trace_id),
            headers={"Authorization": f"Bearer {server.api_key}"},
        )
        assert answer.status_code == 200, (route, answer.status_code, answer.text[:300])
