"""Agent init: WhyOps' versionHash, 201/200, reverting configs, zod-shaped errors."""

from __future__ import annotations

import uuid

import pytest

from tests.server.conftest import Api
from whyops.server.agent_schema import parse_agent_init
from whyops.server.store.agents import version_hash


def _name() -> str:
    return f"agent-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"systemPrompt": "You are helpful.", "tools": []}, "dc2786339467f8d3b43d1fade52510f6"),
        (
            # keys deliberately out of schema order: the hash follows the schema, not the client
            {
                "description": "d",
                "tools": [
                    {"description": "D", "outputSchema": "{}", "inputSchema": "{}", "name": "n"}
                ],
                "systemPrompt": "S",
            },
            "94dac41357c36ccf3758aa88e8371b21",
        ),
    ],
)
def test_version_hash_matches_whyops_vectors(metadata: dict, expected: str) -> None:
    _, parsed, issues = parse_agent_init({"agentName": "a", "metadata": metadata})
    assert issues == []
    assert version_hash(parsed) == expected


def test_unknown_metadata_keys_are_dropped_before_hashing() -> None:
    body = {"agentName": "a", "metadata": {"systemPrompt": "You are helpful.", "tools": [], "x": 1}}
    _, parsed, _ = parse_agent_init(body)
    assert version_hash(parsed) == "dc2786339467f8d3b43d1fade52510f6"


def test_init_created_then_existing(api: Api) -> None:
    body = {"agentName": _name(), "metadata": {"systemPrompt": "You are helpful.", "tools": []}}
    first = api.post("/api/entities/init", body)
    assert first.status_code == 201
    created = first.json()
    assert created["success"] is True
    assert created["status"] == "created"
    assert created["versionHash"] == "dc2786339467f8d3b43d1fade52510f6"
    again = api.post("/api/entities/init", body)
    assert again.status_code == 200
    assert again.json() == {**created, "status": "existing"}


def test_proxy_init_path_is_the_same_endpoint(api: Api) -> None:
    body = {"agentName": _name(), "metadata": {"systemPrompt": "P", "tools": []}}
    assert api.post("/v1/agents/init", body).status_code == 201
    assert api.post("/api/entities/init", body).json()["status"] == "existing"


def test_reverting_to_an_earlier_config_reuses_its_version(api: Api) -> None:
    name = _name()
    a = {"agentName": name, "metadata": {"systemPrompt": "A", "tools": []}}
    b = {"agentName": name, "metadata": {"systemPrompt": "B", "tools": []}}
    first = api.post("/api/entities/init", a).json()
    second = api.post("/api/entities/init", b)
    assert second.status_code == 201
    back = api.post("/api/entities/init", a)
    assert back.status_code == 200
    assert back.json()["agentVersionId"] == first["agentVersionId"]
    agent = api.get(f"/api/entities/{first['agentId']}").json()
    assert agent["latestVersion"]["id"] == first["agentVersionId"]
    assert [v["metadata"]["systemPrompt"] for v in agent["versions"]] == ["A", "B"]


def test_tools_with_only_a_name_are_accepted(api: Api) -> None:
    body = {"agentName": _name(), "metadata": {"systemPrompt": "P", "tools": [{"name": "t"}]}}
    response = api.post("/api/entities/init", body)
    assert response.status_code == 201
    agent = api.get(f"/api/entities/{response.json()['agentId']}").json()
    assert agent["versions"][0]["metadata"]["tools"] == [{"name": "t"}]


def test_bad_metadata_gives_zod_issues_with_paths(api: Api) -> None:
    body = {"agentName": "", "metadata": {"systemPrompt": 3, "tools": [{"inputSchema": 1}]}}
    response = api.post("/api/entities/init", body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["success"] is False
    assert payload["error"]["name"] == "ZodError"
    paths = {tuple(issue["path"]): issue for issue in payload["error"]["issues"]}
    assert set(paths) == {
        ("agentName",),
        ("metadata", "systemPrompt"),
        ("metadata", "tools", 0, "name"),
        ("metadata", "tools", 0, "inputSchema"),
    }
    assert paths[("metadata", "systemPrompt")]["code"] == "invalid_type"
    assert paths[("metadata", "systemPrompt")]["received"] == "number"
    assert paths[("agentName",)]["code"] == "too_small"


def test_missing_metadata_and_non_object_body(api: Api) -> None:
    missing = api.post("/api/entities/init", {"agentName": "x"}).json()
    assert missing["error"]["issues"][0]["path"] == ["metadata"]
    assert missing["error"]["issues"][0]["message"] == "Required"
    array = api.post("/api/entities/init", [1, 2])
    assert array.status_code == 400
    assert array.json()["error"]["issues"][0]["path"] == []


def test_init_invalid_json_and_auth(api: Api) -> None:
    bad = api.post("/api/entities/init", content=b"{nope")
    assert bad.status_code == 400
    assert bad.json() == {"success": False, "error": "Invalid JSON"}
    anonymous = api.http.post("/api/entities/init", json={}, headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"].startswith("Unauthorized: ")
