"""whyops.otlp.inbound: which spans are refused, how each reason names its span, and what
does not cost a span."""

from __future__ import annotations

from tests.otlp.inbound_support import otel_span, request_of, translated
from whyops.otlp.inbound import translate

ROOT, LLM, OTHER = "1111111111111111", "2222222222222222", "4444444444444444"


def _rejection(span: dict, problem: str) -> None:
    good = otel_span(ROOT, "ok", {})
    result = translate(request_of(good, span))
    assert (result.spans, result.rejected) == (2, 1)
    assert {e["spanId"] for e in result.events} == {ROOT}
    assert len(result.errors) == 1 and problem in result.errors[0], result.errors


def test_spans_with_bad_ids_are_rejected_naming_span_and_field() -> None:
    _rejection(otel_span(LLM, "chat", {}, trace="abc"), "traceId must be 32 hex characters")
    _rejection(otel_span(LLM, "chat", {}, trace="0" * 32), "traceId must be 32 hex")
    _rejection(otel_span("12345678", "chat", {}), "span 12345678 (chat): spanId must be 16 hex")
    _rejection(otel_span("0" * 16, "chat", {}), "spanId must be 16 hex")
    _rejection(otel_span(LLM, "chat", {}, parent="xyz"), "parentSpanId must be 16 hex")


def test_spans_with_too_many_or_too_deep_attributes_or_bad_times_are_rejected() -> None:
    many = otel_span(LLM, "big", {f"k{n}": n for n in range(1025)})
    _rejection(many, "has 1025 attributes (at most 1024)")
    deep: dict = {"stringValue": "leaf"}
    for _ in range(40):
        deep = {"kvlistValue": {"values": [{"key": "k", "value": deep}]}}
    nested = otel_span(LLM, "deep", {})
    nested["attributes"] = [{"key": "payload", "value": deep}]
    _rejection(nested, "attribute 'payload' nests deeper than 32 levels")
    backwards = otel_span(LLM, "late", {})
    backwards["endTimeUnixNano"] = backwards["startTimeUnixNano"] - 1
    _rejection(backwards, "endTimeUnixNano is before startTimeUnixNano")
    _rejection(otel_span(LLM, "zero", {}, start=0), "startTimeUnixNano must be a time")


def test_a_thousand_bad_spans_keep_ten_reasons_and_count_all() -> None:
    bad = [otel_span(f"{n:08x}", "bad", {}) for n in range(1000)]
    result = translate(request_of(*bad))
    assert (result.spans, result.rejected, len(result.errors), result.events) == (
        1000,
        1000,
        10,
        [],
    )


def test_exactly_1024_attributes_are_accepted() -> None:
    run = translated(otel_span(OTHER, "wide", {f"k{n}": n for n in range(1024)}))
    assert run.rejected == 0
    assert len(run.events[-1]["metadata"]["attributes"]) == 1024 + 2  # + service, scope


def test_an_odd_resource_attribute_costs_no_span() -> None:
    """The resource is read for its service name only; a value of another shape beside it
    (not a span's own attribute) refuses nothing."""
    request = request_of(otel_span(OTHER, "GET /orders", {}))
    odd = [{"key": "host.tags", "value": {"arrayValue": "not a list"}}]
    request["resourceSpans"][0]["resource"]["attributes"] += odd
    translation = translate(request)
    assert (translation.rejected, translation.errors) == (0, [])
    assert translation.events[0]["agentName"] == "checkout"
    closing = translation.events[-1]
    assert closing["metadata"]["attributes"]["service.name"] == "checkout"
