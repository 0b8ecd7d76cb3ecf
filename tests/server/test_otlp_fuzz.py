"""Property: hostile OTLP exports on the real route: never a 500, a clear 4xx or a 200 whose
``partial_success`` counts exactly the spans not stored, and every stored span readable.

Generated: ids of every length, unknown span kinds and status codes, AnyValues of every type
nested up to past protobuf's own limit, NULs, lone surrogates in JSON, truncated or random
bodies, wrong content types, gzip. Two hundred examples, and 1,000 in the ``slow`` run.
"""

from __future__ import annotations

import base64
import gzip
import uuid
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("opentelemetry.proto", reason="the otlp extra is not installed")

from tests.server import test_property
from tests.server.conftest import Api
from tests.server.test_otlp_route import (
    JSON,
    PROTOBUF,
    START_NS,
    otlp_span,
    partial_success,
    request_of,
    rpc_status,
    span_ids_read,
)
from tests.server.test_property import Rows
from whyops.otlp.proto import encode_request, request_json

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
GENAI_KEYS = [
    "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model",
    "gen_ai.response.model", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
    "gen_ai.tool.name", "gen_ai.tool.call.id", "gen_ai.tool.call.arguments",
    "gen_ai.agent.name", "gen_ai.input.messages", "gen_ai.output.messages",
    "gen_ai.conversation.id", "gen_ai.response.finish_reasons", "openinference.span.kind",
    "llm.model_name", "input.value", "output.value", "tool.name", "error.type",
]  # fmt: skip
OPERATIONS = ["chat", "text_completion", "embeddings", "execute_tool", "invoke_agent",
              "create_agent", "LLM", "TOOL", "AGENT", "CHAIN", "other"]  # fmt: skip
texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(OPERATIONS),
    st.text(alphabet="ab\x00\u00e9\u4e2d\U0001f600", max_size=6),  # NULs, non-ASCII
)
scalar_values = st.one_of(
    texts.map(lambda s: {"stringValue": s}),
    st.integers(-(2**63), 2**63 - 1).map(lambda i: {"intValue": i}),
    st.floats().map(lambda f: {"doubleValue": f}),  # NaN and infinities too
    st.booleans().map(lambda b: {"boolValue": b}),
    st.binary(max_size=8).map(lambda b: {"bytesValue": base64.b64encode(b).decode()}),
    st.just({}),
)
any_values = st.recursive(
    scalar_values,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda vs: {"arrayValue": {"values": vs}}),
        st.lists(st.tuples(texts, inner), max_size=3).map(
            lambda kvs: {"kvlistValue": {"values": [{"key": k, "value": v} for k, v in kvs]}}
        ),
    ),
    max_leaves=8,
)
key_value_lists = st.lists(
    st.tuples(st.one_of(st.sampled_from(GENAI_KEYS), texts), any_values), max_size=8
).map(lambda kvs: [{"key": k, "value": v} for k, v in kvs])


def deep(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"stringValue": "bottom"}
    for _ in range(depth):
        value = {"arrayValue": {"values": [value]}}
    return value


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    size, length = bytearray(), len(payload)
    while True:
        size.append((length & 0x7F) | (0x80 if length > 0x7F else 0))
        length >>= 7
        if not length:
            break
    return bytes([number << 3 | 2]) + bytes(size) + payload


def deep_protobuf(trace_id: str, span_id: str, depth: int) -> bytes:
    """An export whose one span holds an AnyValue nested ``depth`` arrays deep, written by
    hand: the protobuf bindings refuse to build past their own limit, senders need not."""
    value = _field(1, b"bottom")  # AnyValue.string_value
    for _ in range(depth):
        value = _field(5, _field(1, value))  # AnyValue.array_value { values }
    attribute = _field(1, b"deep") + _field(2, value)  # KeyValue
    start = (START_NS).to_bytes(8, "little")
    span = (
        _field(1, bytes.fromhex(trace_id))
        + _field(2, bytes.fromhex(span_id))
        + _field(5, b"deep")
        + b"\x39"
        + start
        + b"\x41"
        + start
        + _field(9, attribute)
    )
    return _field(1, _field(2, _field(2, span)))  # resource_spans { scope_spans { spans } }


@attrs.define
class Export:
    media: str
    body: bytes
    headers: dict[str, str]
    spans: list[dict[str, Any]]
    must: int | None = None  # the status it must get, when known
    intact: bool = True  # the body is the encoded spans, whole


def _hex(draw: st.DrawFn, size: int) -> str:
    """A fresh id of ``size`` bytes, mostly; sometimes of another length (or none)."""
    if draw(st.integers(0, 7)):
        return uuid.uuid4().hex[: size * 2] if size <= 16 else uuid.uuid4().hex * 2
    return uuid.uuid4().hex[: 2 * draw(st.integers(0, 16))]


@st.composite
def hostile_spans(draw: st.DrawFn, trace_id: str) -> dict[str, Any]:
    own_trace = trace_id if draw(st.integers(0, 7)) else _hex(draw, 16)
    span = otlp_span(own_trace, _hex(draw, 8), draw(texts), {},
                     kind=draw(st.sampled_from([0, 1, 2, 3, 4, 5, 99, 2**31 - 1, -1])),
                     status=draw(st.sampled_from([0, 1, 2, 7, -3])),
                     parent=draw(st.sampled_from(["", uuid.uuid4().hex[:16], "ab"])))  # fmt: skip
    span["attributes"] = draw(key_value_lists)
    if draw(st.integers(0, 9)) == 0:
        span["attributes"].append({"key": "deep", "value": deep(draw(st.integers(1, 120)))})
    if draw(st.booleans()):
        span["events"] = [{"timeUnixNano": START_NS, "name": draw(texts),
                           "attributes": draw(key_value_lists)}]  # fmt: skip
    if draw(st.integers(0, 5)) == 0:
        span["startTimeUnixNano"] = draw(st.integers(0, 2**64 - 1))
    return span


def _body(request: dict[str, Any], media: str) -> bytes | None:
    try:
        return encode_request(request) if media == PROTOBUF else request_json(request)
    except Exception:  # deeper than the bindings write (DecodeError): not sent as is
        return None


@st.composite
def hostile_exports(draw: st.DrawFn) -> Export:
    trace_id = uuid.uuid4().hex
    spans = draw(st.lists(hostile_spans(trace_id), min_size=1, max_size=4))
    media = draw(st.sampled_from([PROTOBUF, JSON]))
    body = _body(request_of(*spans), media)
    export = Export(media, body or b"", {"Content-Type": media}, spans, intact=body is not None)
    if body is None:
        export.body = deep_protobuf(trace_id, uuid.uuid4().hex[:16], draw(st.integers(90, 130)))
    mutation = draw(st.sampled_from(["none"] * 6 + ["truncate", "random", "type", "surrogate"]))
    if mutation == "truncate" and export.body:
        export.body = export.body[: draw(st.integers(0, len(export.body) - 1))]
        export.intact = False
    elif mutation == "random":
        export.body = draw(st.binary(max_size=200))
        export.intact = False
    elif mutation == "type":
        export.headers["Content-Type"] = draw(st.sampled_from(["text/plain", "application/xml"]))
        export.must = 415
    elif mutation == "surrogate" and media == JSON:
        export.body = export.body.replace(b'"name":"', b'"name":"\\udc00', 1)
    if draw(st.integers(0, 3)) == 0:
        export.body, export.headers["Content-Encoding"] = gzip.compress(export.body), "gzip"
    return export


def _run(api: Api, rows: Rows, export: Export) -> None:
    mark = rows.mark()
    response = api.post("/v1/traces", content=export.body, headers=export.headers)
    assert response.status_code < 500, response.content[:300]
    if export.must is not None:
        assert response.status_code == export.must, response.content[:300]
    if response.status_code != 200:
        assert response.status_code in (400, 413, 415), response.content[:300]
        assert rpc_status(response)[1]  # a message saying why
        assert rows.since(mark) == 0
        return
    rejected, message = partial_success(response)
    assert rejected == 0 or message
    sent = {(s["traceId"], s["spanId"]) for s in export.spans}
    for trace in {t for t, _ in sent if len(t) == 32}:
        listed = api.get("/api/events", params={"traceId": trace}).json()["events"]
        if not listed:  # every span of it rejected
            assert rejected or not export.intact, message
            continue
        read = span_ids_read(api, trace)  # and every read route answers
        if rejected == 0 and export.intact:
            assert {s for t, s in sent if t == trace} <= read, (message, read)


rows = test_property.rows  # the fixture: rows written since a mark


@FUZZ
@given(export=hostile_exports())
def test_hostile_exports_never_500_and_stored_spans_read_back(
    api: Api, rows: Rows, export: Export
) -> None:
    _run(api, rows, export)


@pytest.fixture
def sqlite_api(api: Api) -> Api:
    """Decoding, translating and validating do not depend on the store, and the test above
    runs every example on both: at scale one store is enough (CI runs slow tests too)."""
    if api.running.db_path.startswith("postgresql://"):
        pytest.skip("at scale on SQLite only; both stores run the examples above")
    return api


@pytest.mark.slow
@settings(FUZZ, max_examples=1_000)
@given(export=hostile_exports())
def test_hostile_exports_at_scale(sqlite_api: Api, rows: Rows, export: Export) -> None:
    _run(sqlite_api, rows, export)


# -- the extremes, one each ----------------------------------------------------------------------


def _post(api: Api, request: dict[str, Any], media: str = PROTOBUF) -> Any:
    body = encode_request(request) if media == PROTOBUF else request_json(request)
    return api.post("/v1/traces", content=body, headers={"Content-Type": media})


def test_ten_thousand_attributes(api: Api) -> None:
    """Past the attributes a span may carry: that span is rejected by name, its sibling kept."""
    trace, span, sibling = uuid.uuid4().hex, uuid.uuid4().hex[:16], uuid.uuid4().hex[:16]
    many = otlp_span(trace, span, "chat m", {f"attr.{i}": i for i in range(10_000)})
    few = otlp_span(trace, sibling, "chat m", {f"attr.{i}": i for i in range(1_000)})
    response = _post(api, request_of(many, few))
    rejected, message = partial_success(response)
    assert rejected == 1 and span in message and "10000 attributes" in message, message
    assert span_ids_read(api, trace) == {sibling}


@pytest.mark.parametrize("media", [PROTOBUF, JSON])
@pytest.mark.parametrize("depth", [10, 31, 32, 33, 63, 64, 99, 100, 101, 120])
def test_deeply_nested_any_values_are_stored_or_refused_clearly(
    api: Api, rows: Rows, media: str, depth: int
) -> None:
    trace, span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    request = request_of(otlp_span(trace, span, "deep", {}))
    request["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"] = [
        {"key": "deep", "value": deep(depth)}
    ]
    mark = rows.mark()
    if media == PROTOBUF:
        body = deep_protobuf(trace, span, depth)
        response = api.post("/v1/traces", content=body, headers={"Content-Type": media})
    else:
        response = _post(api, request, media)
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:  # past what a body may hold at all (protobuf: 100
        assert depth > 40, depth  # messages, an array level is two; JSON: 64 levels)
        assert "nested" in rpc_status(response)[1] or "MaxDepth" in rpc_status(response)[1]
        assert rows.since(mark) == 0
        return
    rejected, message = partial_success(response)
    if rejected:  # past what is kept: the span is refused, by name
        assert depth > 30 and "nests deeper" in message and span in message, message
    else:
        assert span in span_ids_read(api, trace)


def test_huge_strings(api: Api) -> None:
    trace, span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    huge = "x" * 4_000_000
    request = request_of(
        otlp_span(
            trace, span, "n" * 100_000, {"input.value": huge, "gen_ai.agent.name": "a" * 1000}
        )
    )
    response = _post(api, request)
    assert response.status_code == 200, response.content[:300]
    rejected, message = partial_success(response)
    if rejected:
        assert message  # a field longer than the store takes is named
    else:
        assert span in span_ids_read(api, trace)


@pytest.mark.parametrize("media", [PROTOBUF, JSON])
def test_nuls_everywhere(api: Api, media: str) -> None:
    """PostgreSQL text cannot hold U+0000: such a span is rejected by name, never a 500."""
    trace, span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m\x00",
                  "gen_ai.provider.name": "p\x00", "gen_ai.agent.name": "ag\x00ent",
                  "gen_ai.conversation.id": "c\x00", "k\x00": "v\x00"}  # fmt: skip
    response = _post(api, request_of(otlp_span(trace, span, "na\x00me", attributes)), media)
    rejected, message = partial_success(response)
    if api.running.db_path.startswith("postgresql://"):
        assert rejected == 1 and span in message and "NUL" in message, message
    else:  # SQLite holds it
        assert rejected == 0 and span in span_ids_read(api, trace)
