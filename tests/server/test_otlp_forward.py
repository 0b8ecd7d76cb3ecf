"""``whyops serve --otlp-export``: everything stored reaches a real OTLP/HTTP receiver once, an
endpoint that is down or failing is caught up with, a refused request is counted and skipped,
and a kill -9 loses nothing acknowledged (on both stores)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import whyops
from tests.ports import refused_port
from tests.server.conftest import Api, event, read_only
from tests.server.otlp_forward_receiver import Receiver, attribute
from tests.server.served import Served
from whyops.server.run import RunningServer, start_in_thread
from whyops.server.settings import ServerSettings

if TYPE_CHECKING:
    from tests.conftest import StoreUnderTest

openai = pytest.importorskip("openai")
KEY = "whyops_forward=shop"
POISON = 0xDEAD


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.stop()


def _serve(db: str, url: str, **options: Any) -> RunningServer:
    settings = ServerSettings(
        port=0, db_path=db, api_keys=(KEY,), simulate=True, otlp_export_url=url, **options
    )
    return start_in_thread(settings)


@pytest.fixture
def api_for(db_store: StoreUnderTest, tmp_path: Path) -> Iterator[Any]:
    """``api_for(url)``: a fresh server forwarding to ``url``, and a client of it."""
    started: list[tuple[RunningServer, Api]] = []

    def start(url: str, **options: Any) -> Api:
        running = _serve(db_store.new_db(tmp_path), url, **options)
        started.append((running, Api(running)))
        return started[-1][1]

    yield start
    for running, api in started:
        api.close()
        running.stop()


def _stored_spans(db: str) -> int:
    conn = read_only(db)
    try:
        query = "SELECT count(*) FROM (SELECT DISTINCT project_id, trace_id, span_id FROM events) s"
        return int(conn.execute(query).fetchone()[0])
    finally:
        conn.close()


def _export(api: Api) -> dict[str, Any]:
    status: dict[str, Any] = api.get("/api/health").json()["otlpExport"]
    return status


def _span_ids(tag: int, count: int) -> list[str]:
    """OTLP-sized span ids (16 hex), kept as they are on the way out; ``tag`` leads them."""
    return [f"{tag:08x}{i:08x}" for i in range(count)]


def _spans_batch(tag: int, count: int) -> list[dict[str, Any]]:
    """``count`` complete spans of one event each (a model answer) in trace ``tag``."""
    trace = f"{tag:032x}"
    return [event("llm_response", trace, spanId=span) for span in _span_ids(tag, count)]


@whyops.tool
def lookup(order: str) -> dict[str, str]:
    return {"order": order, "status": "shipped"}


@whyops.agent
def support(order: str) -> dict[str, str]:
    return lookup(order)


def test_sdk_spans_and_a_proxied_call_reach_the_endpoint_once(
    api_for: Any, receiver: Receiver
) -> None:
    api = api_for(receiver.url)
    whyops.configure(api_key=api.key, base_url=api.running.base_url)
    try:
        support("A1")
        report = whyops.flush(10)
        assert (report.dropped, report.pending) == (0, 0), report
    finally:
        whyops.shutdown()
    client = openai.OpenAI(
        base_url=f"{api.running.base_url}/v1", api_key=api.key, max_retries=0,
        default_headers={"X-Trace-ID": f"proxied-{uuid.uuid4().hex[:8]}"},
    )  # fmt: skip
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Where is A1?"}]
    )
    deadline = time.monotonic() + 10
    while _stored_spans(api.running.db_path) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)  # the proxy records after answering
    stored = _stored_spans(api.running.db_path)
    assert stored == 3  # agent, tool, proxied model call
    receiver.wait_for(lambda: len(receiver.accepted()) >= stored)
    time.sleep(1)  # a few more passes: nothing is sent again
    spans = receiver.accepted()
    assert len(spans) == len({(s["traceId"], s["spanId"]) for s in spans}) == stored
    operations = Counter(attribute(s, "gen_ai.operation.name") for s in spans)
    assert operations["chat"] == 1 and operations["execute_tool"] == 1, operations
    chat = next(s for s in spans if attribute(s, "gen_ai.operation.name") == "chat")
    assert attribute(chat, "gen_ai.request.model") == "gpt-4o-mini"
    assert all(s["resource"]["whyops.project"] == {"stringValue": "shop"} for s in spans)
    receiver.wait_for(lambda: _export(api)["sentSpans"] == stored)  # counted after the answer
    export = _export(api)
    assert export["state"] == "ok" and export["lagEvents"] == 0, export
    assert export["sentSpans"] == stored and export["droppedSpans"] == 0


def test_an_endpoint_down_at_first_gets_every_span_once_when_it_comes_up(
    api_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="whyops.server.otlp_export")
    with refused_port() as port:
        api = api_for(f"http://127.0.0.1:{port}/v1/traces")
        for index in range(5):
            assert api.ingest(_spans_batch(0xB00 + index, 40)).is_success
        time.sleep(1.5)
        down = _export(api)
        assert down["state"] == "retrying" and down["lagEvents"] == 200, down
        assert "ConnectError" in down["lastError"], down
        assert down["lagSeconds"] > 1, down
    receiver = Receiver(port)
    try:
        receiver.wait_for(lambda: len(receiver.accepted()) >= 200)
        time.sleep(1)
        ids = receiver.accepted_ids()
        assert len(ids) == len(set(ids)) == 200
        receiver.wait_for(lambda: _export(api)["sentSpans"] == 200)  # counted after the answer
        up = _export(api)
        assert up["state"] == "ok" and up["lagEvents"] == 0 and up["sentSpans"] == 200, up
        lines = [r.getMessage() for r in caplog.records if r.name == "whyops.server.otlp_export"]
        # one line per state change, however many attempts were made while it was down
        assert sum("retrying" in line for line in lines) == 1, lines
        assert lines[-1].endswith("works"), lines
    finally:
        receiver.stop()


def test_a_failing_endpoint_is_retried_after_its_retry_after(
    api_for: Any, receiver: Receiver
) -> None:
    answers = iter([(503, {"Retry-After": "1"}), (429, {"Retry-After": "1"})])
    receiver.answer = lambda spans: next(answers, (200, {}))
    api = api_for(receiver.url)
    assert api.ingest(_spans_batch(0xAA, 10)).is_success
    receiver.wait_for(lambda: len(receiver.accepted()) >= 10)
    times = [r.at for r in receiver.received]
    assert [r.status for r in receiver.received] == [503, 429, 200]
    assert times[1] - times[0] >= 0.9 and times[2] - times[1] >= 0.9
    assert sorted(receiver.accepted_ids()) == _span_ids(0xAA, 10)


def test_a_refused_request_is_counted_and_skipped(api_for: Any, receiver: Receiver) -> None:
    def refuse_poison(spans: list[dict[str, Any]]) -> tuple[int, dict[str, str]]:
        poisoned = any(str(s["spanId"]).startswith(f"{POISON:08x}") for s in spans)
        return (400, {}) if poisoned else (200, {})

    receiver.answer = refuse_poison
    api = api_for(receiver.url)
    assert api.ingest(_spans_batch(POISON, 3)).is_success
    receiver.wait_for(lambda: any(r.status == 400 for r in receiver.received))
    assert api.ingest(_spans_batch(0x600D, 4)).is_success
    # the receiver records a request before it answers: wait for the forwarder to count it
    receiver.wait_for(lambda: _export(api)["sentSpans"] == 4)
    assert sorted(receiver.accepted_ids()) == _span_ids(0x600D, 4)
    export = _export(api)
    assert export["droppedSpans"] == 3 and export["sentSpans"] == 4, export
    assert export["lastError"].startswith("HTTP 400"), export
    assert [r.status for r in receiver.received] == [400, 200]  # the refused one never again


def test_a_request_too_large_is_split_and_a_single_span_too_large_dropped(
    api_for: Any, receiver: Receiver
) -> None:
    big = _span_ids(0xB16, 1)[0]
    receiver.answer = lambda spans: (
        (413, {}) if len(spans) > 2 or any(s["spanId"] == big for s in spans) else (200, {})
    )
    api = api_for(receiver.url)
    assert api.ingest([*_spans_batch(0x5B1, 7), *_spans_batch(0xB16, 1)]).is_success
    receiver.wait_for(lambda: _export(api)["droppedSpans"] == 1 and _export(api)["lagEvents"] == 0)
    assert sorted(receiver.accepted_ids()) == _span_ids(0x5B1, 7)
    assert _export(api)["sentSpans"] == 7


def test_a_restarted_server_sends_only_what_is_new(
    db_store: StoreUnderTest, tmp_path: Path, receiver: Receiver
) -> None:
    db = db_store.new_db(tmp_path)
    for round_ in range(2):
        running = _serve(db, receiver.url)
        api = Api(running)
        try:
            assert api.ingest(_spans_batch(0x700 + round_, 25)).is_success
            receiver.wait_for(lambda: len(receiver.accepted()) >= 25 * (round_ + 1))
        finally:
            api.close()
            running.stop()
    ids = receiver.accepted_ids()
    assert sorted(ids) == sorted(_span_ids(0x700, 25) + _span_ids(0x701, 25))


def test_a_span_sent_whole_is_sent_whole_again_after_a_restart(
    db_store: StoreUnderTest, tmp_path: Path, receiver: Receiver
) -> None:
    """Span a closes while span b, begun after it, still waits: the cursor stays before b,
    between a's two events. Read again from there after a restart, a is sent whole again
    (identical, so a receiver keeping either copy keeps all of it), never only its answer."""
    db, trace = db_store.new_db(tmp_path), f"{0x5A5:032x}"
    a, b = _span_ids(0x5A5, 2)
    question = {"messages": [{"role": "user", "content": "Where is order 7?"}]}
    batch = [
        event("user_message", trace, spanId=a, content=question,
              timestamp="2026-01-01T00:00:00.000000Z"),
        event("user_message", trace, spanId=b, content=question,
              timestamp="2026-01-01T00:00:01.000000Z"),
        event("llm_response", trace, spanId=a, content={"content": "Monday"},
              timestamp="2026-01-01T00:00:02.000000Z"),
    ]  # fmt: skip
    for round_ in range(2):
        running = _serve(db, receiver.url)
        api = Api(running)
        try:
            if round_ == 0:
                assert api.ingest(batch).is_success
            receiver.wait_for(lambda: receiver.accepted_ids().count(a) == round_ + 1)
            receiver.wait_for(lambda: _export(api)["lagEvents"] == 2)  # cursor before b
        finally:
            api.close()
            running.stop()
    first, again = (span for span in receiver.accepted() if span["spanId"] == a)
    assert again == first
    assert attribute(again, "gen_ai.input.messages"), again


def test_a_span_that_never_closes_is_sent_open_after_the_wait(
    api_for: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHYOPS_SERVER_OTLP_EXPORT_WAIT", "1")
    api = api_for(receiver.url)
    (span,) = _span_ids(0x0BE, 1)
    opening = event("user_message", f"{0x0BE:032x}", spanId=span, content={"messages": []})
    assert api.ingest([opening]).is_success
    time.sleep(0.5)
    assert receiver.accepted() == []  # waiting for its answer
    receiver.wait_for(lambda: receiver.accepted_ids() == [span], timeout=10)


def _post_until(served: Served, stop: threading.Event, acked: list[str]) -> None:
    index = 0
    while not stop.is_set():
        batch = _spans_batch(0x1000 + index, 20)
        try:
            if served.http.post("/api/events/ingest", json=batch).is_success:
                acked.extend(e["spanId"] for e in batch)
        except Exception:  # the server was killed mid-request: not acknowledged
            return
        index += 1
        time.sleep(0.01)


def _behind(served: Served) -> bool:
    """Whether events are stored that the endpoint has not confirmed yet."""
    lag: int = served.http.get("/api/health").json()["otlpExport"]["lagEvents"]
    return lag > 0


def test_kill_9_mid_stream_loses_nothing_acknowledged(
    db_store: StoreUnderTest, tmp_path: Path, receiver: Receiver
) -> None:
    db = db_store.new_db(tmp_path)
    receiver.delay_s = 0.5  # a request in flight, unconfirmed, when the server is killed
    served = Served(db, "--otlp-export", receiver.url)  # type: ignore[arg-type]
    acked: list[str] = []
    stop = threading.Event()
    poster = threading.Thread(target=_post_until, args=(served, stop, acked))
    poster.start()
    try:
        receiver.wait_for(lambda: len(receiver.received) >= 4 and _behind(served))
        os.kill(served.process.pid, signal.SIGKILL)
        served.process.wait(10)
    finally:
        stop.set()
        poster.join(10)
        if served.process.poll() is None:  # the wait above failed: not left running
            served.process.kill()
            served.process.wait(10)
    receiver.wait_for(lambda: receiver.in_flight == 0)  # the request answered to nobody
    before = list(receiver.received)
    restarted = Served(db, "--otlp-export", receiver.url)  # type: ignore[arg-type]
    try:
        receiver.wait_for(lambda: set(acked) <= set(receiver.accepted_ids()), timeout=60)
        time.sleep(1)
    finally:
        restarted.process.send_signal(signal.SIGTERM)
        try:
            restarted.process.wait(30)
        finally:
            restarted.process.kill()
    assert len(receiver.received) > len(before)  # killed mid-stream: the restart caught up
    counts = Counter(receiver.accepted_ids())
    repeated = {span for span, count in counts.items() if count > 1}
    assert repeated <= {s["spanId"] for s in before[-1].spans}  # only the unconfirmed request


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        (["--otlp-export", "ftp://127.0.0.1/v1/traces"], "--otlp-export 'ftp://"),
        (["--otlp-export", "http://127.0.0.1:9/v1/traces", "--otlp-export-header", "novalue"],
         "--otlp-export-header: 'novalue' is not name=value"),
        (["--otlp-export", "http://127.0.0.1:9/v1/traces", "--otlp-export-header", "x-key=a%0Ab"],
         "--otlp-export-header: header 'x-key' needs a token name and a printable ASCII value"),
    ],
)  # fmt: skip
def test_a_bad_export_flag_stops_the_start_with_one_line(
    tmp_path: Path, flag: list[str], message: str
) -> None:
    command = [sys.executable, "-m", "whyops.server.run", "--port", "0",
               "--db", str(tmp_path / "w.db"), *flag]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert message in done.stderr, done.stderr


def _spans_of(api: Api, trace: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while True:
        answer = api.get(f"/api/traces/{trace}/spans")
        spans = answer.json().get("spans", []) if answer.status_code == 200 else []
        if len(spans) >= count or time.monotonic() > deadline:
            return sorted(spans, key=lambda span: span["id"])
        time.sleep(0.1)


def test_a_second_whyops_server_receives_the_same_trace(
    db_store: StoreUnderTest, tmp_path: Path
) -> None:
    receiving = start_in_thread(
        ServerSettings(port=0, db_path=db_store.new_db(tmp_path, "b.db"), api_keys=("whyops_b",))
    )
    forwarding = _serve(
        db_store.new_db(tmp_path, "a.db"),
        f"{receiving.base_url}/v1/traces",
        otlp_export_headers=("authorization=Bearer%20whyops_b",),
    )
    source, copy = Api(forwarding), Api(receiving)
    try:
        whyops.configure(api_key=source.key, base_url=forwarding.base_url)
        try:
            support("B2")
            assert whyops.flush(10).pending == 0
        finally:
            whyops.shutdown()
        (thread,) = source.get("/api/threads").json()["threads"]
        sent = _spans_of(source, thread["traceId"], 2)
        received = _spans_of(copy, thread["traceId"], 2)
        fields = ("id", "parentSpanId", "kind", "name", "status", "inputs", "output")
        assert [{f: s[f] for f in fields} for s in received] == [
            {f: s[f] for f in fields} for s in sent
        ]
        assert {s["kind"] for s in sent} == {"agent", "tool"}
    finally:
        source.close()
        copy.close()
        forwarding.stop()
        receiving.stop()
