"""Linking a tool execution to the model answer that asked for it.

An ``llm_response`` lists tool calls (``{id, function: {name, arguments: "<json>"}}`` or
``{id, name, arguments}``); a ``tool_call_request`` lists the calls it executes. Each executed
call is matched to the earliest earlier answer's call not yet used: by call id when both carry
one, else by name and equal arguments, else by name alone, in that order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from whyops.server.nesting import load_stored
from whyops.wire.events import EventType

_NO_ARGS = object()


@attrs.frozen
class Call:
    event_id: str
    ts_us: int
    call_id: str | None
    name: str | None
    arguments: Any


def _arguments(value: Any) -> Any:
    """Arguments as sent; JSON text parsed, unless it is not JSON or nests past the limit."""
    if isinstance(value, str):
        return load_stored(value)
    return _NO_ARGS if value is None else value


def _calls_in(content: Any) -> Iterator[tuple[str | None, str | None, Any]]:
    calls = content.get("toolCalls") if isinstance(content, dict) else None
    if not isinstance(calls, list):
        return
    for call in calls:
        if not isinstance(call, dict):
            continue
        nested = call.get("function")
        function: dict[str, Any] = nested if isinstance(nested, dict) else call
        name = function.get("name")
        call_id = call.get("id") or call.get("toolCallId") or call.get("callId")
        yield (
            call_id if isinstance(call_id, str) else None,
            name if isinstance(name, str) else None,
            _arguments(function.get("arguments")),
        )


def calls_of(event: dict[str, Any], ts_us: int) -> list[Call]:
    """The tool calls an event asks for (llm_response) or executes (tool_call_request)."""
    calls = [Call(event["id"], ts_us, *found) for found in _calls_in(event.get("content"))]
    metadata = event.get("metadata")  # a string when stored past the nesting limit
    tool = metadata.get("tool") if isinstance(metadata, dict) else None
    if not calls and event["eventType"] == EventType.TOOL_CALL_REQUEST and isinstance(tool, str):
        calls = [Call(event["id"], ts_us, None, tool, _NO_ARGS)]
    return calls


def _same_args(a: Any, b: Any) -> bool:
    return a is not _NO_ARGS and b is not _NO_ARGS and a == b


_RULES = (
    lambda asked, run: asked.call_id is not None and asked.call_id == run.call_id,
    lambda asked, run: asked.name == run.name and _same_args(asked.arguments, run.arguments),
    lambda asked, run: asked.name is not None and asked.name == run.name,
)


def _index(asked: list[Call]) -> tuple[dict[str, list[int]], dict[str | None, list[int]]]:
    by_id: dict[str, list[int]] = {}
    by_name: dict[str | None, list[int]] = {}
    for index, call in enumerate(asked):
        if call.call_id is not None:
            by_id.setdefault(call.call_id, []).append(index)
        by_name.setdefault(call.name, []).append(index)
    return by_id, by_name


def link_tool_calls(asked: list[Call], executed: list[Call]) -> list[tuple[str, str]]:
    """``(llm_response id, tool_call_request id)`` pairs, each call used at most once."""
    by_id, by_name = _index(asked)
    used_asked: set[int] = set()
    used_run: set[int] = set()
    links: list[tuple[str, str]] = []
    for number, rule in enumerate(_RULES):
        for r, run in enumerate(executed):
            if r in used_run:
                continue
            pool = by_id.get(run.call_id or "", []) if number == 0 else by_name.get(run.name, [])
            for a in pool:
                call = asked[a]
                if a in used_asked or call.ts_us > run.ts_us or not rule(call, run):
                    continue
                used_asked.add(a)
                used_run.add(r)
                links.append((call.event_id, run.event_id))
                break
    return list(dict.fromkeys(links))
