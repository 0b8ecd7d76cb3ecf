"""Provider-neutral view of a request and of the simulated model's answer.

The OpenAI and Anthropic shape modules translate their wire formats into a
`Conversation`, ask the brain for a `Reply`, and translate that back.
"""

from __future__ import annotations

from typing import Any

import attrs

FORCE_NONE = "none"
FORCE_AUTO = "auto"
FORCE_ANY = "any"


@attrs.frozen
class Tool:
    name: str
    description: str = ""
    schema: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class ToolCall:
    """A call the model makes; `id` is filled in by the provider shape."""

    name: str
    arguments: dict[str, Any]
    id: str = ""


@attrs.frozen
class ToolResult:
    call_id: str
    content: str
    is_error: bool = False


@attrs.frozen
class Turn:
    """One message: `role` is "user", "assistant" or "tool" (tool results)."""

    role: str
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    results: tuple[ToolResult, ...] = ()


@attrs.frozen
class ToolChoice:
    """`mode` is auto, none or any; `name` forces one tool."""

    mode: str = FORCE_AUTO
    name: str | None = None


@attrs.frozen
class Conversation:
    model: str
    system: str = ""
    turns: tuple[Turn, ...] = ()
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice = ToolChoice()
    thinking: bool = False
    parallel_tool_calls: bool = True
    output_schema: dict[str, Any] | None = None
    json_mode: bool = False

    @property
    def last_user_text(self) -> str:
        for turn in reversed(self.turns):
            if turn.role == "user" and turn.text:
                return turn.text
        return ""

    def turns_since_last_user(self) -> tuple[Turn, ...]:
        for index in range(len(self.turns) - 1, -1, -1):
            turn = self.turns[index]
            if turn.role == "user" and turn.text:
                return self.turns[index + 1 :]
        return self.turns

    def user_texts(self) -> list[str]:
        return [turn.text for turn in self.turns if turn.role == "user" and turn.text]


@attrs.frozen
class Reply:
    """What the simulated model says: thinking, then text, then tool calls."""

    text: str = ""
    thinking: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    redacted_thinking: bool = False


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (lenient reading of optional parts)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """`value` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []
