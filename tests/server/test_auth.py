"""Keys, projects and isolation: two projects using the same trace id never meet."""

from __future__ import annotations

import httpx2

from tests.server.conftest import Api, event, read_only
from whyops.server.run import RunningServer

PROTECTED = [
    ("POST", "/api/entities/init"),
    ("POST", "/v1/agents/init"),
    ("POST", "/api/events/ingest"),
    ("POST", "/api/events"),
    ("POST", "/api/events/tool-result"),
    ("GET", "/api/events"),
    ("GET", "/api/events/x"),
    ("GET", "/api/threads"),
    ("GET", "/api/threads/x"),
    ("GET", "/api/threads/x/graph"),
    ("GET", "/api/traces/x/spans"),
    ("GET", "/api/entities"),
    ("GET", "/api/entities/x"),
    ("GET", "/api/stats"),
    ("GET", "/api/stats/top"),
]


def test_every_route_needs_a_key(keyed_server: RunningServer) -> None:
    with httpx2.Client(base_url=keyed_server.base_url) as http:
        for method, path in PROTECTED:
            missing = http.request(method, path, json={})
            assert missing.status_code == 401, path
            assert missing.json()["error"] == "Unauthorized: Authentication required"
            if path.endswith("/init"):  # WhyOps' agent init answers carry "success"
                assert missing.json()["success"] is False, path
            wrong = http.request(method, path, json={}, headers={"X-API-Key": "whyops_wrong"})
            assert wrong.status_code == 401, path
            assert wrong.json()["error"] == "Unauthorized: Invalid API key"


def test_bearer_and_x_api_key_both_work(keyed_server: RunningServer) -> None:
    with httpx2.Client(base_url=keyed_server.base_url) as http:
        bearer = http.get("/api/threads", headers={"Authorization": "Bearer whyops_alpha"})
        header = http.get("/api/threads", headers={"X-API-Key": "YOPS-beta"})
        basic = http.get("/api/threads", headers={"Authorization": "Basic whyops_alpha"})
    assert (bearer.status_code, header.status_code, basic.status_code) == (200, 200, 401)


def test_projects_are_isolated(keyed_server: RunningServer) -> None:
    team = Api(keyed_server, "whyops_alpha")
    teammate = Api(keyed_server, "YOPS-beta")
    outsider = Api(keyed_server, "whyops_gamma")
    team.ingest(event("user_message", "session-123", content="from team", idempotencyKey="k"))
    outsider.ingest(event("user_message", "session-123", content="outsider", idempotencyKey="k"))
    outsider.post(
        "/api/entities/init", {"agentName": "agent", "metadata": {"systemPrompt": "O", "tools": []}}
    )

    seen_by_team = teammate.thread("session-123", eventInclude="content")["events"]
    seen_by_outsider = outsider.thread("session-123", eventInclude="content")["events"]
    assert [e["content"] for e in seen_by_team] == ["from team"]
    assert [e["content"] for e in seen_by_outsider] == ["outsider"]

    event_id = seen_by_team[0]["id"]
    assert outsider.get(f"/api/events/{event_id}").status_code == 404
    assert teammate.get(f"/api/events/{event_id}").status_code == 200
    assert [
        e["id"]
        for e in outsider.get("/api/events", params={"traceId": "session-123"}).json()["events"]
    ] == [seen_by_outsider[0]["id"]]
    team_agent = teammate.get("/api/entities/agent").json()
    outsider_agent = outsider.get("/api/entities/agent").json()
    assert team_agent["id"] != outsider_agent["id"]
    assert outsider_agent["latestVersion"]["metadata"]["systemPrompt"] == "O"
    assert team_agent["latestVersion"]["autoCreated"] is True
    for client in (team, teammate, outsider):
        client.close()


def test_generated_key_is_stored_hashed(fresh_server: RunningServer) -> None:
    key = fresh_server.api_key
    assert key is not None and key.startswith("whyops_")
    conn = read_only(fresh_server.db_path)
    rows = conn.execute("SELECT key_hash, prefix FROM api_keys").fetchall()
    conn.close()
    assert len(rows) == 1
    assert key not in rows[0][0]
    assert rows[0][1] == key[:12]
