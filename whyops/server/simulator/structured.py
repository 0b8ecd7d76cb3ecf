"""JSON answers: what a model writes when it is asked for JSON.

Asked by the request (`response_format`/`text.format` JSON schema or JSON mode) or by the
prompt ("respond with a JSON object ...", instructor's and pydantic-ai's prompted output). The
object follows the schema the request or the prompt gives, else the example object the prompt
shows, else it is `{"answer": <prose>}`. When the prompt asks for a ```json block (instructor's
markdown-JSON mode), and the request did not demand bare JSON, the object comes fenced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from .arguments import MAX_DEPTH, build_arguments
from .conversation import Conversation
from .facts import Facts

_ASKS_JSON = re.compile(
    r"\b(respond|reply|answer|return|output|provide|give|format|write|produce)\w*\b[^.\n]{0,80}?"
    r"\bjson\b|\bjson\s+(object|only|format|response|schema|codeblock|code block)\b|```json",
    re.IGNORECASE,
)
_ASKS_FENCE = re.compile(
    r"```json|\b(in|within|inside)\s+(an?\s+)?(markdown|(json\s+)?code\s?block|fenced)",
    re.IGNORECASE,
)
MAX_SCANNED_TEXT = 100_000  # characters of prompt searched for a schema or an example
MAX_CANDIDATES = 200  # `{` positions tried per text
_DECODER = json.JSONDecoder()


def asks_for_json(conversation: Conversation) -> bool:
    """The system prompt or the latest user message asks for a JSON answer."""
    return any(_ASKS_JSON.search(text) for text in _instruction_texts(conversation))


def schema_answer(conversation: Conversation, schema: dict[str, Any]) -> str:
    """The JSON text of an object fitting `schema`, every property filled."""
    facts = Facts.from_conversation(conversation)
    return json.dumps(build_arguments(schema, facts, complete=True), ensure_ascii=False)


def json_answer(conversation: Conversation, prose: str) -> str:
    """JSON following the prompt's schema or example (else wrapping `prose`), fenced if asked."""
    schema = prompt_schema(conversation)
    if schema is None:
        text = json.dumps({"answer": prose}, ensure_ascii=False)
    else:
        text = schema_answer(conversation, schema)
    if not conversation.json_mode and _wants_fence(conversation):
        return f"```json\n{text}\n```"
    return text


def prompt_schema(conversation: Conversation) -> dict[str, Any] | None:
    """A JSON schema written in the prompt, else one inferred from an example object in it.

    The system prompt is searched first (where instructions usually live), then the user's
    messages, latest first.
    """
    texts = [conversation.system, *reversed(conversation.user_texts())]
    objects = [value for text in texts for value in _objects_in(text)]
    for value in objects:
        schema = _as_schema(value)
        if schema is not None:
            return schema
    examples = [value for text in _instruction_texts(conversation) for value in _objects_in(text)]
    return _schema_of_example(examples[0]) if examples else None


def _instruction_texts(conversation: Conversation) -> list[str]:
    return [text for text in (conversation.system, conversation.last_user_text) if text]


def _wants_fence(conversation: Conversation) -> bool:
    return any(_ASKS_FENCE.search(text) for text in _instruction_texts(conversation))


def _objects_in(text: str) -> Iterator[dict[str, Any]]:
    """JSON objects embedded in `text`, in order (at most `MAX_CANDIDATES` starts tried)."""
    text = text[:MAX_SCANNED_TEXT]
    position, tries = text.find("{"), 0
    while position != -1 and tries < MAX_CANDIDATES:
        tries += 1
        try:
            value, end = _DECODER.raw_decode(text, position)
        except (ValueError, RecursionError):
            position = text.find("{", position + 1)
            continue
        if isinstance(value, dict) and value:
            yield value
        position = text.find("{", end)


def _as_schema(value: dict[str, Any]) -> dict[str, Any] | None:
    """`value` when it is an object schema, or the schema inside an OpenAI-style wrapper."""
    for candidate in (value, value.get("schema"), value.get("json_schema")):
        if not isinstance(candidate, dict):
            continue
        if isinstance(candidate.get("schema"), dict):
            candidate = candidate["schema"]
        if isinstance(candidate.get("properties"), dict) or candidate.get("type") == "object":
            return candidate
    return None


def _schema_of_example(example: Any, depth: int = 0) -> dict[str, Any]:
    """A schema an example fits: its keys required, its values the defaults facts may replace
    (objects deeper than `MAX_DEPTH` are kept whole)."""
    if isinstance(example, dict) and depth < MAX_DEPTH:
        properties = {str(k): _schema_of_example(v, depth + 1) for k, v in example.items()}
        return {"type": "object", "properties": properties, "required": list(properties)}
    if isinstance(example, str) and "|" in example:
        example = example.split("|", 1)[0].strip()  # "positive|negative": one of the options
    return {"type": _json_type(example), "default": example}


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "null" if value is None else "string"
