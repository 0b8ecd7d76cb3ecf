"""The proxy on two servers sharing one PostgreSQL database: a conversation's turns may reach
either server, and still land in one trace."""

from __future__ import annotations

import pytest

from tests import pg

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(pg.missing_reason() is not None, reason=f"{pg.missing_reason()}"),
]

openai = pytest.importorskip("openai")

from whyops.server.run import start_in_thread  # noqa: E402
from whyops.server.settings import ServerSettings  # noqa: E402

KEY = "proxy-key"


def test_a_previous_response_id_answered_by_one_server_leads_the_other_to_its_trace() -> None:
    cluster = pg.cluster()
    url = cluster.database()
    # No signature: only the remembered answer ids can lead a turn back to its trace.
    settings = ServerSettings(port=0, db_path=url, api_keys=(KEY,), simulate=True, signature=False)
    try:
        with start_in_thread(settings) as first, start_in_thread(settings) as second:
            clients = [
                openai.OpenAI(base_url=f"{s.base_url}/v1", api_key=KEY, max_retries=0)
                for s in (first, second)
            ]
            opened = clients[0].responses.with_raw_response.create(model="gpt-4o", input="Hi")
            trace = opened.headers["x-trace-id"]
            answer_id = opened.parse().id
            followed = clients[1].responses.with_raw_response.create(
                model="gpt-4o", input="And now?", previous_response_id=answer_id
            )
            assert followed.headers["x-trace-id"] == trace
            unrelated = clients[1].responses.with_raw_response.create(
                model="gpt-4o", input="Other", previous_response_id="resp_unknown"
            )
            assert unrelated.headers["x-trace-id"] != trace
    finally:
        cluster.drop(url)
