"""whyops.otlp.proto: OTLP/HTTP trace bodies (protobuf and JSON) ↔ the OTLP/JSON dict."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from whyops.otlp import proto
from whyops.otlp.proto import MEDIA_JSON, MEDIA_PROTOBUF, OtlpDecodeError

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

# -- strategies: normalised OTLP/JSON dicts ----------------------------------------------

hex_ids = st.binary(min_size=0, max_size=20).map(bytes.hex)
uint64 = st.integers(0, 2**64 - 1)
texts = st.text(max_size=20)
scalars = st.one_of(
    st.builds(lambda v: {"stringValue": v}, texts),
    st.builds(lambda v: {"intValue": v}, st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda v: {"doubleValue": v}, st.floats(allow_nan=False)),
    st.builds(lambda v: {"boolValue": v}, st.booleans()),
    st.builds(lambda v: {"bytesValue": proto.base64.b64encode(v).decode()}, st.binary(max_size=8)),
    st.just({}),
)
any_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.builds(lambda vs: {"arrayValue": {"values": vs}}, st.lists(inner, max_size=3)),
        st.builds(
            lambda kvs: {"kvlistValue": {"values": kvs}},
            st.lists(st.builds(lambda k, v: {"key": k, "value": v}, texts, inner), max_size=3),
        ),
    ),
    max_leaves=8,
)
kvs = st.lists(st.builds(lambda k, v: {"key": k, "value": v}, texts, any_values), max_size=4)
events = st.builds(
    lambda t, n, a: {"timeUnixNano": t, "name": n, "attributes": a}, uint64, texts, kvs
)
links = st.builds(
    lambda t, s, a: {"traceId": t, "spanId": s, "attributes": a}, hex_ids, hex_ids, kvs
)
spans = st.fixed_dictionaries(
    {
        "traceId": hex_ids,
        "spanId": hex_ids,
        "parentSpanId": hex_ids,
        "name": texts,
        "kind": st.integers(0, 7),  # 6 and 7: unknown enum values, kept as numbers
        "startTimeUnixNano": uint64,
        "endTimeUnixNano": uint64,
        "attributes": kvs,
        "events": st.lists(events, max_size=2),
        "links": st.lists(links, max_size=2),
        "status": st.fixed_dictionaries({"code": st.integers(0, 2), "message": texts}),
    }
)
requests = st.builds(
    lambda groups: {"resourceSpans": groups},
    st.lists(
        st.fixed_dictionaries(
            {
                "resource": st.fixed_dictionaries({"attributes": kvs}),
                "scopeSpans": st.lists(
                    st.fixed_dictionaries(
                        {
                            "scope": st.fixed_dictionaries({"name": texts, "version": texts}),
                            "spans": st.lists(spans, max_size=3),
                        }
                    ),
                    max_size=2,
                ),
            }
        ),
        max_size=2,
    ),
)


@SETTINGS
@given(requests)
def test_protobuf_round_trip(request: dict[str, Any]) -> None:
    assert proto.decode_request(proto.encode_request(request), MEDIA_PROTOBUF) == request


@SETTINGS
@given(requests)
def test_json_round_trip(request: dict[str, Any]) -> None:
    assert proto.decode_request(proto.request_json(request), MEDIA_JSON) == request


@SETTINGS
@given(requests)
def test_our_json_is_what_protobuf_reads(request: dict[str, Any]) -> None:
    """The official JSON parser reads request_json() as the same message as encode_request(),
    once the ids are base64 (protobuf's JSON mapping) instead of hex (OTLP/JSON)."""
    data = json.loads(proto.request_json(request))
    _each_id(data, lambda text: proto.base64.b64encode(bytes.fromhex(text)).decode())
    message = json_format.Parse(json.dumps(data), trace_service_pb2.ExportTraceServiceRequest())
    assert message.SerializeToString() == proto.encode_request(request)


@SETTINGS
@given(requests)
def test_protobuf_json_mapping_decodes_the_same(request: dict[str, Any]) -> None:
    """What an OpenTelemetry SDK's JSON encoder writes (protobuf's JSON mapping) decodes alike."""
    message = trace_service_pb2.ExportTraceServiceRequest.FromString(proto.encode_request(request))
    # protobuf writes ids as base64; OTLP/JSON writes them as hex: convert as OTLP says.
    data = json_format.MessageToDict(message)
    _each_id(data, lambda text: proto.base64.b64decode(text).hex())
    assert proto.decode_request(json.dumps(data).encode(), MEDIA_JSON) == request


def _each_id(data: dict[str, Any], convert: Any) -> None:
    """Rewrite every trace/span id of a JSON request in place."""
    for rs in data.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                for item in (span, *span.get("links", [])):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if item.get(key):
                            item[key] = convert(item[key])


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_decode_error(body: bytes) -> None:
    for media in (MEDIA_PROTOBUF, MEDIA_JSON):
        try:
            decoded = proto.decode_request(body, media)
        except OtlpDecodeError:
            continue
        assert isinstance(decoded["resourceSpans"], list)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), texts),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "resourceSpans",
                    "scopeSpans",
                    "spans",
                    "traceId",
                    "kind",
                    "attributes",
                    "key",
                    "value",
                    "stringValue",
                    "intValue",
                    "arrayValue",
                    "kvlistValue",
                    "values",
                    "status",
                    "code",
                    "events",
                    "startTimeUnixNano",
                    "bytesValue",
                ]
            )
            | texts,
            inner,
            max_size=4,
        ),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(json_values)
def test_any_json_decodes_or_raises_decode_error(value: Any) -> None:
    try:
        decoded = proto.decode_request(json.dumps(value).encode(), MEDIA_JSON)
    except OtlpDecodeError as exc:
        assert str(exc)
        return
    assert isinstance(decoded["resourceSpans"], list)


def _json_span(**fields: Any) -> bytes:
    span = {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331"}
    span.update(fields)
    body = {"resourceSpans": [{"scopeSpans": [{}, {"spans": [{}, {}, {}, span]}]}]}
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"traceId": "zz"}, "resourceSpans[0].scopeSpans[1].spans[3].traceId: not hex"),
        ({"spanId": "abc"}, "resourceSpans[0].scopeSpans[1].spans[3].spanId: not hex"),
        ({"kind": "SPAN_KIND_NOPE"}, "spans[3].kind: unknown value 'SPAN_KIND_NOPE'"),
        ({"startTimeUnixNano": "soon"}, "spans[3].startTimeUnixNano: not an integer"),
        ({"endTimeUnixNano": -1}, "spans[3].endTimeUnixNano: out of range"),
        ({"attributes": {}}, "spans[3].attributes: must be an array"),
        (
            {"attributes": [{"key": "k", "value": {"intValue": "1", "stringValue": "x"}}]},
            "spans[3].attributes[0].value: more than one of",
        ),
        (
            {"attributes": [{"key": "k", "value": {"bytesValue": "!!"}}]},
            "spans[3].attributes[0].value.bytesValue: not base64",
        ),
        ({"status": {"code": "STATUS_CODE_MAYBE"}}, "spans[3].status.code: unknown value"),
        ({"name": 5}, "spans[3].name: must be a string"),
    ],
)
def test_json_errors_name_the_path(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(OtlpDecodeError) as caught:
        proto.decode_request(_json_span(**fields), MEDIA_JSON)
    assert message in str(caught.value)


def test_json_rules_ints_enums_unknown_fields_and_snake_case() -> None:
    body = _json_span(
        traceId="0AF7651916CD43DD8448EB211C80319C",
        kind="SPAN_KIND_CLIENT",
        start_time_unix_nano="17",
        endTimeUnixNano=18,
        droppedAttributesCount=3,
        flags=1,
        attributes=[
            {"key": "n", "value": {"intValue": "-5"}},
            {"key": "d", "value": {"doubleValue": "NaN"}},
            {"key": "s", "value": {"string_value": "x"}},
            {"key": "e", "value": None},
        ],
        status={"code": "STATUS_CODE_ERROR", "message": None},
        events=[{"timeUnixNano": "9", "name": "exception"}],
    )
    span = proto.decode_request(body, MEDIA_JSON)["resourceSpans"][0]["scopeSpans"][1]["spans"][3]
    assert span["traceId"] == "0af7651916cd43dd8448eb211c80319c"
    assert (span["kind"], span["startTimeUnixNano"], span["endTimeUnixNano"]) == (3, 17, 18)
    values = {kv["key"]: kv["value"] for kv in span["attributes"]}
    assert values["n"] == {"intValue": -5} and values["s"] == {"stringValue": "x"}
    assert values["d"]["doubleValue"] != values["d"]["doubleValue"]  # NaN
    assert values["e"] == {}
    assert span["status"] == {"code": 2, "message": ""}
    assert span["events"] == [{"timeUnixNano": 9, "name": "exception", "attributes": []}]
    assert span["parentSpanId"] == "" and span["links"] == []
    assert "droppedAttributesCount" not in span


def test_wrong_length_ids_are_kept_for_the_reader() -> None:
    body = _json_span(traceId="abcd", spanId="")
    span = proto.decode_request(body, MEDIA_JSON)["resourceSpans"][0]["scopeSpans"][1]["spans"][3]
    assert (span["traceId"], span["spanId"]) == ("abcd", "")


def test_truncated_protobuf_is_a_decode_error() -> None:
    request = json.loads(_json_span(name="x" * 50))
    body = proto.encode_request(proto.decode_request(json.dumps(request).encode(), MEDIA_JSON))
    with pytest.raises(OtlpDecodeError, match="not a valid protobuf ExportTraceServiceRequest"):
        proto.decode_request(body[:-7], MEDIA_PROTOBUF)


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"stringValue": "leaf"}
    for _ in range(depth):
        value = {"arrayValue": {"values": [value]}}
    return value


@pytest.mark.parametrize("media", [MEDIA_PROTOBUF, MEDIA_JSON])
def test_deep_nesting_is_a_decode_error_not_a_crash(media: str) -> None:
    deep = json.loads(_json_span())
    span = deep["resourceSpans"][0]["scopeSpans"][1]["spans"][3]
    span["attributes"] = [{"key": "deep", "value": _nested(proto.MAX_NESTING)}]
    ok = proto.decode_request(json.dumps(deep).encode(), MEDIA_JSON)
    body = proto.encode_request(ok) if media == MEDIA_PROTOBUF else json.dumps(deep).encode()
    assert proto.decode_request(body, media) == ok
    for depth in (proto.MAX_NESTING + 1, 5000):
        with pytest.raises(OtlpDecodeError, match=r"nested|not (a )?valid"):
            if media == MEDIA_JSON:
                proto.decode_request(_deep_json(depth), media)
            else:
                proto.decode_request(_deep_protobuf(depth), media)


def _deep_json(depth: int) -> bytes:
    """A span whose one attribute nests ``depth`` arrays (written as text: json.dumps would
    recurse)."""
    value = '{"arrayValue":{"values":[' * depth + '{"stringValue":"x"}' + "]}}" * depth
    span = f'{{"attributes":[{{"key":"deep","value":{value}}}]}}'
    return f'{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{span}]}}]}}]}}'.encode()


def _deep_protobuf(depth: int) -> bytes:
    """A span whose one attribute nests ``depth`` arrays, encoded by hand (protobuf's own
    encoder refuses such depth)."""
    value = b"\x0a\x04leaf"  # AnyValue.string_value
    for _ in range(depth):
        array = b"\x0a" + proto._varint(len(value)) + value  # ArrayValue.values
        value = b"\x2a" + proto._varint(len(array)) + array  # AnyValue.array_value
    kv = b"\x0a\x01k" + b"\x12" + proto._varint(len(value)) + value
    span = b"\x4a" + proto._varint(len(kv)) + kv  # Span.attributes = 9
    scope = b"\x12" + proto._varint(len(span)) + span
    resource = b"\x12" + proto._varint(len(scope)) + scope
    return b"\x0a" + proto._varint(len(resource)) + resource


def test_ten_thousand_attributes_decode() -> None:
    many = [{"key": f"k{n}", "value": {"intValue": n}} for n in range(10_000)]
    body = _json_span(attributes=many)
    span = proto.decode_request(body, MEDIA_JSON)["resourceSpans"][0]["scopeSpans"][1]["spans"][3]
    assert len(span["attributes"]) == 10_000
    again = proto.decode_request(
        proto.encode_request({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}),
        MEDIA_PROTOBUF,
    )
    assert again["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"] == many


@pytest.mark.parametrize(
    ("header", "media"),
    [
        ("application/x-protobuf", MEDIA_PROTOBUF),
        ("Application/X-Protobuf; charset=binary", MEDIA_PROTOBUF),
        ("application/protobuf", MEDIA_PROTOBUF),
        ("application/json; charset=utf-8", MEDIA_JSON),
        ("text/plain", None),
        ("", None),
        (None, None),
    ],
)
def test_media_type_of(header: str | None, media: str | None) -> None:
    assert proto.media_type_of(header) == media


def test_responses_in_both_encodings() -> None:
    service = trace_service_pb2.ExportTraceServiceResponse
    assert proto.encode_response(MEDIA_PROTOBUF) == b""
    assert not service.FromString(b"").HasField("partial_success")
    partial = service.FromString(proto.encode_response(MEDIA_PROTOBUF, 3, "3 spans: bad ids"))
    assert partial.partial_success.rejected_spans == 3
    assert partial.partial_success.error_message == "3 spans: bad ids"
    assert json.loads(proto.encode_response(MEDIA_JSON)) == {}
    as_json = json_format.Parse(proto.encode_response(MEDIA_JSON, 2, "m"), service())
    assert as_json.partial_success.rejected_spans == 2


def test_status_bodies_read_by_the_official_message() -> None:
    status = status_pb2.Status.FromString(proto.encode_status(MEDIA_PROTOBUF, 3, "bad é"))
    assert (status.code, status.message) == (3, "bad é")
    assert json.loads(proto.encode_status(MEDIA_JSON, 14, "busy")) == {
        "code": 14,
        "message": "busy",
    }
    assert status_pb2.Status.FromString(proto.encode_status(MEDIA_PROTOBUF, 0, "")).code == 0


def test_unknown_media_is_a_decode_error() -> None:
    with pytest.raises(OtlpDecodeError, match="unsupported media type"):
        proto.decode_request(b"{}", "text/plain")
