"""The HTTP exporter against a real server on 127.0.0.1: retries, rejections, a dead backend."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import pytest
from core_helpers import Sink, run_python
from hypothesis import given, settings
from hypothesis import strategies as st

import whyops
from whyops._tracer import TRACER
from whyops.export.batch import BatchProcessor
from whyops.export.http import (
    HttpExporter,
    backoff_delay,
    build_request,
    classify_response,
    retry_after_seconds,
)
from whyops.wire.records import EventRecord


def test_build_request_is_pure_and_complete() -> None:
    request = build_request("http://h/api/", "k-1", b"[]")
    assert (request.method, request.url, request.body) == (
        "POST",
        "http://h/api/events/ingest",
        b"[]",
    )
    assert request.headers["Authorization"] == "Bearer k-1"
    assert request.headers["Content-Type"] == "application/json"


def test_classify_response() -> None:
    assert classify_response(202, {}, b"").action == "ok"
    for status in (408, 429, 500, 502, 503, 504, 599):
        assert classify_response(status, {}, b"").action == "retry"
    assert classify_response(429, {"retry-after": "3"}, b"").delay == 3.0
    rejected = classify_response(400, {}, b'{"error":"Validation failed"}')
    assert rejected.action == "drop" and "Validation failed" in rejected.message
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None
    assert 0 <= backoff_delay(3, 0.5, 2.0, None) <= 2.0 and backoff_delay(0, 0.5, 2.0, 9.0) == 2.0


def _tools(n: int) -> None:
    @whyops.tool
    def work(i: int) -> int:
        return i

    for i in range(n):
        work(i)


def _configure(url: str, **extra: Any) -> HttpExporter:
    exporter = HttpExporter(
        url,
        "key-1",
        backoff_base=0.01,
        backoff_cap=0.05,
        **{k: v for k, v in extra.items() if k in ("max_retries",)},
    )
    options = {k: v for k, v in extra.items() if k not in ("max_retries",)}
    whyops.configure(exporter=exporter, flush_interval=0.05, **options)
    return exporter


def test_503_then_200_delivers_everything_exactly_once(sink: Sink, restore_tracer: Any) -> None:
    sink.script = [(503, {}, b"busy"), (503, {"Retry-After": "0"}, b"busy")]
    _configure(sink.url)
    _tools(300)
    report = whyops.flush(10)
    assert (report.delivered, report.dropped, report.pending) == (300, 0, 0)
    assert report.retried == 2
    keys = [e["idempotencyKey"] for e in sink.events]
    assert len(keys) == 600 and len(set(keys)) == 600
    assert set(sink.auth) == {"Bearer key-1"}


def test_retry_after_is_honoured(sink: Sink, restore_tracer: Any) -> None:
    sink.script = [(429, {"Retry-After": "0.3"}, b"slow down")]
    exporter = HttpExporter(sink.url, "k", backoff_base=0.01, backoff_cap=5)
    whyops.configure(exporter=exporter, flush_interval=60)
    _tools(1)
    started = time.monotonic()
    report = whyops.flush(5)
    assert time.monotonic() - started >= 0.3
    assert report.delivered == 1 and sink.requests == 2


def test_a_rejected_batch_is_dropped_and_the_reason_logged_once(
    sink: Sink, restore_tracer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sink.script = [(400, {}, b'{"error":"Validation failed","details":[]}')] * 2
    _configure(sink.url, max_batch_size=1)
    with caplog.at_level(logging.WARNING, logger="whyops"):
        _tools(3)
        report = whyops.flush(5)
    assert (report.delivered, report.dropped, report.retried) == (1, 2, 0)
    messages = [r.getMessage() for r in caplog.records if "not delivered" in r.getMessage()]
    assert len(messages) == 1 and "HTTP 400" in messages[0] and "Validation failed" in messages[0]


def test_a_dead_backend_costs_the_caller_nothing_and_drops_are_counted(
    restore_tracer: Any, refused_url: str
) -> None:
    _configure(refused_url + "/api", max_queue_size=1_000, max_batch_size=100, max_retries=1000)
    started = time.monotonic()
    _tools(20_000)
    emitted = time.monotonic() - started
    tracer = TRACER
    (processor,) = tracer._processors
    assert len(processor._queue) <= 1_000 + 1  # bounded memory
    started = time.monotonic()
    report = whyops.flush(0.3)
    # Bounded, not waiting out 1000 retries; generous for a loaded 2-core machine.
    assert time.monotonic() - started < 5.0
    assert report.timed_out and report.delivered == 0
    assert report.dropped + report.pending == 20_000
    assert report.dropped >= 20_000 - 1_000 - 100 - 1
    started = time.monotonic()
    final = whyops.shutdown(0.5)
    assert time.monotonic() - started < 5.0
    assert final.timed_out and final.delivered == 0
    assert final.dropped + final.pending == 20_000
    assert emitted < 20  # never waited on the network (a blocked caller would take minutes)


def test_import_does_not_load_the_http_stack() -> None:
    code = "import sys, whyops; print('httpx2' in sys.modules, 'whyops.export.http' in sys.modules)"
    out = run_python(code)
    assert out.stdout.split() == ["False", "False"]


def test_a_batch_the_server_finds_too_large_is_split(sink: Sink, restore_tracer: Any) -> None:
    sink.script = [(413, {}, b'{"error":"Payload too large"}')]
    exporter = HttpExporter(sink.url, "k", backoff_base=0.01, max_body_bytes=3_000)
    whyops.configure(exporter=exporter, flush_interval=60)
    _tools(20)
    report = whyops.flush(5)
    assert (report.delivered, report.dropped) == (20, 0)
    assert len(sink.events) == 40 and sink.requests > 3


class _BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def _hostile_content() -> dict[str, Any]:
    looped: dict[str, Any] = {"role": "user"}
    looped["self"] = looped
    return {
        "messages": [looped, {"role": "user", "content": "x" * 100}],
        "odd": {_BrokenRepr(), 1.5},
        "nan": float("nan"),
        (1, 2): b"\x00\x01",
        "api_key": "sk-not-for-the-server",
    }


def test_a_hostile_manual_event_does_not_sink_its_batch(sink: Sink, restore_tracer: Any) -> None:
    """Manual events take the capture rules on the flusher: cycles, odd objects, secrets."""
    _configure(sink.url)
    tracer = TRACER
    for n in range(3):
        tracer.submit(EventRecord(_manual(f"ok-{n}", {"messages": []})))
        if n == 1:
            tracer.submit(EventRecord(_manual("hostile", _hostile_content())))
    _tools(2)
    report = whyops.flush(5)
    assert (report.delivered, report.dropped, report.pending) == (6, 0, 0)
    manual = {e["idempotencyKey"]: e for e in sink.events if e["traceId"] == "manual"}
    assert sorted(manual) == ["hostile", "ok-0", "ok-1", "ok-2"]
    assert len(sink.events) == 4 + 2 * 2
    content = manual["hostile"]["content"]
    assert content["messages"][0] == {"role": "user", "self": "<cycle>"}
    assert content["nan"] == "nan" and content["(1, 2)"] == "<bytes len=2>"
    assert sorted(map(str, content["odd"])) == ["1.5", "<unrepresentable _BrokenRepr>"]
    assert content["api_key"] == "[redacted]"
    assert manual["ok-0"]["content"] == {"messages": []}


def _manual(key: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "eventType": "user_message",
        "traceId": "manual",
        "agentName": "a",
        "spanId": "c" * 16,
        "timestamp": "2026-11-27T08:00:00.000000Z",
        "idempotencyKey": key,
        "content": content,
    }


def test_a_value_json_refuses_costs_only_its_own_record(
    sink: Sink, restore_tracer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Big ints are captured as text; a record that still cannot be encoded is dropped alone."""
    from whyops import _internal_errors
    from whyops.wire.records import SpanKind, SpanRecord, TokenUsage

    _internal_errors._seen.discard("encode-record")
    _configure(sink.url)

    @whyops.tool
    def count(n: int) -> int:
        return n * 10

    count(10**5000)
    unencodable = SpanRecord(
        trace_id="t" * 32, span_id="b" * 16, parent_span_id=None, name="llm",
        kind=SpanKind.LLM, start_time_ns=1, end_time_ns=2, duration_ns=1,
        usage=TokenUsage(prompt_tokens=10**5000),
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="whyops"):
        TRACER.submit(unencodable)
        _tools(2)
        report = whyops.flush(5)
    assert (report.delivered, report.dropped, report.pending) == (3, 1, 0)
    names = [e["content"]["toolCalls"][0]["name"].rsplit(".", 1)[-1] for e in sink.events]
    assert sorted(names) == ["count", "count", "work", "work", "work", "work"]
    call = next(e for e in sink.events if e["eventType"] == "tool_call_response")
    assert call["content"]["toolCalls"][0]["arguments"] == {"n": "<int: 16610 bits>"}
    assert call["content"]["toolResults"] == "<int: 16613 bits>"
    assert sum("could not be encoded" in r.getMessage() for r in caplog.records) == 1


def test_one_oversized_record_in_ten_costs_only_itself(tmp_path: Any, restore_tracer: Any) -> None:
    """The server refuses one event as too large: the other nine are stored and counted."""
    import sqlite3

    from whyops.server.run import start_in_thread
    from whyops.server.settings import ServerSettings
    from whyops.wire.records import SpanKind, SpanRecord

    def span(n: int, size: int) -> SpanRecord:
        return SpanRecord(
            trace_id="t" * 32, span_id=f"{n + 1:016x}", parent_span_id=None, name=f"s{n}",
            kind=SpanKind.TOOL, start_time_ns=1, end_time_ns=2, duration_ns=1,
            inputs={"text": os.urandom(size).hex()},
        )  # fmt: skip

    db = tmp_path / "w.db"
    settings = ServerSettings(host="127.0.0.1", port=0, db_path=str(db), max_body_bytes=20_000)
    with start_in_thread(settings) as server:
        exporter = HttpExporter(server.base_url + "/api", str(server.api_key), backoff_base=0.01)
        whyops.configure(exporter=exporter, flush_interval=60, max_batch_size=10)
        tracer = TRACER
        for n in range(10):
            tracer.submit(span(n, 15_000 if n == 3 else 100))  # 30 kB of text in one event
        report = whyops.flush(10)
    assert (report.delivered, report.dropped, report.pending) == (9, 1, 0)
    assert report.last_error == "HTTP 413: event larger than the server accepts"
    assert not report.ok
    with sqlite3.connect(db) as connection:
        names = {row[0] for row in connection.execute("SELECT DISTINCT span_name FROM events")}
    assert names == {f"s{n}" for n in range(10) if n != 3}


def test_retries_are_counted_while_they_happen(sink: Sink, restore_tracer: Any) -> None:
    sink.script = [(503, {"Retry-After": "0.2"}, b"busy")] * 4
    _configure(sink.url, max_retries=10)
    _tools(1)
    processor = TRACER._processors[0]
    assert isinstance(processor, BatchProcessor)
    deadline = time.monotonic() + 5
    while processor.report().retried < 2:
        assert time.monotonic() < deadline, "retries not counted while under way"
        time.sleep(0.01)
    during = processor.report()
    assert during.pending == 1 and during.delivered == 0
    assert during.last_error == "HTTP 503: busy" and not during.ok
    report = whyops.flush(5)
    assert (report.delivered, report.retried, report.pending) == (1, 4, 0)
    assert report.ok and report.last_error is None


def test_big_bodies_are_gzip_compressed_and_stored_by_the_server(
    tmp_path: Any, restore_tracer: Any
) -> None:
    import gzip

    from whyops.export.http import GZIP_ABOVE
    from whyops.server.run import start_in_thread
    from whyops.server.settings import ServerSettings

    small = build_request("http://h/api", "k", b"[]")
    assert "Content-Encoding" not in small.headers and small.body == b"[]"
    body = b'[{"eventType":"user_message","content":"' + b"x" * GZIP_ABOVE + b'"}]'
    big = build_request("http://h/api", "k", body)
    assert big.headers["Content-Encoding"] == "gzip" and gzip.decompress(big.body) == body
    assert len(big.body) < len(body) // 10

    settings = ServerSettings(host="127.0.0.1", port=0, db_path=str(tmp_path / "w.db"))
    with start_in_thread(settings) as server:
        whyops.configure(
            api_key=server.api_key, analyse_url=server.base_url + "/api", flush_interval=60
        )

        @whyops.tool
        def echo(text: str) -> str:
            return text

        for i in range(50):
            echo(f"{i} " + "words " * 400)
        report = whyops.flush(10)
        assert (report.delivered, report.dropped, report.pending) == (50, 0, 0) and report.ok


def test_a_wrong_api_key_is_not_ok_and_says_why(tmp_path: Any, restore_tracer: Any) -> None:
    from whyops.server.run import start_in_thread
    from whyops.server.settings import ServerSettings

    settings = ServerSettings(host="127.0.0.1", port=0, db_path=str(tmp_path / "w.db"))
    with start_in_thread(settings) as server:
        url = server.base_url + "/api"
        whyops.configure(api_key="not-the-key", analyse_url=url, flush_interval=60)
        _tools(2)
        report = whyops.flush(10)
        assert (report.delivered, report.dropped, report.pending) == (0, 2, 0)
        assert not report.ok
        assert report.last_error == "HTTP 401: Unauthorized: Invalid API key"
        exit_code = (
            f"import whyops\nwhyops.configure(api_key='not-the-key', analyse_url={url!r})\n"
            "whyops.tool(lambda: 1)()\n"
        )
        result = run_python(exit_code)
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stderr.splitlines() if "not delivered to" in x)
    assert f"to {url}/events/ingest (HTTP 401: Unauthorized: Invalid API key)" in line


@settings(max_examples=300, deadline=None)
@given(
    status=st.integers(100, 599),
    body=st.one_of(
        st.binary(max_size=3000),
        st.builds(
            lambda error, details: json.dumps({"error": error, "details": details}).encode(),
            st.one_of(st.text(max_size=50), st.integers(), st.none()),
            st.one_of(st.none(), st.lists(st.text(max_size=10), max_size=3)),
        ),
    ),
)
def test_any_server_answer_is_classified_with_a_readable_reason(status: int, body: bytes) -> None:
    outcome = classify_response(status, {}, body)
    assert outcome.action in ("ok", "retry", "drop")
    if outcome.action != "ok":
        assert outcome.message.startswith(f"HTTP {status}: ")
        assert len(outcome.message) < 2100


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=10_000), gzip_above=st.one_of(st.none(), st.integers(0, 5000)))
def test_a_request_body_is_sent_as_is_or_gzip_of_itself(
    body: bytes, gzip_above: int | None
) -> None:
    import gzip

    request = build_request("http://h/api", "k", body, gzip_above)
    compressed = gzip_above is not None and len(body) > gzip_above
    assert (request.headers.get("Content-Encoding") == "gzip") is compressed
    assert (gzip.decompress(request.body) if compressed else request.body) == body


def test_base_exceptions_from_captured_values_never_stop_delivery(
    sink: Sink, restore_tracer: Any
) -> None:
    import asyncio

    class Hostile:
        def __init__(self, exc: BaseException) -> None:
            self.exc = exc

        def __repr__(self) -> str:
            raise self.exc

        __str__ = __repr__

    _configure(sink.url)

    @whyops.tool
    def work(x: Any) -> int:
        return 1

    for exc in (asyncio.CancelledError(), KeyboardInterrupt(), SystemExit(2)):
        work(Hostile(exc))
        work("fine")
    assert whyops.flush(5).delivered == 6
    work("after")
    report = whyops.flush(5)
    assert (report.delivered, report.dropped, report.pending) == (7, 0, 0) and report.ok
    arguments = [
        e["content"]["toolCalls"][0]["arguments"]["x"]
        for e in sink.events
        if e["eventType"] == "tool_call_request"
    ]
    assert arguments[1::2] == ["fine"] * 3 and arguments[-1] == "after"
    assert all(a.startswith("<unrepresentable ") for a in arguments[0:6:2])
