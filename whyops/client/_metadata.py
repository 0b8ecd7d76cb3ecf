"""Agent metadata: validated on construction, sent in the server's own shape.

The WhyOps init endpoint requires ``systemPrompt`` and, for every tool, four non-empty
strings ``name``, ``description``, ``inputSchema`` and ``outputSchema`` (schemas as JSON
*text*). A tool missing a field makes the server answer 400, which WhyOps 0.1.1 swallows,
so the agent silently never registers. Here every problem is found at construction and
named, dict schemas are serialised, and omitted optional fields get explicit defaults.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ._exceptions import AgentMetadataError

TOP_LEVEL_FIELDS = ("systemPrompt", "description", "tools")
TOOL_FIELDS = ("name", "description", "inputSchema", "outputSchema")
# A schema that accepts anything: what "no schema" means to a JSON Schema validator.
EMPTY_SCHEMA = "{}"


def normalize_agent_metadata(value: object) -> dict[str, Any]:
    """Return the metadata exactly as it will be sent, in the server's key order.

    Raises :class:`AgentMetadataError` naming the first offending field.
    """
    if not isinstance(value, Mapping):
        raise AgentMetadataError(
            f"agent_metadata: expected a mapping like {{'systemPrompt': ..., 'tools': [...]}}, "
            f"got {type(value).__name__}"
        )
    _reject_unknown("agent_metadata", value, TOP_LEVEL_FIELDS)
    prompt = _required_text("agent_metadata.systemPrompt", value.get("systemPrompt"))
    normalized: dict[str, Any] = {"systemPrompt": prompt, "tools": _tools(value.get("tools"))}
    description = value.get("description")
    if description is not None:
        if not isinstance(description, str):
            raise AgentMetadataError(
                f"agent_metadata.description: must be a string, got {type(description).__name__}"
            )
        normalized["description"] = description
    return normalized


def _required_text(path: str, value: object) -> str:
    """A required non-blank string; the message says what was wrong with what was given."""
    if value is None:
        raise AgentMetadataError(f"{path}: required, a non-empty string")
    if not isinstance(value, str):
        raise AgentMetadataError(f"{path}: must be a string, got {type(value).__name__}")
    if not value.strip():
        raise AgentMetadataError(f"{path}: must not be empty")
    return value


def version_hash(metadata: Mapping[str, Any]) -> str:
    """The server's version hash of normalised metadata: sha256 of compact JSON, 32 hex."""
    text = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _tools(value: object) -> list[dict[str, str]]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise AgentMetadataError("agent_metadata.tools: expected a list of tools")
    tools = [_tool(f"agent_metadata.tools[{i}]", tool) for i, tool in enumerate(value)]
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        if tool["name"] in seen:
            raise AgentMetadataError(
                f"agent_metadata.tools[{i}].name: duplicate tool name {tool['name']!r}"
            )
        seen.add(tool["name"])
    return tools


def _tool(path: str, tool: object) -> dict[str, str]:
    if not isinstance(tool, Mapping):
        raise AgentMetadataError(
            f"{path}: expected a mapping with a name, got {type(tool).__name__}"
        )
    _reject_unknown(path, tool, TOOL_FIELDS)
    name = _required_text(f"{path}.name", tool.get("name"))
    description = tool.get("description")
    if description is not None and not isinstance(description, str):
        raise AgentMetadataError(
            f"{path}.description: must be a string, got {type(description).__name__}"
        )
    return {
        "name": name,
        "inputSchema": _schema(f"{path}.inputSchema", tool.get("inputSchema")),
        "outputSchema": _schema(f"{path}.outputSchema", tool.get("outputSchema")),
        # The server requires a non-empty description; the name is the honest default.
        "description": description if description and description.strip() else name,
    }


def _schema(path: str, schema: object) -> str:
    if schema is None:
        return EMPTY_SCHEMA
    if isinstance(schema, Mapping):
        try:
            return json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise AgentMetadataError(f"{path}: cannot be written as JSON ({exc})") from None
    if not isinstance(schema, str):
        raise AgentMetadataError(
            f"{path}: expected a JSON string or a dict, got {type(schema).__name__}"
        )
    if not schema.strip():
        return EMPTY_SCHEMA
    try:
        parsed = json.loads(schema)
    except ValueError as exc:
        raise AgentMetadataError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(parsed, (dict, bool)):
        raise AgentMetadataError(
            f"{path}: a JSON Schema is an object (or true/false), got {type(parsed).__name__}"
        )
    return schema


def _reject_unknown(path: str, value: Mapping[Any, Any], allowed: tuple[str, ...]) -> None:
    for key in value:
        if key not in allowed:
            raise AgentMetadataError(
                f"{path}.{key}: unknown field; expected one of {', '.join(allowed)}"
            )
