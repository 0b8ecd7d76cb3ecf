"""Fuzzing the forwarder's inputs: whatever the store accepted reaches the endpoint (or is
dropped alone and counted, never holding the rest back), and the flag and answer parsers never
fail in an unexpected way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.conftest import Api, read_only
from tests.server.otlp_forward_receiver import Receiver
from whyops.otlp.outbound import otel_span_id, otel_trace_id
from whyops.server.otlp_export.sender import (
    BACKOFF_BASE_S,
    RETRY_AFTER_CAP_S,
    backoff_s,
    classify,
    parse_headers,
)
from whyops.server.run import RunningServer, start_in_thread
from whyops.server.settings import ServerSettings

if TYPE_CHECKING:
    from tests.conftest import StoreUnderTest


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.text(max_size=40), max_size=4))
def test_header_flags_parse_or_fail_with_a_value_error(pairs: list[str]) -> None:
    try:
        headers = parse_headers(pairs)
    except ValueError as exc:
        assert "--otlp-export-header" in str(exc)
        return
    for name, value in headers.items():
        assert name and not any(c in name for c in " :\r\n")
        assert not any(c in value for c in "\r\n\x00")
        assert value.isascii() and value.isprintable()  # a header HTTP can carry


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.one_of(st.none(), st.text(max_size=40)), st.integers(100, 599), st.binary(max_size=50))
def test_any_answer_is_sent_retried_split_or_dropped(
    retry_after: str | None, status: int, body: bytes
) -> None:
    headers = {} if retry_after is None else {"retry-after": retry_after}
    answer = classify(status, headers, body)
    assert answer.action in ("sent", "retry", "too_large", "drop")
    assert (answer.action == "sent") == (200 <= status < 300)
    assert answer.action != "drop" or 400 <= status < 500


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.integers(0, 40), st.one_of(st.none(), st.floats(0, 1e6)))
def test_a_retry_waits_at_least_the_retry_after_and_never_zero(
    attempt: int, hint: float | None
) -> None:
    """Retries are unbounded: ``Retry-After: 0`` answered every time must not make a tight loop."""
    wait = backoff_s(attempt, hint)
    assert BACKOFF_BASE_S / 2 <= wait <= RETRY_AFTER_CAP_S
    if hint is not None:
        assert wait >= min(hint, RETRY_AFTER_CAP_S)


_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))


def _nested(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _TEXT, _nested, max_leaves=8
)
_ID = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=40)
_EVENT = st.fixed_dictionaries(
    {
        "eventType": st.sampled_from(
            [
                "user_message",
                "llm_response",
                "tool_call_request",
                "tool_call_response",
                "tool_result",
                "error",
                "llm_thinking",
                "embedding_request",
            ]
        ),
        "traceId": _ID,
        "spanId": _ID,
        "agentName": _ID,
        "content": _JSON,
        "metadata": st.fixed_dictionaries(
            {"model": _ID, "provider": _ID, "tool": _ID},
            optional={
                "usage": st.dictionaries(_TEXT, st.integers(0, 10**6), max_size=3),
                "latencyMs": st.integers(0, 10**6),
                "status": _TEXT,
            },
        ),
    },
    optional={"parentSpanId": _ID, "spanKind": _ID, "spanName": _TEXT, "threadId": _ID},
)


@pytest.fixture(scope="module")
def forwarding(
    db_store: StoreUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, Api, Receiver]]:
    receiver = Receiver()
    db = db_store.new_db(Path(tmp_path_factory.mktemp("fuzz-forward")))
    settings_ = ServerSettings(
        port=0, db_path=db, api_keys=("whyops_fuzz",), otlp_export_url=receiver.url
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WHYOPS_SERVER_OTLP_EXPORT_WAIT", "0.2")  # open spans go soon too
        running = start_in_thread(settings_)
    api = Api(running)
    yield running, api, receiver
    api.close()
    running.stop()
    receiver.stop()


def _stored_keys(db: str) -> set[tuple[str, str]]:
    conn = read_only(db)
    try:
        rows = conn.execute("SELECT DISTINCT trace_id, span_id FROM events").fetchall()
        return {(otel_trace_id(trace), otel_span_id(span)) for trace, span in rows}
    finally:
        conn.close()


def _export(api: Api) -> dict[str, Any]:
    status: dict[str, Any] = api.get("/api/health").json()["otlpExport"]
    return status


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(_EVENT, min_size=1, max_size=8))
def test_whatever_the_store_accepts_reaches_the_endpoint(
    forwarding: tuple[RunningServer, Api, Receiver], events: list[dict[str, Any]]
) -> None:
    running, api, receiver = forwarding
    if not api.ingest(events).is_success:
        return  # refused by validation: nothing stored, nothing to forward
    stored = _stored_keys(running.db_path)

    def arrived() -> bool:
        received = {(s["traceId"], s["spanId"]) for s in receiver.accepted()}
        return _export(api)["droppedSpans"] > 0 or stored <= received

    receiver.wait_for(arrived, timeout=30)
    export = _export(api)
    assert export["droppedSpans"] == 0, export
    assert export["state"] == "ok", export
