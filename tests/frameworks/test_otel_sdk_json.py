"""The OpenTelemetry SDK's OTLP/JSON exporter (opentelemetry-exporter-otlp-json-http, pinned
in scripts/frameworks.sh: its release line clashes with the main suite's protobuf exporter)
pointed at `whyops serve`, gzip on, the key in `X-API-Key`: the run reads back as the protobuf
exporter's does (tests/otlp/test_otel_sdk.py)."""

from __future__ import annotations

import uuid

from tests.otlp.otel_sdk_support import (
    check_support_run,
    emit_support_run,
    fetch_spans,
    provider_for,
    recording,
)

from .support import require

json_http = require("opentelemetry.exporter.otlp.json.http.trace_exporter")
otlp_common = require("opentelemetry.exporter.otlp.common.http")


def test_json_exporter_gzip_with_an_api_key_header(server):
    from opentelemetry.sdk.trace.export import SpanExportResult

    exporter = json_http.OTLPSpanExporter(
        endpoint=f"{server.base_url}/v1/traces",
        headers={"X-API-Key": server.api_key},
        compression=otlp_common.Compression.GZIP,
    )
    recorder = recording(exporter)
    provider = provider_for(recorder)
    ids = emit_support_run(provider.get_tracer("checkout"), conversation_id=uuid.uuid4().hex)
    assert provider.force_flush(10_000)
    provider.shutdown()
    assert recorder.results and set(recorder.results) == {SpanExportResult.SUCCESS}
    check_support_run(fetch_spans(server.base_url, server.api_key, ids.trace_id, 5), ids)
