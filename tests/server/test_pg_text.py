"""Text PostgreSQL cannot hold (U+0000): refused with a 400 naming the field, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import pg

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(pg.missing_reason() is not None, reason=f"{pg.missing_reason()}"),
]

import httpx2  # noqa: E402

from whyops.server.run import RunningServer, start_in_thread  # noqa: E402
from whyops.server.settings import ServerSettings  # noqa: E402

KEY = "text-key"
FIELDS = ("traceId", "agentName", "spanId", "threadId", "idempotencyKey", "externalUserId")
_TEXT = st.text(st.sampled_from(["a", "\x00", "\u00e9", "\U0001f600", "%", "?"]), max_size=8)


@pytest.fixture(scope="module")
def running() -> Iterator[RunningServer]:
    cluster = pg.cluster()
    url = cluster.database()
    server = start_in_thread(ServerSettings(port=0, db_path=url, api_keys=(KEY,)))
    try:
        yield server
    finally:
        server.stop()
        cluster.drop(url)


@pytest.fixture(scope="module")
def client(running: RunningServer) -> Iterator[httpx2.Client]:
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx2.Client(base_url=running.base_url, headers=headers, timeout=30) as http:
        yield http


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(field=st.sampled_from(FIELDS), text=_TEXT.filter(bool))
def test_a_nul_in_a_text_field_is_a_400_naming_it(
    client: httpx2.Client, field: str, text: str
) -> None:
    event = {"eventType": "user_message", "traceId": "text-trace", "agentName": "a"}
    event[field] = text
    answer = client.post("/api/events", json=[event])
    if "\x00" in text:
        assert answer.status_code == 400, answer.text
        assert answer.json()["details"][0]["field"] == f"0.{field}"
    else:
        assert answer.status_code == 201, answer.text


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=_TEXT)
def test_reads_given_a_nul_find_nothing_rather_than_fail(client: httpx2.Client, text: str) -> None:
    for path, params in (
        ("/api/threads", {"traceIdPrefix": text, "agentName": text}),
        ("/api/threads", {"threadId": text, "externalUserId": text}),
        ("/api/events", {"traceId": text}),
    ):
        answer = client.get(path, params=params)
        assert answer.status_code == 200, answer.text
    answer = client.get(f"/api/threads/{quote(text, safe='')}x")
    assert answer.status_code in (200, 404), answer.text


def test_an_agent_name_with_a_nul_is_refused_at_init(client: httpx2.Client) -> None:
    body = {"agentName": "bad\x00name", "metadata": {"systemPrompt": "p", "tools": []}}
    answer = client.post("/api/entities/init", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["issues"][0]["path"] == ["agentName"]
