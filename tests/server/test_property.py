"""Property: thousands of generated bad payloads, never a 500, never a partial write."""

from __future__ import annotations

import importlib.util
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.conftest import Api, read_only

SETTINGS = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=6,
)
EVENT_TYPES = [
    "user_message", "llm_response", "llm_thinking", "embedding_request", "embedding_response",
    "tool_call", "tool_call_request", "tool_call_response", "tool_result", "error",
]  # fmt: skip
FIELDS = [
    "eventType", "traceId", "agentName", "spanId", "stepId", "parentStepId", "timestamp",
    "content", "metadata", "idempotencyKey", "externalUserId", "parentSpanId", "spanKind",
    "spanName", "threadId",
]  # fmt: skip


@st.composite
def near_valid_events(draw: st.DrawFn) -> dict[str, Any]:
    """A plausible event with a few fields dropped or replaced by arbitrary JSON."""
    item: dict[str, Any] = {
        "eventType": draw(st.sampled_from(EVENT_TYPES)),
        "traceId": "prop-" + draw(st.text(min_size=1, max_size=6)),
        "agentName": "prop-agent",
        "metadata": draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "tool": st.text(max_size=5) | json_values,
                    "model": st.text(max_size=5),
                    "provider": st.text(max_size=5),
                    "usage": st.dictionaries(
                        st.sampled_from(["promptTokens", "totalTokens"]), json_values
                    ),
                },
            )
        ),
        "timestamp": draw(
            st.sampled_from(
                ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00+05:00", "2026-13-01", "x"]
            )
        ),
    }
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        if draw(st.booleans()):
            item.pop(field, None)
        else:
            item[field] = draw(json_values)
    return item


def _bodies() -> st.SearchStrategy[bytes]:
    documents = st.one_of(
        json_values,
        near_valid_events(),
        st.lists(near_valid_events(), min_size=1, max_size=5),
        st.lists(st.one_of(near_valid_events(), json_values), min_size=1, max_size=5),
    )
    encoded = documents.map(lambda doc: json.dumps(doc).encode())
    return st.one_of(encoded, encoded, encoded, st.binary(max_size=64))


class Rows:
    """Counts rows written since a mark, on one read-only connection to the server's file."""

    def __init__(self, db_path: str) -> None:
        self.conn = read_only(db_path)

    def mark(self) -> int:
        return int(self.conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

    def since(self, mark: int) -> int:
        query = "SELECT count(*) FROM events WHERE seq > ?"
        return int(self.conn.execute(query, (mark,)).fetchone()[0])


@pytest.fixture
def rows(api: Api) -> Iterator[Rows]:
    counter = Rows(api.running.db_path)
    yield counter
    counter.conn.close()


@pytest.mark.slow
@SETTINGS
@given(path=st.sampled_from(["/api/events/ingest", "/api/events", "/api/events/tool-result"]),
       body=_bodies())  # fmt: skip
def test_ingest_routes_never_500_nor_write_partially(
    api: Api, rows: Rows, path: str, body: bytes
) -> None:
    body = _fresh_idempotency_keys(body)
    mark = rows.mark()
    response = api.post(path, content=body)
    written = rows.since(mark)
    assert response.status_code in (201, 202, 400, 413), response.text
    assert isinstance(response.json(), (dict, list))
    if response.status_code >= 400:
        assert written == 0, response.text
        assert "error" in response.json()
    else:
        assert written == _events_stored_for(json.loads(body), path), response.text


def _fresh_idempotency_keys(body: bytes) -> bytes:
    """Posted idempotency keys made unique across examples, so nothing is skipped as a
    duplicate and every accepted item must be stored (deduplication has its own tests)."""
    try:
        document = json.loads(body)
    except ValueError:
        return body
    suffix = uuid.uuid4().hex
    for item in document if isinstance(document, list) else [document]:
        if isinstance(item, dict) and isinstance(item.get("idempotencyKey"), str):
            item["idempotencyKey"] = f"{item['idempotencyKey']}-{suffix}"
    return json.dumps(document).encode()


def _events_stored_for(document: Any, path: str) -> int:
    """Every accepted item is stored; a legacy ``tool_call`` item as two events."""
    items = document if isinstance(document, list) else [document]
    if path.endswith("/tool-result"):  # the route forces tool_call_response
        return len(items)
    return sum(2 if item.get("eventType") == "tool_call" else 1 for item in items)


roles = st.sampled_from(["user", "assistant", "tool", "x"]) | json_values
messages = st.fixed_dictionaries({"role": roles, "content": st.text(max_size=20) | json_values})
proxy_bodies = st.one_of(
    json_values.map(lambda doc: json.dumps(doc).encode()),
    st.fixed_dictionaries(
        {"model": st.sampled_from(["gpt-4o-mini", "claude-sonnet-4-5"]) | json_values},
        optional={
            "messages": st.lists(
                messages | json_values,
                max_size=3,
            ) | json_values,
            "max_tokens": st.integers(-5, 100) | json_values,
            "stream": st.booleans() | json_values,
            "tools": json_values,
        },
    ).map(lambda doc: json.dumps(doc).encode()),
    st.binary(max_size=64),
)  # fmt: skip


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("whyops.server.proxy") is None, reason="the proxy is not installed"
)
@settings(SETTINGS, max_examples=300)
@given(path=st.sampled_from(["/v1/chat/completions", "/v1/messages"]), body=proxy_bodies)
def test_proxy_routes_never_500(api: Api, path: str, body: bytes) -> None:
    headers = {"X-Agent-Name": "prop-proxy", "X-Trace-ID": "prop-proxy-trace"}
    response = api.post(path, content=body, headers=headers)
    assert response.status_code < 500, response.text
