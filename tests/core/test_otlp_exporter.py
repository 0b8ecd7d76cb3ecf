"""The otlp exporter against real receivers on 127.0.0.1: what arrives, retries, rejections,
compression, the OpenTelemetry variables, a dead endpoint, forks, and what it imports."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from core_helpers import FIRST_SEND_SCRIPT, Sink, run_python
from hypothesis import given, settings
from hypothesis import strategies as st
from otlp_receiver import OtlpReceiver, attributes_of

import whyops
from whyops._config import OtlpOptions, load_config, load_otlp_options
from whyops._tracer import TRACER
from whyops.export.otlp import OtlpExporter, classify_otlp_response
from whyops.otlp import proto
from whyops.wire.records import EventRecord


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    running = OtlpReceiver()
    try:
        yield running
    finally:
        running.close()


def _exporter(url: str, **options: Any) -> OtlpExporter:
    retries = options.pop("max_retries", 5)
    cap = options.pop("backoff_cap", 0.05)
    return OtlpExporter(
        OtlpOptions(endpoint=url, **options),
        backoff_base=0.01,
        backoff_cap=cap,
        max_retries=retries,
    )


def _configure(url: str, **options: Any) -> OtlpExporter:
    settings = {
        k: options.pop(k) for k in list(options) if k.startswith("max_") and k != "max_retries"
    }
    exporter = _exporter(url, **options)
    whyops.configure(exporter=exporter, flush_interval=0.05, **settings)
    return exporter


def _tools(n: int) -> None:
    @whyops.tool
    def work(i: int) -> int:
        return i

    for i in range(n):
        work(i)


@whyops.tool
def lookup(order: str) -> dict[str, str]:
    return {"order": order, "status": "shipped"}


@whyops.agent("support")
def answer(question: str) -> str:
    with whyops.span("plan"):
        pass
    return lookup("A1")["status"]


def _agent_run() -> str:
    with whyops.trace_context(thread_id="conv-9", external_user_id="u-1") as trace:
        answer("where is A1?")
    return str(trace.trace_id)


def test_spans_arrive_on_the_genai_conventions_with_whyops_ids(
    receiver: OtlpReceiver, restore_tracer: Any
) -> None:
    _configure(receiver.base + "/v1/traces", service_name="shop", resource=(("env", "ci"),))
    trace_id = _agent_run()
    report = whyops.flush(10)
    assert (report.delivered, report.dropped, report.pending) == (3, 0, 0)
    spans = receiver.spans_named()
    assert set(spans) == {"invoke_agent support", "execute_tool lookup", "plan"}
    agent, tool, plan = spans["invoke_agent support"], spans["execute_tool lookup"], spans["plan"]
    assert {s.trace_id.hex() for s in spans.values()} == {trace_id}
    assert tool.parent_span_id == agent.span_id and plan.parent_span_id == agent.span_id
    assert agent.parent_span_id == b"" and agent.kind == agent.SPAN_KIND_INTERNAL
    assert attributes_of(agent)["gen_ai.operation.name"] == "invoke_agent"
    assert attributes_of(agent)["gen_ai.agent.name"] == "support"
    assert attributes_of(agent)["gen_ai.conversation.id"] == "conv-9"
    assert attributes_of(agent)["user.id"] == "u-1"
    tool_attrs = attributes_of(tool)
    assert tool_attrs["gen_ai.tool.name"] == "lookup"
    assert json.loads(tool_attrs["gen_ai.tool.call.arguments"]) == {"order": "A1"}
    assert json.loads(tool_attrs["gen_ai.tool.call.result"])["status"] == "shipped"
    assert tool.end_time_unix_nano >= tool.start_time_unix_nano > 0
    assert attributes_of(receiver.resources[0]) == {"env": "ci", "service.name": "shop"}
    assert receiver.paths == ["/v1/traces"]
    assert receiver.headers[0]["Content-Type"] == "application/x-protobuf"


def test_503_then_429_then_200_delivers_once_honouring_retry_after(
    receiver: OtlpReceiver, restore_tracer: Any
) -> None:
    busy = proto.encode_status(proto.MEDIA_PROTOBUF, 14, "busy")
    receiver.script = [(503, {"Retry-After": "0"}, busy), (429, {"Retry-After": "0.3"}, b"")]
    exporter = _configure(receiver.base + "/v1/traces", backoff_cap=5.0)
    _tools(50)
    started = time.monotonic()
    report = whyops.flush(10)
    assert time.monotonic() - started >= 0.3  # the receiver's Retry-After
    assert (report.delivered, report.dropped, report.retried) == (50, 0, 2)
    assert len(receiver.spans) == 50 and receiver.requests == 3
    assert exporter.last_failure is None


def test_a_4xx_drops_the_batch_naming_the_receivers_message(
    receiver: OtlpReceiver, restore_tracer: Any
) -> None:
    bad = proto.encode_status(proto.MEDIA_PROTOBUF, 3, "resourceSpans[0]: bad")
    receiver.script = [(400, {}, bad), (500, {}, b"oops")]  # 500: not retryable in OTLP
    _configure(receiver.base + "/v1/traces", max_batch_size=2)
    _tools(6)
    report = whyops.flush(10)
    assert (report.delivered, report.dropped, report.retried) == (2, 4, 0)
    assert receiver.requests == 3
    assert report.last_error is not None and report.last_error.startswith("HTTP 500")


def test_partial_success_counts_the_rejected_spans_as_dropped(
    receiver: OtlpReceiver, restore_tracer: Any
) -> None:
    answer = proto.encode_response(proto.MEDIA_PROTOBUF, 2, "2 spans: traceId must be 32 hex")
    receiver.script = [(200, {}, answer)]
    _configure(receiver.base + "/v1/traces", max_batch_size=10)
    _tools(5)
    report = whyops.flush(10)
    assert (report.delivered, report.dropped) == (3, 2)
    assert "traceId must be 32 hex" in (report.last_error or "")


def test_a_413_splits_the_batch(receiver: OtlpReceiver, restore_tracer: Any) -> None:
    receiver.script = [(413, {}, b"too large")]
    _configure(receiver.base + "/v1/traces", max_batch_size=8)
    _tools(8)
    report = whyops.flush(10)
    assert (report.delivered, report.dropped) == (8, 0)
    assert receiver.requests == 3 and len(receiver.spans) == 8


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
def test_gzip_and_json_bodies(receiver: OtlpReceiver, restore_tracer: Any, protocol: str) -> None:
    _configure(receiver.base + "/v1/traces", compression="gzip", protocol=protocol)
    _tools(20)
    assert whyops.flush(10).delivered == 20
    assert receiver.headers[0]["Content-Encoding"] == "gzip"
    expected = "application/json" if protocol == "http/json" else "application/x-protobuf"
    assert receiver.headers[0]["Content-Type"] == expected
    assert sorted(
        json.loads(attributes_of(s)["gen_ai.tool.call.arguments"])["i"] for s in receiver.spans
    ) == list(range(20))


def test_classify_otlp_response() -> None:
    ok, rejected = classify_otlp_response(200, {}, b"", proto.MEDIA_PROTOBUF)
    assert (ok.action, rejected) == ("ok", 0)
    for status in (429, 502, 503, 504):
        outcome, _ = classify_otlp_response(status, {"Retry-After": "2"}, b"", proto.MEDIA_PROTOBUF)
        assert (outcome.action, outcome.delay) == ("retry", 2.0)
    for status in (400, 401, 403, 404, 415, 500, 501):
        outcome, _ = classify_otlp_response(status, {}, b"", proto.MEDIA_PROTOBUF)
        assert outcome.action == "drop", status
    body = proto.encode_status(proto.MEDIA_JSON, 16, "no key")
    outcome, _ = classify_otlp_response(401, {}, body, proto.MEDIA_JSON)
    assert outcome.message == "HTTP 401: no key"
    garbage, _ = classify_otlp_response(400, {}, b"\xff\xfe plain text", proto.MEDIA_PROTOBUF)
    assert garbage.action == "drop" and "plain text" in garbage.message


# -- the OpenTelemetry variables ---------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "endpoint"),
    [
        ({}, "http://localhost:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, "http://c:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c/otel/"}, "https://c/otel/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:1/custom"}, "http://t:1/custom"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t/x",
            },
            "http://t/x",
        ),
    ],
)
def test_endpoint_variables(env: dict[str, str], endpoint: str) -> None:
    assert load_otlp_options(env).endpoint == endpoint


def test_headers_compression_timeout_protocol_and_resource_variables() -> None:
    options = load_otlp_options(
        {
            "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20k1, x-team = a%2Cb ,",
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "GZIP",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "none",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json",
            "OTEL_RESOURCE_ATTRIBUTES": "service.name=from-resource,deployment.environment=prod",
        },
        agent_name="bot",
    )
    assert options.headers == (("Authorization", "Bearer k1"), ("x-team", "a,b"))
    assert (options.compression, options.timeout, options.protocol) == ("gzip", 2.5, "http/json")
    assert options.service_name == "from-resource"
    assert options.resource == (("deployment.environment", "prod"),)
    traces_headers = load_otlp_options(
        {"OTEL_EXPORTER_OTLP_HEADERS": "a=1", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "b=2"}
    )
    assert traces_headers.headers == (("b", "2"),)
    named = load_otlp_options(
        {"OTEL_SERVICE_NAME": "svc", "OTEL_RESOURCE_ATTRIBUTES": "service.name=x"}
    )
    assert named.service_name == "svc"
    assert load_otlp_options({}, agent_name="bot").service_name == "bot"
    assert load_otlp_options({}).service_name == "unknown_service"
    assert load_otlp_options({}).compression == "none"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"OTEL_EXPORTER_OTLP_COMPRESSION": "br"},
            "OTEL_EXPORTER_OTLP_COMPRESSION must be one of gzip, none",
        ),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "soon"},
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT must be a number",
        ),
        ({"OTEL_EXPORTER_OTLP_TIMEOUT": "0"}, "OTEL_EXPORTER_OTLP_TIMEOUT must be positive"),
        (
            {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "OTEL_EXPORTER_OTLP_PROTOCOL must be one of http/protobuf, http/json, got 'grpc' "
            "(the otlp exporter speaks OTLP/HTTP only",
        ),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-key=a%0Ab"},
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS: header 'x-key' needs a token name",
        ),
        (
            {"OTEL_EXPORTER_OTLP_HEADERS": "bad name=v"},
            "OTEL_EXPORTER_OTLP_HEADERS: header 'bad name' needs a token name",
        ),
        (
            {"OTEL_EXPORTER_OTLP_HEADERS": "novalue"},
            "OTEL_EXPORTER_OTLP_HEADERS: 'novalue' is not name=value",
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"},
            "OTEL_EXPORTER_OTLP_ENDPOINT: 'collector",
        ),
        ({"OTEL_RESOURCE_ATTRIBUTES": "=x"}, "OTEL_RESOURCE_ATTRIBUTES: '=x' is not key=value"),
    ],
)
def test_bad_variables_name_themselves(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        load_otlp_options(env)


def test_bad_exporter_names_the_option_or_the_variable() -> None:
    with pytest.raises(ValueError, match=r"^exporter: 'otel' is not one of http, console"):
        load_config({"exporter": "otel"}, {})
    with pytest.raises(ValueError, match=r"^WHYOPS_EXPORTER: 'otlp2' is not one of"):
        load_config({}, {"WHYOPS_EXPORTER": "http,otlp2"})
    with pytest.raises(ValueError, match=r"^exporter: 'oltp' is not one of"):
        load_config({"exporter": ["http", "oltp"]}, {})
    assert load_config({"exporter": ["http", "otlp"]}, {}).exporter == ["http", "otlp"]


def test_whyops_exporter_otlp_uses_the_otel_variables(receiver: OtlpReceiver) -> None:
    code = (
        "import whyops\n"
        "@whyops.tool\n"
        "def work(i):\n    return i\n"
        "for i in range(4):\n    work(i)\n"
        "r = whyops.flush(10)\n"
        "print(r.delivered, r.dropped)\n"
    )
    env = {
        "WHYOPS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.base,
        "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20secret",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_SERVICE_NAME": "worker",
    }
    result = run_python(code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["4", "0"]
    assert receiver.paths == ["/v1/traces"]
    assert receiver.headers[0]["Authorization"] == "Bearer secret"
    assert receiver.headers[0]["Content-Encoding"] == "gzip"
    assert attributes_of(receiver.resources[0])["service.name"] == "worker"


def test_http_and_otlp_together_each_get_every_span(
    receiver: OtlpReceiver, sink: Sink, restore_tracer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.base + "/v1/traces")
    whyops.configure(
        exporter=["http", "otlp"], api_key="k", analyse_url=sink.url, flush_interval=0.05
    )
    assert len(TRACER._processors) == 2  # one flusher each: a slow one never holds the other
    _tools(30)
    report = whyops.flush(10)
    assert (report.delivered, report.dropped) == (60, 0)  # counted once per exporter
    assert len(sink.events) == 60 and len(receiver.spans) == 30
    http_spans = {e["spanId"] for e in sink.events}
    assert {s.span_id.hex() for s in receiver.spans} == http_spans


def test_a_dead_endpoint_never_blocks_the_caller_and_losses_are_counted(
    restore_tracer: Any, refused_url: str
) -> None:
    _configure(
        refused_url + "/v1/traces", max_queue_size=1_000, max_batch_size=100, max_retries=1000
    )
    started = time.monotonic()
    _tools(20_000)
    emitted = time.monotonic() - started
    (processor,) = TRACER._processors
    assert len(processor._queue) <= 1_000 + 1  # bounded memory
    report = whyops.flush(0.3)
    assert report.timed_out and report.delivered == 0
    assert report.dropped + report.pending == 20_000
    assert "ConnectError" in (report.last_error or "") or report.dropped >= 20_000 - 1_101
    final = whyops.shutdown(0.5)
    assert final.delivered == 0 and final.dropped + final.pending == 20_000
    assert emitted < 20  # never waited on the network (a blocked caller would take minutes)


# -- imports and forks -----------------------------------------------------------------------


def test_import_whyops_loads_no_opentelemetry_or_protobuf() -> None:
    code = (
        "import sys, whyops, whyops.otlp, whyops.otlp.outbound, whyops.otlp.attributes\n"
        "whyops.configure(exporter='memory')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(('opentelemetry', "
        "'google'))}))"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
def test_the_flusher_imports_nothing_on_its_first_send(
    receiver: OtlpReceiver, protocol: str
) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.base, "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}
    result = run_python(
        FIRST_SEND_SCRIPT.format(
            configure='whyops.configure(exporter="otlp", flush_interval=0.005)'
        ),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2 []", result.stdout


FORKS = """
import os, sys, whyops
whyops.configure(exporter="otlp", flush_interval=0.01)

@whyops.tool
def work(who):
    return who

for _ in range(20):
    work("parent")
children = []
for n in range(5):
    pid = os.fork()
    if pid == 0:
        work(f"child-{n}")
        report = whyops.flush(10)
        os._exit(0 if (report.delivered, report.dropped) == (1, 0) else 3)
    children.append(pid)
for _ in range(20):
    work("parent")
codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
report = whyops.flush(10)
print(codes, report.delivered, report.dropped)
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_forked_children_export_their_own_spans_only(receiver: OtlpReceiver) -> None:
    result = run_python(FORKS, env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.base}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[0,", "0,", "0,", "0,", "0]", "40", "0"]
    who = [attributes_of(s)["gen_ai.tool.call.result"] for s in receiver.spans]
    assert sorted(who) == sorted(["parent"] * 40 + [f"child-{n}" for n in range(5)])
    assert len({s.span_id for s in receiver.spans}) == 45


variables = st.dictionaries(
    st.sampled_from(
        [
            f"OTEL_EXPORTER_OTLP_{traces}{name}"
            for traces in ("", "TRACES_")
            for name in ("ENDPOINT", "HEADERS", "COMPRESSION", "TIMEOUT", "PROTOCOL")
        ]
        + ["OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"]
    ),
    st.text(max_size=30),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(variables)
def test_any_variables_give_options_or_a_value_error_naming_one(env: dict[str, str]) -> None:
    try:
        options = load_otlp_options(env)
    except ValueError as exc:
        assert str(exc).split(":")[0].split(" ")[0] in env
        return
    assert options.endpoint.startswith(("http://", "https://"))
    assert options.compression in ("gzip", "none") and options.timeout > 0


def test_without_opentelemetry_proto_configure_says_what_to_install() -> None:
    code = (
        "import sys\n"
        "sys.modules['opentelemetry'] = None\n"  # as if it were not installed
        "import whyops\n"
        "try:\n"
        "    whyops.configure(exporter='otlp')\n"
        "except ValueError as exc:\n"
        "    print(exc)\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "pip install 'whyops[otlp]'" in result.stdout


class _BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_manual_events_become_spans_of_their_own_under_the_capture_rules(
    receiver: OtlpReceiver, restore_tracer: Any
) -> None:
    looped: dict[str, Any] = {"api_key": "sk-not-for-export", "odd": {_BrokenRepr()}}
    looped["self"] = looped
    hostile = {"messages": [{"role": "user", "content": looped}]}
    _configure(receiver.base + "/v1/traces")
    for n, content in enumerate([{"messages": [{"role": "user", "content": "hi"}]}, hostile]):
        TRACER.submit(EventRecord({
            "eventType": "user_message", "traceId": "manual-trace", "agentName": "a",
            "spanId": f"{n + 1:016x}", "timestamp": "2026-11-27T08:00:00.000000Z",
            "idempotencyKey": f"m-{n}", "content": content,
        }))  # fmt: skip
    report = whyops.flush(10)
    assert (report.delivered, report.dropped) == (2, 0)
    spans = {s.span_id.hex(): s for s in receiver.spans}
    assert set(spans) == {"0000000000000001", "0000000000000002"}
    first = spans["0000000000000001"]
    assert first.trace_id == hashlib.sha256(b"manual-trace").digest()[:16]
    assert attributes_of(first)["whyops.trace.id"] == "manual-trace"
    assert first.start_time_unix_nano == first.end_time_unix_nano == 1_795_766_400_000_000_000
    text = attributes_of(spans["0000000000000002"])["gen_ai.input.messages"]
    [message] = json.loads(text)
    assert json.loads(message["parts"][0]["content"]) == {
        "api_key": "[redacted]",
        "odd": ["<unrepresentable _BrokenRepr>"],
        "self": "<cycle>",
    }


def test_a_record_that_cannot_be_encoded_is_left_out_and_counted(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from whyops.export import otlp as otlp_module
    from whyops.wire.records import SpanKind, SpanRecord

    def span(n: int) -> SpanRecord:
        start = 1_790_000_000_000_000_000 + n * 1000
        return SpanRecord(
            trace_id="4bf92f3577b34da6a3ce929d0e0e4736", span_id=f"{n:016x}",
            parent_span_id=None, name=f"step{n}", kind=SpanKind.TOOL,
            start_time_ns=start, end_time_ns=start + 500, duration_ns=500,
        )  # fmt: skip

    encode = otlp_module.span_events

    def refusing(record: SpanRecord, *args: Any) -> list[dict[str, Any]]:
        if record.span_id == f"{2:016x}":
            raise ValueError("no JSON for this")
        return encode(record, *args)

    monkeypatch.setattr(otlp_module, "span_events", refusing)
    exporter = _exporter(receiver.base + "/v1/traces")
    try:
        result = exporter.export([span(1), span(2), span(3)])
    finally:
        exporter.shutdown()
    assert (result.ok, result.dropped) == (True, 1)
    assert sorted(s.span_id.hex() for s in receiver.spans) == [f"{1:016x}", f"{3:016x}"]
