"""``Retry-After`` read the one way every whyops HTTP client reads it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whyops.wire.retry import retry_after_seconds

NOW = 1445412470.0  # Wed, 21 Oct 2015 07:27:50 GMT


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("-5", 0.0),  # never a negative wait
        ("Wed, 21 Oct 2015 07:28:00 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:28:00 -0000", 10.0),  # no zone given: GMT, not local time
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # a date past: now
        ("nan", None),
        ("inf", None),
        ("1e400", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_seconds_or_an_http_date_else_none(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, now=NOW) == seconds


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=60))
def test_any_text_is_a_wait_of_zero_or_more_or_none(value: str) -> None:
    seconds = retry_after_seconds(value, now=NOW)
    assert seconds is None or 0.0 <= seconds < float("inf")
