"""A run exported by the real OpenTelemetry SDK over OTLP, on the web page in a real headless
Chromium: the tree, the model calls' usage, messages and tool calls, the tool, the failure."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from webdata import open_page

from tests.otlp.otel_sdk_support import (
    ANSWER,
    emit_support_run,
    fetch_spans,
    provider_for,
)

pytestmark = pytest.mark.browser
otlp_http = pytest.importorskip(
    "opentelemetry.exporter.otlp.proto.http.trace_exporter", reason="the dev extra is not installed"
)
expect: Any = pytest.importorskip("playwright.sync_api").expect


def test_an_exported_run_opens_as_a_tree_with_details(server, page):
    exporter = otlp_http.OTLPSpanExporter(
        endpoint=f"{server.base_url}/v1/traces",
        headers={"Authorization": f"Bearer {server.api_key}"},
        compression=otlp_http.Compression.Gzip,
    )
    provider = provider_for(exporter)
    ids = emit_support_run(provider.get_tracer("checkout"), conversation_id=uuid.uuid4().hex)
    provider.shutdown()
    fetch_spans(server.base_url, server.api_key, ids.trace_id, 5)

    open_page(page, server, f"/trace/{ids.trace_id}")
    rows = page.locator(".span-row[data-span-id]")
    expect(rows).to_have_count(5)
    detail = page.locator(".detail-pane")
    expect(detail.locator("h2")).to_have_text("order-support")

    page.locator(f'.span-row[data-span-id="{ids.ask}"]').click()
    expect(detail.locator("h2")).to_have_text("chat gpt-4o-mini")
    expect(detail.locator(".usage")).to_contain_text("31")
    expect(detail.locator(".tool-calls")).to_contain_text("get_order")
    expect(detail.locator(".messages")).to_contain_text("Where is order 1234?")

    page.locator(f'.span-row[data-span-id="{ids.answer}"]').click()
    expect(detail).to_contain_text(ANSWER)

    page.locator(f'.span-row[data-span-id="{ids.tool}"]').click()
    expect(detail.locator("h2")).to_have_text("get_order")
    expect(detail).to_contain_text("shipped")

    page.locator(".span-row.is-error").click()
    expect(detail.locator("h2")).to_have_text("SELECT orders")
    expect(detail).to_contain_text("KeyError")
