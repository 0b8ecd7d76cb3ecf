"""OTLP/HTTP trace bodies ↔ the "OTLP/JSON dict", the one shape the rest of ``whyops.otlp`` reads.

The only module that imports ``opentelemetry.proto`` (and so protobuf), always inside a
function: ``import whyops`` and ``import whyops.otlp`` never pull them in.

Decoding gives the OTLP/JSON encoding of ``ExportTraceServiceRequest`` as plain dicts,
normalised: every span key present (defaults filled), 64-bit integers as ``int``, enums as
``int``, trace and span ids as lowercase hex of whatever bytes arrived (their length is the
reader's business), ``bytesValue`` as base64 text. A protobuf body is walked message by
message (no JSON round trip); a JSON body is checked field by field by
:mod:`whyops.otlp.proto_json` under the OTLP/JSON rules. Every problem is an
:class:`OtlpDecodeError` naming where it is
("resourceSpans[0].scopeSpans[1].spans[3].traceId: not hex").
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "MAX_NESTING",
    "MEDIA_JSON",
    "MEDIA_PROTOBUF",
    "OtlpDecodeError",
    "decode_partial_success",
    "decode_request",
    "decode_status_message",
    "encode_request",
    "encode_response",
    "encode_status",
    "media_type_of",
    "request_json",
]

MEDIA_PROTOBUF = "application/x-protobuf"
MEDIA_JSON = "application/json"
_MEDIA = {MEDIA_PROTOBUF: MEDIA_PROTOBUF, "application/protobuf": MEDIA_PROTOBUF}
_MEDIA[MEDIA_JSON] = MEDIA_JSON
#: Nesting of AnyValue arrays/kvlists a body may hold at all: protobuf's own parser stops
#: at 100 nested messages, two per level, so JSON bodies get the same bound. How much of it
#: is kept is ``attributes.MAX_DEPTH``.
MAX_NESTING = 40

Dict = dict[str, Any]


class OtlpDecodeError(ValueError):
    """A body that is not a valid ``ExportTraceServiceRequest``; the message says where."""


def media_type_of(content_type_header: str | None) -> str | None:
    """:data:`MEDIA_PROTOBUF` or :data:`MEDIA_JSON` for a Content-Type; None: unsupported."""
    if not content_type_header:
        return None
    return _MEDIA.get(content_type_header.split(";", 1)[0].strip().lower())


def decode_request(body: bytes, media: str) -> Dict:
    """The OTLP/JSON dict of an (un-gzipped) request body of media type ``media``."""
    if media == MEDIA_PROTOBUF:
        return _decode_protobuf(body)
    if media == MEDIA_JSON:
        from whyops.otlp.proto_json import decode_json

        return decode_json(body)
    raise OtlpDecodeError(f"unsupported media type {media!r}")


# -- protobuf → dict -----------------------------------------------------------------------


def _decode_protobuf(body: bytes) -> Dict:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    try:
        message = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise OtlpDecodeError(
            f"not a valid protobuf ExportTraceServiceRequest: {exc or type(exc).__name__}"
        ) from None
    try:
        return {"resourceSpans": [_pb_resource_spans(rs) for rs in message.resource_spans]}
    except RecursionError:
        raise OtlpDecodeError("AnyValue nested too deeply") from None


def _pb_resource_spans(rs: Any) -> Dict:
    return {
        "resource": {"attributes": _pb_kvs(rs.resource.attributes, 0)},
        "scopeSpans": [
            {
                "scope": {"name": ss.scope.name, "version": ss.scope.version},
                "spans": [_pb_span(span) for span in ss.spans],
            }
            for ss in rs.scope_spans
        ],
    }


def _pb_span(span: Any) -> Dict:
    return {
        "traceId": span.trace_id.hex(),
        "spanId": span.span_id.hex(),
        "parentSpanId": span.parent_span_id.hex(),
        "name": span.name,
        "kind": span.kind,
        "startTimeUnixNano": span.start_time_unix_nano,
        "endTimeUnixNano": span.end_time_unix_nano,
        "attributes": _pb_kvs(span.attributes, 0),
        "events": [
            {
                "timeUnixNano": event.time_unix_nano,
                "name": event.name,
                "attributes": _pb_kvs(event.attributes, 0),
            }
            for event in span.events
        ],
        "links": [
            {
                "traceId": link.trace_id.hex(),
                "spanId": link.span_id.hex(),
                "attributes": _pb_kvs(link.attributes, 0),
            }
            for link in span.links
        ],
        "status": {"code": span.status.code, "message": span.status.message},
    }


def _pb_kvs(kvs: Any, depth: int) -> list[Dict]:
    return [{"key": kv.key, "value": _pb_any(kv.value, depth)} for kv in kvs]


def _pb_any(value: Any, depth: int) -> Dict:
    which = value.WhichOneof("value")
    if which is None:
        return {}
    item = getattr(value, which)
    if which == "string_value":
        return {"stringValue": item}
    if which == "int_value":
        return {"intValue": item}
    if which == "bool_value":
        return {"boolValue": item}
    if which == "double_value":
        return {"doubleValue": item}
    if which == "bytes_value":
        return {"bytesValue": base64.b64encode(item).decode("ascii")}
    if depth >= MAX_NESTING:
        raise OtlpDecodeError(f"AnyValue nested deeper than {MAX_NESTING} levels")
    if which == "array_value":
        return {"arrayValue": {"values": [_pb_any(v, depth + 1) for v in item.values]}}
    return {"kvlistValue": {"values": _pb_kvs(item.values, depth + 1)}}


# -- dict → protobuf / JSON ------------------------------------------------------------------


def encode_request(request: Mapping[str, Any]) -> bytes:
    """The protobuf ``ExportTraceServiceRequest`` of an OTLP/JSON dict (defaults may be absent;
    a scope's ``spans`` may be any iterable, read once, in order).

    Messages are filled in place (``add()``), several times faster than building each one
    and copying it into its parent.
    """
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    message = trace_service_pb2.ExportTraceServiceRequest()
    for rs in request.get("resourceSpans") or ():
        resource_spans = message.resource_spans.add()
        resource_spans.resource.SetInParent()  # present, as every SDK sends it
        _fill_kvs(resource_spans.resource.attributes, (rs.get("resource") or {}).get("attributes"))
        for ss in rs.get("scopeSpans") or ():
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.SetInParent()
            scope = ss.get("scope") or {}
            scope_spans.scope.name = scope.get("name", "")
            scope_spans.scope.version = scope.get("version", "")
            for span in ss.get("spans") or ():
                _fill_span(scope_spans.spans.add(), span)
    data: bytes = message.SerializeToString()
    return data


def _fill_span(message: Any, span: Mapping[str, Any]) -> None:
    message.trace_id = bytes.fromhex(span.get("traceId", ""))
    message.span_id = bytes.fromhex(span.get("spanId", ""))
    message.parent_span_id = bytes.fromhex(span.get("parentSpanId") or "")
    message.name = span.get("name", "")
    message.kind = span.get("kind", 0)
    message.start_time_unix_nano = span.get("startTimeUnixNano", 0)
    message.end_time_unix_nano = span.get("endTimeUnixNano", 0)
    _fill_kvs(message.attributes, span.get("attributes"))
    for event in span.get("events") or ():
        added = message.events.add()
        added.time_unix_nano = event.get("timeUnixNano", 0)
        added.name = event.get("name", "")
        _fill_kvs(added.attributes, event.get("attributes"))
    for link in span.get("links") or ():
        added = message.links.add()
        added.trace_id = bytes.fromhex(link.get("traceId", ""))
        added.span_id = bytes.fromhex(link.get("spanId", ""))
        _fill_kvs(added.attributes, link.get("attributes"))
    status = span.get("status") or {}
    message.status.SetInParent()
    message.status.code = status.get("code", 0)
    message.status.message = status.get("message", "")


def _fill_kvs(target: Any, kvs: Any) -> None:
    # ``add()`` then setting the key: faster than ``add(key=...)``, whose keyword parsing
    # costs more than the assignment. This loop runs for every attribute sent.
    add = target.add
    for kv in kvs or ():
        added = add()
        added.key = kv["key"]
        value = kv.get("value")
        if value:
            key, item = next(iter(value.items()))
            field = _SCALAR_FIELDS.get(key)
            if field is not None:  # most values: set in place, no further call
                setattr(added.value, field, item)
                continue
        _fill_any(added.value, value)


#: AnyValue keys set as they are (OTLP/JSON name → protobuf field).
_SCALAR_FIELDS = {
    "stringValue": "string_value",
    "intValue": "int_value",
    "doubleValue": "double_value",
    "boolValue": "bool_value",
}


def _fill_any(target: Any, value: Mapping[str, Any] | None) -> None:
    if not value:
        target.SetInParent()  # an empty value is still sent, as protobuf's JSON parser does
        return
    key, item = next(iter(value.items()))
    field = _SCALAR_FIELDS.get(key)
    if field is not None:
        setattr(target, field, item)
    elif key == "bytesValue":
        target.bytes_value = base64.b64decode(item)
    elif key == "arrayValue":
        array = target.array_value  # set even when empty: an empty array is a value
        array.SetInParent()
        for v in item.get("values") or ():
            _fill_any(array.values.add(), v)
    elif key == "kvlistValue":
        kvlist = target.kvlist_value
        kvlist.SetInParent()
        _fill_kvs(kvlist.values, item.get("values"))
    else:
        raise ValueError(f"not an AnyValue key: {key!r}")


# 64-bit integers are written as strings, as the protobuf JSON mapping writes them (a
# receiver reading JSON numbers as doubles would round nanosecond timestamps).
_INT64_KEYS = frozenset({"startTimeUnixNano", "endTimeUnixNano", "timeUnixNano", "intValue"})


def request_json(request: Mapping[str, Any]) -> bytes:
    """The OTLP/JSON body of an OTLP/JSON dict (64-bit integers as strings)."""
    return json.dumps(
        _json_ready(request), ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode()


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in _INT64_KEYS and isinstance(item, int):
                out[key] = str(item)
            elif key == "doubleValue" and isinstance(item, float) and not math.isfinite(item):
                out[key] = "NaN" if math.isnan(item) else ("Infinity" if item > 0 else "-Infinity")
            else:
                out[key] = _json_ready(item)
        return out
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    return value


# -- responses -----------------------------------------------------------------------------


def encode_response(media: str, rejected: int = 0, message: str = "") -> bytes:
    """An ``ExportTraceServiceResponse``; ``partial_success`` only when something was rejected
    or there is a message."""
    partial = rejected or message
    if media == MEDIA_JSON:
        body: Dict = {}
        if partial:
            body["partialSuccess"] = {"rejectedSpans": str(rejected), "errorMessage": message}
        return json.dumps(body, ensure_ascii=False).encode()
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as service

    response = service.ExportTraceServiceResponse()
    if partial:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    data: bytes = response.SerializeToString()
    return data


def encode_status(media: str, code: int, message: str) -> bytes:
    """A ``google.rpc.Status`` error body (``code``: a gRPC status code).

    Written by hand (two fields) so the server needs no googleapis package for it.
    """
    if media == MEDIA_JSON:
        return json.dumps({"code": code, "message": message}, ensure_ascii=False).encode()
    text = message.encode("utf-8")
    body = b""
    if code:
        body += b"\x08" + _varint(code & 0xFFFFFFFFFFFFFFFF)
    if text:
        body += b"\x12" + _varint(len(text)) + text
    return body


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        if number:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def decode_partial_success(body: bytes, media: str) -> tuple[int, str]:
    """(rejected spans, message) of an ``ExportTraceServiceResponse``; (0, "") when it has no
    ``partial_success`` or cannot be read (a 2xx answer is a success whatever its body)."""
    try:
        if media == MEDIA_JSON:
            partial = json.loads(body or b"{}").get("partialSuccess") or {}
            return int(partial.get("rejectedSpans") or 0), str(partial.get("errorMessage") or "")
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as service

        response = service.ExportTraceServiceResponse.FromString(body)
        partial = response.partial_success
        return partial.rejected_spans, partial.error_message
    except Exception:  # an answer we cannot read: the receiver said 2xx
        return 0, ""


def decode_status_message(body: bytes, media: str) -> str:
    """The message of a ``google.rpc.Status`` error body, else the start of the body as text."""
    text = body[:2000].decode("utf-8", "replace").strip()
    if media == MEDIA_JSON or body[:1] in (b"{", b"["):
        try:
            message = json.loads(body).get("message")
        except (ValueError, AttributeError):
            return text
        return message if isinstance(message, str) else text
    try:
        return _status_field(body) or text
    except (IndexError, ValueError):
        return text


def _status_field(body: bytes) -> str:
    """Field 2 (``message``) of a protobuf ``google.rpc.Status``, read by hand."""
    at = 0
    while at < len(body):
        tag, at = _read_varint(body, at)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            _, at = _read_varint(body, at)
        elif wire == 2:
            size, at = _read_varint(body, at)
            if field == 2:
                return body[at : at + size].decode("utf-8", "replace")
            at += size
        else:
            raise ValueError("not a Status")
    return ""


def _read_varint(body: bytes, at: int) -> tuple[int, int]:
    number = shift = 0
    while True:
        byte = body[at]
        number |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return number, at
        if shift > 63:
            raise ValueError("varint too long")
