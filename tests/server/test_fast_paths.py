"""The fast paths for the fast event shape agree with the general ones they short-cut."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whyops.server import validation
from whyops.server.timeutil import parse_timestamp

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-27T07:03:48.123456Z", "2026-11-27T07:03:48Z", "2026-11-27T07:03:48.1Z",
        "2024-02-29T23:59:59.999999Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z",
    ],
)  # fmt: skip
def test_common_timestamps_keep_their_text_and_instant(text: str) -> None:
    expected = (datetime.fromisoformat(text) - _EPOCH) // timedelta(microseconds=1)
    assert parse_timestamp(text) == (text, expected)
    assert parse_timestamp(text) == (text, expected)  # again, from the cache of seconds


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-29T00:00:00Z", "0000-01-01T00:00:00Z", "2026-01-01T24:00:00Z",
        "2026-01-01T23:60:00Z", "2026-01-01T23:59:60Z", "2026-13-01T00:00:00Z",
        "\u0662\u0660\u0662\u0666-01-01T00:00:00Z", "2026-01-01T00:00:00.\u0661Z",
        "2026-01-01T00:00:00ZZ", "2026-01-01T00:00:00",
    ],
)  # fmt: skip
def test_impossible_or_zoneless_times_are_refused(text: str) -> None:
    assert parse_timestamp(text) is None


def test_long_fractions_and_offsets_take_the_general_path() -> None:
    assert parse_timestamp("2026-01-01T00:00:00.1234567Z") == (
        "2026-01-01T00:00:00.1234567Z",
        1767225600123456,
    )
    assert parse_timestamp("2026-01-01T02:00:00.5+02:00") == (
        "2026-01-01T00:00:00.500000Z",
        1767225600500000,
    )


_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 2**54), st.floats(), st.text(max_size=3),
    st.sampled_from(["", "x" * 129, "x" * 256, "2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00",
                     {}, {"model": "m", "provider": "p", "tool": "t"}, [1]]),
)  # fmt: skip
_FIELDS = [
    "eventType", "traceId", "agentName", "spanId", "stepId", "parentStepId", "timestamp",
    "content", "metadata", "idempotencyKey", "externalUserId", "parentSpanId", "spanKind",
    "spanName", "threadId",
]  # fmt: skip


def _event(kind: str) -> dict[str, Any]:
    return {
        "eventType": kind, "traceId": "t", "agentName": "a", "spanId": "s1", "stepId": 2,
        "timestamp": "2026-11-27T07:03:48.123456Z", "idempotencyKey": "k", "content": {"x": 1},
        "metadata": {"model": "m", "provider": "p", "tool": "t", "usage": {"totalTokens": 3}},
    }  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(sorted(validation.EVENT_TYPES)),
    st.dictionaries(st.sampled_from(_FIELDS), _VALUES, max_size=3),
    st.sampled_from([None, "tool_call_response"]),
)
def test_fast_path_rows_are_the_rows_the_general_path_builds(
    kind: str, changes: dict[str, Any], forced: str | None
) -> None:
    item = {**_event(kind), **changes}
    context = validation._Context(1795763028123456, "header-user", forced)
    fast = validation._fast_path_row(item, 0, context)
    issues = validation.Issues()
    checked = validation._checked_row(item, 0, "", context, issues)
    if fast is not None:  # accepted by the fast path: accepted, alike, by the general one
        assert checked is not None and not issues
        assert attrs.asdict(fast, recurse=False) == attrs.asdict(checked, recurse=False)
