"""Agent metadata: validated on construction, sent in the server's shape."""

from __future__ import annotations

import json

import pytest

from whyops.client import AgentMetadataError
from whyops.client._metadata import normalize_agent_metadata, version_hash


def test_server_hash_vectors():
    """The version hash matches the server's published test vectors."""
    assert version_hash(normalize_agent_metadata({"systemPrompt": "You are helpful."})) == (
        "dc2786339467f8d3b43d1fade52510f6"
    )
    tool = {"name": "n", "inputSchema": "{}", "outputSchema": "{}", "description": "D"}
    metadata = {"systemPrompt": "S", "tools": [tool], "description": "d"}
    assert version_hash(normalize_agent_metadata(metadata)) == "94dac41357c36ccf3758aa88e8371b21"


def test_every_tool_gets_four_fields_in_server_order():
    """Dict schemas become compact JSON text; missing fields get explicit defaults."""
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    out = normalize_agent_metadata(
        {"tools": [{"name": "search", "inputSchema": schema}], "systemPrompt": "P"}
    )
    assert list(out) == ["systemPrompt", "tools"]
    assert out["tools"] == [
        {
            "name": "search",
            "inputSchema": json.dumps(schema, separators=(",", ":")),
            "outputSchema": "{}",
            "description": "search",
        }
    ]
    assert list(out["tools"][0]) == ["name", "inputSchema", "outputSchema", "description"]


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({}, "agent_metadata.systemPrompt: required, a non-empty string"),
        ({"systemPrompt": "  "}, "agent_metadata.systemPrompt: must not be empty"),
        ({"systemPrompt": 5}, "agent_metadata.systemPrompt: must be a string, got int"),
        (
            {"systemPrompt": "P", "tools": [{"name": ["a"]}]},
            "agent_metadata.tools[0].name: must be a string, got list",
        ),
        (
            {"systemPrompt": "P", "tools": [{"description": "no name"}]},
            "agent_metadata.tools[0].name",
        ),
        (
            {"systemPrompt": "P", "tools": [{"name": "a"}, {"name": "b", "inputSchema": "{oops"}]},
            "agent_metadata.tools[1].inputSchema: not valid JSON",
        ),
        (
            {"systemPrompt": "P", "tools": [{"name": "a", "outputSchema": "[1, 2]"}]},
            "agent_metadata.tools[0].outputSchema: a JSON Schema is an object",
        ),
        (
            {"systemPrompt": "P", "tools": [{"name": "a", "inputSchema": {"x": object()}}]},
            "agent_metadata.tools[0].inputSchema: cannot be written as JSON",
        ),
        (
            {"systemPrompt": "P", "tools": [{"name": "a"}, {"name": "a"}]},
            "tools[1].name: duplicate",
        ),
        ({"systemPrompt": "P", "tools": "search"}, "agent_metadata.tools: expected a list"),
        (
            {"systemPrompt": "P", "tools": [{"name": "a", "input_schema": "{}"}]},
            "input_schema: unknown",
        ),
        ({"systemPrompt": "P", "model": "gpt"}, "agent_metadata.model: unknown field"),
        (
            {"systemPrompt": "P", "description": 3},
            "agent_metadata.description: must be a string, got int",
        ),
        ("You are helpful", "agent_metadata: expected a mapping"),
    ],
)
def test_errors_name_the_field(metadata, field):
    """Each problem is reported with the path of the offending field."""
    with pytest.raises(AgentMetadataError) as caught:
        normalize_agent_metadata(metadata)
    assert field in str(caught.value)


def test_construction_validates(sdk_factory):
    """WhyOps(...) itself refuses invalid metadata, naming the field."""
    with pytest.raises(AgentMetadataError, match=r"tools\[0\]\.name"):
        sdk_factory(agent_metadata={"systemPrompt": "P", "tools": [{"inputSchema": "{}"}]})
    with pytest.raises(AgentMetadataError, match="agent_metadata: required"):
        sdk_factory(agent_metadata=None)
