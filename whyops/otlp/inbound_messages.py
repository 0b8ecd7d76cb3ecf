"""A model call's conversation, read from whichever form a span carries it in.

Each form is a reader (data, in :data:`INPUT_READERS` / :data:`OUTPUT_READERS`, tried in
order; the first that finds something wins):

- GenAI current: ``gen_ai.input.messages`` / ``gen_ai.output.messages`` (role + typed parts)
  and ``gen_ai.system_instructions``;
- GenAI older: message span events (``gen_ai.user.message`` … ``gen_ai.choice``), flattened
  ``gen_ai.prompt.N.*`` / ``gen_ai.completion.N.*``, semantic conventions 1.26's
  ``gen_ai.content.prompt`` / ``gen_ai.content.completion`` events;
- OpenInference: flattened ``llm.input_messages.N.message.*`` / ``llm.output_messages…``, and
  ``input.value`` / ``output.value`` (a provider request or answer as JSON, or plain text).

Input messages come out in the chat form the SDK records (``role``, ``content``,
``tool_calls``, ``tool_call_id``); the answer as ``llm_response`` content (``content``,
``toolCalls`` in the one wire shape of :func:`whyops.wire.shape.tool_call`, ``finishReason``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from whyops.otlp import conventions as c
from whyops.otlp.inbound_parts import (
    Answer,
    Conversation,
    chat_answer,
    genai_answer,
    genai_messages,
    system_text,
)
from whyops.otlp.inbound_values import (
    clean,
    first,
    indexed,
    json_value,
    nested,
    parse_json,
    text_of,
)
from whyops.wire.shape import shape_of, tool_call

JSON = dict[str, Any]
Attrs = Mapping[str, Any]
#: A span event as the reader sees it: (name, attributes).
SpanEvent = tuple[str, Attrs]


# -- older GenAI forms -------------------------------------------------------------------


def _event_body(attributes: Attrs) -> JSON:
    """An event's body: its ``gen_ai.event.content`` JSON, else its attributes."""
    body = json_value(attributes.get(c.EVENT_BODY))
    return body if isinstance(body, dict) else dict(attributes)


def _old_calls(calls: Any) -> list[JSON]:
    """Tool calls as the older events and OpenLLMetry write them, in the wire shape."""
    found: list[JSON] = []
    calls = json_value(calls)
    for call in calls if isinstance(calls, list) else []:
        if not isinstance(call, dict):
            continue
        function = nested(call, "function")
        arguments = function.get("arguments", function.get("args"))
        found.append(tool_call(call.get("id"), function.get("name"), arguments))
    return found


def _old_message(role: str, body: Attrs) -> JSON:
    message: JSON = {"role": body.get("role") or role, "content": clean(body.get("content"))}
    calls = _old_calls(body.get("tool_calls"))
    if calls:
        message["tool_calls"] = calls
    call_id = body.get("id", body.get("tool_call_id"))
    if message["role"] == "tool" and call_id is not None:
        message["tool_call_id"] = clean(call_id)
    return message


def _event_messages(events: list[SpanEvent]) -> list[JSON] | None:
    messages = [
        _old_message(c.MESSAGE_EVENT_ROLES[event_name], _event_body(attributes))
        for event_name, attributes in events
        if event_name in c.MESSAGE_EVENT_ROLES
    ]
    return messages or None


def _event_answer(events: list[SpanEvent]) -> Answer | None:
    for event_name, attributes in events:
        if event_name != c.EVENT_CHOICE:
            continue
        body = _event_body(attributes)
        message = json_value(body.get("message"))
        message = message if isinstance(message, dict) else body
        answer = chat_answer(_old_message("assistant", message))
        if isinstance(body.get("finish_reason"), str):
            answer.content["finishReason"] = body["finish_reason"]
        return answer
    return None


def _flat_calls(item: Attrs) -> list[JSON]:
    return [
        tool_call(call.get("id"), call.get("name"), call.get("arguments"))
        for call in indexed(item, "tool_calls")
    ]


def _flat_message(item: Attrs) -> JSON:
    message: JSON = {"role": item.get("role") or "user", "content": clean(item.get("content"))}
    calls = _flat_calls(item)
    if calls:
        message["tool_calls"] = calls
    if item.get("tool_call_id") is not None:
        message["tool_call_id"] = clean(item["tool_call_id"])
    return message


def _prompt_messages(attributes: Attrs) -> list[JSON] | None:
    return [_flat_message(item) for item in indexed(attributes, c.PROMPT_PREFIX)] or None


def _completion_answer(attributes: Attrs) -> Answer | None:
    items = indexed(attributes, c.COMPLETION_PREFIX)
    if not items:
        return None
    answer = chat_answer(_flat_message({"role": "assistant", **items[0]}))
    if isinstance(items[0].get("finish_reason"), str):
        answer.content["finishReason"] = items[0]["finish_reason"]
    return answer


def _content_event(events: list[SpanEvent], event_name: str, key: str) -> Any:
    return next((a.get(key) for n, a in events if n == event_name and a.get(key)), None)


def _whole_prompt(value: Any) -> list[JSON] | None:
    """``gen_ai.prompt``: the messages as JSON text (or one text)."""
    value = json_value(value)
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        return [_old_message("user", m) for m in value]
    return [{"role": "user", "content": value}] if isinstance(value, str) else None


def _whole_completion(value: Any) -> Answer | None:
    """``gen_ai.completion``: the answer's messages as JSON text (or the text)."""
    value = json_value(value)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return chat_answer(_old_message("assistant", value[0]))
    return Answer({"content": value}) if isinstance(value, str) else None


# -- OpenInference -----------------------------------------------------------------------


def _oi_message(item: Attrs) -> JSON:
    role = item.get(c.MESSAGE_ROLE)
    content = item.get(c.MESSAGE_CONTENT)
    if content is None:
        contents = indexed(item, c.MESSAGE_CONTENTS)
        texts = [part.get(c.MESSAGE_CONTENT_TEXT) for part in contents]
        content = "\n".join(t for t in texts if isinstance(t, str)) or None
    message: JSON = {"role": role if isinstance(role, str) else "user", "content": clean(content)}
    calls = [
        tool_call(
            call.get(c.OI_TOOL_CALL_ID),
            call.get(c.OI_TOOL_CALL_FUNCTION_NAME),
            parse_json(call.get(c.OI_TOOL_CALL_FUNCTION_ARGUMENTS)),
        )
        for call in indexed(item, c.MESSAGE_TOOL_CALLS)
    ]
    if calls:
        message["tool_calls"] = calls
    if item.get(c.MESSAGE_TOOL_CALL_ID) is not None:
        message["tool_call_id"] = clean(item[c.MESSAGE_TOOL_CALL_ID])
    return message


def _oi_messages(attributes: Attrs) -> list[JSON] | None:
    return [_oi_message(item) for item in indexed(attributes, c.LLM_INPUT_MESSAGES)] or None


def _oi_answer(attributes: Attrs) -> Answer | None:
    items = indexed(attributes, c.LLM_OUTPUT_MESSAGES)
    return chat_answer(_oi_message(items[0])) if items else None


def _oi_prompts(attributes: Attrs) -> list[JSON] | None:
    prompts = [item.get(c.PROMPT_TEXT) for item in indexed(attributes, c.LLM_PROMPTS)]
    return [{"role": "user", "content": clean(p)} for p in prompts if p is not None] or None


def _oi_choice(attributes: Attrs) -> Answer | None:
    choices = indexed(attributes, c.LLM_CHOICES)
    text = choices[0].get(c.COMPLETION_TEXT) if choices else None
    return None if text is None else Answer({"content": clean(text)})


def _value_messages(attributes: Attrs) -> list[JSON] | None:
    """``input.value``: a provider request (its ``messages``), else the text as one message."""
    value = json_value(attributes.get(c.INPUT_VALUE))
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        return [m for m in value["messages"] if isinstance(m, dict)] or None
    return None if value is None else [{"role": "user", "content": text_of(value)}]


def _value_answer(attributes: Attrs) -> Answer | None:
    """``output.value``: a provider answer read through its wire shape, else the text."""
    value = json_value(attributes.get(c.OUTPUT_VALUE))
    shape = shape_of(value)
    if shape is not None:
        return Answer(clean(shape.content(value)), shape.thinking(value))
    return None if value is None else Answer({"content": text_of(value)})


# -- the readers, tried in order ----------------------------------------------------------

Reader = Callable[[Attrs, list[SpanEvent]], Any]
INPUT_READERS: tuple[Reader, ...] = (
    lambda a, e: genai_messages(a.get(c.INPUT_MESSAGES)),
    lambda a, e: _event_messages(e),
    lambda a, e: _prompt_messages(a),
    lambda a, e: _oi_messages(a),
    lambda a, e: _oi_prompts(a),
    lambda a, e: _whole_prompt(_content_event(e, c.EVENT_CONTENT_PROMPT, c.PROMPT)),
    lambda a, e: _whole_prompt(a.get(c.PROMPT)),
    lambda a, e: _value_messages(a),
)
OUTPUT_READERS: tuple[Reader, ...] = (
    lambda a, e: genai_answer(a.get(c.OUTPUT_MESSAGES)),
    lambda a, e: _event_answer(e),
    lambda a, e: _completion_answer(a),
    lambda a, e: _oi_answer(a),
    lambda a, e: _oi_choice(a),
    lambda a, e: _whole_completion(_content_event(e, c.EVENT_CONTENT_COMPLETION, c.COMPLETION)),
    lambda a, e: _whole_completion(a.get(c.COMPLETION)),
    lambda a, e: _value_answer(a),
)


def _first_found(readers: tuple[Reader, ...], attributes: Attrs, events: list[SpanEvent]) -> Any:
    for reader in readers:
        found = reader(attributes, events)
        if found is not None:
            return found
    return None


def _system_of(attributes: Attrs, messages: list[JSON] | None) -> str | None:
    instructions = attributes.get(c.SYSTEM_INSTRUCTIONS)
    if instructions is not None:
        return system_text(instructions)
    for message in messages or ():
        if message.get("role") == "system" and message.get("content"):
            return text_of(message["content"])
    return None


def _finish_reason(attributes: Attrs) -> str | None:
    reasons = json_value(first(attributes, (c.RESPONSE_FINISH_REASONS, c.LLM_FINISH_REASON)))
    reason = reasons[0] if isinstance(reasons, list) and reasons else reasons
    return reason if isinstance(reason, str) and reason else None


def conversation(attributes: Attrs, events: list[SpanEvent]) -> Conversation:
    """The conversation of one LLM span, from its attributes and span events."""
    messages = _first_found(INPUT_READERS, attributes, events)
    answer = _first_found(OUTPUT_READERS, attributes, events)
    reason = _finish_reason(attributes)
    if reason is not None:
        answer = answer or Answer({})
        answer.content["finishReason"] = reason
    return Conversation(_system_of(attributes, messages), messages, answer)


#: Attributes whose content the conversation holds (not repeated in the span's attributes).
CONTENT_KEYS = frozenset(
    {
        c.INPUT_MESSAGES,
        c.OUTPUT_MESSAGES,
        c.PROMPT,
        c.COMPLETION,
        c.SYSTEM_INSTRUCTIONS,
        c.INPUT_VALUE,
        c.OUTPUT_VALUE,
        c.TOOL_CALL_ARGUMENTS,
        c.TOOL_CALL_RESULT,
        c.TOOL_DEFINITIONS,
        c.WHYOPS_INPUTS,
        c.WHYOPS_OUTPUT,
    }
)
#: Flattened lists whose items the conversation holds (``gen_ai.prompt.0.content`` …); only
#: their numbered keys are content: ``gen_ai.prompt.name`` is a current attribute of its own.
CONTENT_LISTS = (
    c.PROMPT_PREFIX,
    c.COMPLETION_PREFIX,
    c.LLM_INPUT_MESSAGES,
    c.LLM_OUTPUT_MESSAGES,
    c.LLM_TOOLS,
    c.FUNCTIONS_PREFIX,
    c.LLM_PROMPTS,
    c.LLM_CHOICES,
    c.EMBEDDING_EMBEDDINGS,  # the texts, and their vectors (large)
)
_CONTENT_ITEM = re.compile(f"(?:{'|'.join(map(re.escape, CONTENT_LISTS))})\\.\\d")
_LIST_HEADS = tuple(prefix + "." for prefix in CONTENT_LISTS)  # a cheap test before the regex
#: Span events the conversation holds.
CONTENT_EVENTS = frozenset(
    {*c.MESSAGE_EVENT_ROLES, c.EVENT_CHOICE, c.EVENT_CONTENT_PROMPT, c.EVENT_CONTENT_COMPLETION}
)


def is_content_key(key: str) -> bool:
    if key in CONTENT_KEYS:
        return True
    return key.startswith(_LIST_HEADS) and _CONTENT_ITEM.match(key) is not None
