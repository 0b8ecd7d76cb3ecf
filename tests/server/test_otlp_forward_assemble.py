"""The forwarder's span assembly: spans sent once and whole, the cursor never past a span that
still waits for its closing event (pure: no server)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from whyops.server.otlp_export.assemble import Assembler
from whyops.server.otlp_export.source import StoredEvent

SECOND = 1_000_000


def stored(seq: int, span: str, event_type: str, created_s: float = 0.0) -> StoredEvent:
    event: dict[str, Any] = {"eventType": event_type, "traceId": "t1", "spanId": span}
    return StoredEvent(seq, "p1", int(created_s * SECOND), event)


def seqs(groups: list[list[StoredEvent]]) -> list[list[int]]:
    return [[e.seq for e in group] for group in groups]


def test_a_closed_span_is_ready_at_once_and_the_cursor_moves_past_it() -> None:
    assembler = Assembler(open_wait_us=30 * SECOND)
    assembler.add([stored(1, "a", "user_message"), stored(2, "a", "llm_response")])
    assert seqs(assembler.take_ready(now_us=0)) == [[1, 2]]
    assert assembler.safe_position() == 2
    assert assembler.waiting == 0


def test_a_span_read_in_two_windows_is_sent_whole_and_holds_the_cursor_until_then() -> None:
    assembler = Assembler(open_wait_us=30 * SECOND)
    assembler.add([stored(1, "a", "tool_call_request"), stored(2, "b", "tool_call_request"),
                   stored(3, "b", "tool_call_response")])  # fmt: skip
    assert seqs(assembler.take_ready(now_us=SECOND)) == [[2, 3]]
    assert assembler.safe_position() == 0  # span a (seq 1) still waits
    assembler.add([stored(4, "a", "tool_call_response")])
    assert seqs(assembler.take_ready(now_us=SECOND)) == [[1, 4]]
    assert assembler.safe_position() == 4


def test_a_span_that_never_closes_is_sent_open_after_the_wait() -> None:
    assembler = Assembler(open_wait_us=30 * SECOND)
    assembler.add([stored(1, "a", "tool_result", created_s=100)])
    assert assembler.take_ready(now_us=129 * SECOND) == []
    assert assembler.oldest_waiting_us() == 100 * SECOND
    assert seqs(assembler.take_ready(now_us=131 * SECOND)) == [[1]]
    assert assembler.safe_position() == 1


def test_past_the_waiting_limit_the_oldest_spans_go_open() -> None:
    assembler = Assembler(open_wait_us=30 * SECOND, max_waiting=2)
    assembler.add([stored(n, f"s{n}", "user_message") for n in (1, 2, 3, 4)])
    assert seqs(assembler.take_ready(now_us=0)) == [[1], [2]]
    assert assembler.safe_position() == 2


def test_after_a_resume_a_span_begun_before_it_is_completed_from_the_store() -> None:
    """Resumed at 1 (read up to 3 then): span a (seq 1 and 3) was sent whole, span b (seq 2)
    waited. Read again, a's answer is not sent alone: its opening is fetched back first."""
    assembler = Assembler(open_wait_us=30 * SECOND, read_position=1, resumed_read=3)
    assembler.add([stored(2, "b", "user_message"), stored(3, "a", "llm_response"),
                   stored(4, "c", "llm_response")])  # fmt: skip
    assert assembler.incomplete == [("p1", "t1", "a")]  # c begins past what was read before
    assembler.complete([stored(1, "a", "user_message")])
    assert seqs(assembler.take_ready(now_us=0)) == [[1, 3], [4]]
    assert assembler.incomplete == [] and assembler.safe_position() == 1  # b still waits


# Spans of 1 to 3 events, the last one closing or not, interleaved in seq order, read in
# windows of any size, the clock moving on between reads.
_span = st.tuples(st.integers(1, 3), st.booleans())


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    spans=st.lists(_span, min_size=1, max_size=12),
    order_seed=st.randoms(use_true_random=False),
    windows=st.lists(st.integers(1, 6), min_size=1, max_size=30),
    steps_s=st.lists(st.integers(0, 40), min_size=1, max_size=30),
)
def test_every_event_is_sent_once_and_the_cursor_never_passes_a_waiting_span(
    spans: list[tuple[int, bool]], order_seed: Any, windows: list[int], steps_s: list[int]
) -> None:
    slots = [index for index, (size, _) in enumerate(spans) for _ in range(size)]
    order_seed.shuffle(slots)
    events, seen = [], [0] * len(spans)
    for seq, index in enumerate(slots, start=1):
        size, closes = spans[index]
        seen[index] += 1
        kind = "llm_response" if closes and seen[index] == size else "user_message"
        events.append(stored(seq, f"s{index}", kind, created_s=seq))
    assembler = Assembler(open_wait_us=30 * SECOND)
    sent: list[list[StoredEvent]] = []
    at, step = 0, 0
    while at < len(events):
        window = windows[step % len(windows)]
        assembler.add(events[at : at + window])
        at += window
        now = (events[min(at, len(events)) - 1].created_us) + steps_s[step % len(steps_s)] * SECOND
        sent += assembler.take_ready(now)
        step += 1
        position = assembler.safe_position()
        sent_seqs = {e.seq for group in sent for e in group}
        assert all(seq in sent_seqs for seq in range(1, position + 1))  # nothing skipped
    sent += assembler.take_ready(now_us=10**15)
    all_sent = [e.seq for group in sent for e in group]
    assert sorted(all_sent) == list(range(1, len(events) + 1))  # each event exactly once
    assert all(len({e.span_key for e in group}) == 1 for group in sent)
    assert assembler.safe_position() == len(events)


def test_a_body_of_several_projects_is_the_one_request_holding_them_all() -> None:
    """Each project's request is encoded alone and the bytes joined: protobuf reads that as
    one request with every project's resource, in order."""
    from whyops.otlp.outbound import request_of
    from whyops.otlp.proto import MEDIA_PROTOBUF, decode_request, encode_request
    from whyops.server.otlp_export.encode import PROJECT_ATTRIBUTE, SERVICE_NAME, request_body

    spans = [
        [StoredEvent(1, "p1", 0, e.event) for e in (stored(1, "a", "user_message"),)],
        [StoredEvent(2, "p2", 0, e.event) for e in (stored(2, "b", "user_message"),)],
        [StoredEvent(3, "p1", 0, e.event) for e in (stored(3, "c", "user_message"),)],
    ]
    projects = {"p1": "first", "p2": "second"}
    joined = request_body(spans, projects)
    expected = {"resourceSpans": []}
    for project, events in (("p1", [spans[0][0], spans[2][0]]), ("p2", [spans[1][0]])):
        request = request_of(
            [s.event for s in events],
            service_name=SERVICE_NAME,
            resource={PROJECT_ATTRIBUTE: projects[project]},
            include_open=True,
        )
        expected["resourceSpans"] += request["resourceSpans"]
    assert decode_request(joined, MEDIA_PROTOBUF) == decode_request(
        encode_request(expected), MEDIA_PROTOBUF
    )
    assert len(decode_request(joined, MEDIA_PROTOBUF)["resourceSpans"]) == 2
