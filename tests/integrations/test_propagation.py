"""Reading and writing the trace headers that carry a trace between services."""

from __future__ import annotations

import pytest

from whyops.integrations._propagation import (
    RemoteContext,
    extract,
    extract_from_environ,
    extract_from_pairs,
    parse_traceparent,
)
from whyops.wire.headers import outgoing_headers

W3C_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
W3C_PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{W3C_TRACE}-{W3C_PARENT}-01"


def headers(**values: str):
    table = {k.replace("_", "-").lower(): v for k, v in values.items()}
    return table.get


def test_whyops_headers_give_trace_thread_parent_and_user():
    remote = extract(
        headers(
            x_trace_id="order-run-42",
            x_thread_id="thread-7",
            x_parent_span_id="A1B2C3D4E5F60718",
            x_external_user_id="user-9",
        )
    )
    assert remote == RemoteContext("order-run-42", "thread-7", "a1b2c3d4e5f60718", "user-9")


def test_thread_id_alone_names_the_trace():
    remote = extract(headers(x_thread_id="thread-7"))
    assert remote.trace_id == "thread-7"
    assert remote.thread_id is None  # same as the trace id: not repeated


def test_traceparent_gives_trace_and_parent():
    remote = extract(headers(traceparent=TRACEPARENT))
    assert (remote.trace_id, remote.parent_span_id) == (W3C_TRACE, W3C_PARENT)


def test_whyops_trace_header_wins_over_traceparent_and_drops_its_foreign_parent():
    remote = extract(headers(x_trace_id="mine", traceparent=TRACEPARENT))
    assert remote.trace_id == "mine"
    assert remote.parent_span_id is None


def test_explicit_parent_wins_over_traceparent_parent():
    remote = extract(headers(traceparent=TRACEPARENT, x_parent_span_id="1111111111111111"))
    assert remote.parent_span_id == "1111111111111111"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        f"ff-{W3C_TRACE}-{W3C_PARENT}-01",
        f"00-{'0' * 32}-{W3C_PARENT}-01",
        f"00-{W3C_TRACE}-{'0' * 16}-01",
        f"00-{W3C_TRACE}-{W3C_PARENT}-01-extra",
        f"00-{W3C_TRACE[:-1]}-{W3C_PARENT}-01",
    ],
)
def test_invalid_traceparent_is_ignored(value):
    assert parse_traceparent(value) is None
    assert extract(headers(traceparent=value)) == RemoteContext()


def test_future_traceparent_versions_may_append_fields():
    assert parse_traceparent(f"01-{W3C_TRACE}-{W3C_PARENT}-01-more") == (W3C_TRACE, W3C_PARENT)


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "tab\tin", "ünïcode"])
def test_malformed_ids_are_ignored_not_raised(bad):
    remote = extract(headers(x_trace_id=bad, x_parent_span_id="not-hex"))
    assert remote == RemoteContext()


def test_parent_without_trace_is_dropped():
    assert extract(headers(x_parent_span_id="1111111111111111")).parent_span_id is None


def test_asgi_pairs_and_wsgi_environ_read_the_same_headers():
    pairs = [(b"X-Trace-Id", b"t-1"), (b"x-parent-span-id", b"2222222222222222")]
    environ = {"HTTP_X_TRACE_ID": "t-1", "HTTP_X_PARENT_SPAN_ID": "2222222222222222"}
    expected = RemoteContext("t-1", None, "2222222222222222", None)
    assert extract_from_pairs(pairs) == expected
    assert extract_from_environ(environ) == expected


def test_outgoing_headers_include_traceparent_only_for_w3c_trace_ids():
    w3c = outgoing_headers(W3C_TRACE, W3C_PARENT, external_user_id="u")
    assert w3c == {
        "X-Trace-ID": W3C_TRACE,
        "X-Thread-ID": W3C_TRACE,
        "X-Parent-Span-ID": W3C_PARENT,
        "traceparent": TRACEPARENT,
        "X-External-User-Id": "u",
    }
    named = outgoing_headers("order-run-42", W3C_PARENT, thread_id="thread-7")
    assert named == {
        "X-Trace-ID": "order-run-42",
        "X-Thread-ID": "thread-7",
        "X-Parent-Span-ID": W3C_PARENT,
    }
    assert outgoing_headers(None, W3C_PARENT) == {}


def test_outgoing_then_incoming_round_trips():
    sent = outgoing_headers(W3C_TRACE, W3C_PARENT, thread_id="thread-7", external_user_id="u")
    lowered = {k.lower(): v for k, v in sent.items()}
    assert extract(lowered.get) == RemoteContext(W3C_TRACE, "thread-7", W3C_PARENT, "u")
