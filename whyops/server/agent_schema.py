"""The agent-init body (``POST /api/entities/init``): WhyOps' zod schema, ZodError-shaped issues.

The parsed metadata is rebuilt in schema order (systemPrompt, tools[name, inputSchema,
outputSchema, description], description) because the version hash is taken over it. Tool
fields other than ``name`` are optional here (WhyOps requires all four; its own SDKs treat them
as optional, and a rejected init would silently leave the agent unregistered).
"""

from __future__ import annotations

import json
from typing import Any

from whyops.server.nesting import MAX_NESTING, too_deep
from whyops.server.validation import type_name

_TOOL_FIELDS = ("name", "inputSchema", "outputSchema", "description")


def _issue(path: list[str | int], message: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, **extra, "path": path, "message": message}


def _string(
    value: Any, path: list[str | int], issues: list[dict[str, Any]], *, max_len: int
) -> str | None:
    if value is None:
        issues.append(
            _issue(path, "Required", "invalid_type", expected="string", received="undefined")
        )
        return None
    if not isinstance(value, str):
        received = type_name(value)
        issues.append(
            _issue(path, f"Expected string, received {received}", "invalid_type",
                   expected="string", received=received)
        )  # fmt: skip
        return None
    if not value:
        issues.append(
            _issue(path, "String must contain at least 1 character(s)", "too_small",
                   minimum=1, type="string", inclusive=True, exact=False)
        )  # fmt: skip
        return None
    if len(value) > max_len:
        issues.append(
            _issue(path, f"String must contain at most {max_len} character(s)", "too_big",
                   maximum=max_len, type="string", inclusive=True, exact=False)
        )  # fmt: skip
        return None
    return value


def _object(
    value: Any, path: list[str | int], issues: list[dict[str, Any]]
) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    received = "undefined" if value is None else type_name(value)
    message = "Required" if value is None else f"Expected object, received {received}"
    issues.append(_issue(path, message, "invalid_type", expected="object", received=received))
    return None


def _schema_text(value: Any, path: list[str | int], issues: list[dict[str, Any]]) -> str | None:
    if isinstance(value, (dict, list)):  # lenient: a schema sent as an object
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        except RecursionError:
            text = None
        if text is not None and not too_deep(text):
            return text
        message = f"Nested deeper than {MAX_NESTING} levels"
        issues.append(_issue(path, message, "too_big"))
        return None
    return _string(value, path, issues, max_len=1_000_000)


def _tool(value: Any, path: list[str | int], issues: list[dict[str, Any]]) -> dict[str, Any]:
    tool = _object(value, path, issues)
    if tool is None:
        return {}
    parsed: dict[str, Any] = {
        "name": _string(tool.get("name"), [*path, "name"], issues, max_len=255)
    }
    for field in _TOOL_FIELDS[1:]:
        if tool.get(field) is not None:
            parsed[field] = _schema_text(tool[field], [*path, field], issues)
    return parsed


def _tools(value: Any, path: list[str | int], issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        received = "undefined" if value is None else type_name(value)
        message = "Required" if value is None else f"Expected array, received {received}"
        issues.append(_issue(path, message, "invalid_type", expected="array", received=received))
        return []
    return [_tool(item, [*path, i], issues) for i, item in enumerate(value)]


def parse_agent_init(body: Any) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """(agentName, schema-ordered metadata, zod issues)."""
    issues: list[dict[str, Any]] = []
    root = _object(body, [], issues)
    if root is None:
        return "", {}, issues
    name = _string(root.get("agentName"), ["agentName"], issues, max_len=255)
    meta = _object(root.get("metadata"), ["metadata"], issues)
    if meta is None:
        return name or "", {}, issues
    parsed: dict[str, Any] = {
        "systemPrompt": _string(
            meta.get("systemPrompt"), ["metadata", "systemPrompt"], issues, max_len=10_000_000
        ),
        "tools": _tools(meta.get("tools"), ["metadata", "tools"], issues),
    }
    if meta.get("description") is not None:
        parsed["description"] = _string(
            meta["description"], ["metadata", "description"], issues, max_len=100_000
        )
    return name or "", parsed, issues
