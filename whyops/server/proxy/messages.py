"""Conversation helpers shared by the provider modules (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from whyops.server.proxy import signature

JSON = dict[str, Any]

TEXT_PARTS = ("text", "output_text", "input_text")  # tuples: JSON values may be unhashable


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a list, else empty: provider JSON is read defensively."""
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def new_turn(items: Sequence[Any], is_model_output: Callable[[Any], bool]) -> list[Any]:
    """The items after the model's last answer: what this request adds.

    Recording only the new turn keeps storage linear in the conversation
    length (the earlier turns are already recorded by earlier calls). A
    trailing model item (an assistant prefill) belongs to the new turn.
    """
    end = len(items) - 1
    while end >= 0 and is_model_output(items[end]):
        end -= 1
    for index in range(end, -1, -1):
        if is_model_output(items[index]):
            return list(items[index + 1 :])
    return list(items)


def message_text(content: Any) -> str | None:
    """The plain text of a message's content: the string, or its text parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            as_text(part.get("text"))
            for part in content
            if isinstance(part, dict) and part.get("type") in TEXT_PARTS
        ]
        return "".join(texts) if texts else None
    return None


def signature_in(content: Any) -> str | None:
    """The trace id signed into a message's content, if any."""
    text = message_text(content)
    return signature.decode(text) if text else None


def strip_content(content: Any) -> tuple[Any, bool]:
    """``content`` with signatures removed from its text, and whether it changed."""
    if isinstance(content, str):
        stripped = signature.strip(content)
        return stripped, stripped != content
    if not isinstance(content, list):
        return content, False
    changed = False
    parts = []
    for part in content:
        text = part.get("text") if isinstance(part, dict) else None
        if isinstance(text, str) and signature.START in text:
            stripped = signature.strip(text)
            if stripped != text:
                changed = True
                if not stripped:
                    continue  # a part that held only the signature
                part = {**part, "text": stripped}
        parts.append(part)
    return (parts if changed else content), changed


def pick(body: JSON, names: Mapping[str, str]) -> JSON:
    """``{ourName: body[theirName]}`` for the request fields that are present."""
    return {ours: body[theirs] for ours, theirs in names.items() if body.get(theirs) is not None}


def asks_for_json(body: JSON) -> bool:
    """Structured output: appending invisible text would break the client's JSON parsing."""
    for holder, key in ((body, "response_format"), (body.get("text"), "format")):
        fmt = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(fmt, dict) and fmt.get("type") in ("json_schema", "json_object"):
            return True
    output = body.get("output_config")
    return bool(body.get("output_format")) or (
        isinstance(output, dict) and bool(output.get("format"))
    )
