"""What agent frameworks need from the brain: forced loops that finish, JSON where JSON is
asked, optional properties filled, and server-held Anthropic threads (pure functions)."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from whyops.server.simulator import brain, errors, message_threads, structured
from whyops.server.simulator.arguments import build_arguments
from whyops.server.simulator.conversation import (
    FORCE_ANY,
    Conversation,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
    Turn,
)
from whyops.server.simulator.facts import Facts

ORDER_SCHEMA = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}},
    "required": ["order_id"],
}
GET_ORDER = Tool("get_order", "Look up an order", ORDER_SCHEMA)
GET_WEATHER = Tool(
    "get_weather",
    "Weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
FINAL = Tool(
    "final_result",
    "The final response which ends this conversation",
    {
        "type": "object",
        "properties": {"order_id": {"type": "string"}, "status": {"type": "string"}},
        "required": ["order_id", "status"],
    },
)
FORCED = ToolChoice(FORCE_ANY)
SHIPPED = '{"order_id": "1234", "status": "shipped"}'


def after_lookup(*tools: Tool, **kwargs) -> Conversation:
    """The user asked about order 1234, the model called get_order, and its result is in."""
    turns = (
        Turn("user", text="Where is order 1234?"),
        Turn("assistant", tool_calls=(ToolCall("get_order", {"order_id": "1234"}, "c1"),)),
        Turn("tool", results=(ToolResult("c1", SHIPPED),)),
    )
    return Conversation(model="gpt-4o", turns=turns, tools=tools, **kwargs)


# --- tool_choice "required" / Anthropic "any" after a look-up ------------------------------


def test_forced_choice_calls_the_final_result_tool_after_the_lookup():
    [call] = brain.plan_tool_calls(after_lookup(GET_ORDER, FINAL, tool_choice=FORCED))
    assert call.name == "final_result"
    assert call.arguments == {"order_id": "1234", "status": "shipped"}  # from the result


def test_forced_choice_without_a_final_tool_calls_a_tool_not_called_yet():
    [call] = brain.plan_tool_calls(after_lookup(GET_ORDER, GET_WEATHER, tool_choice=FORCED))
    assert call.name == "get_weather"


def test_forced_choice_never_repeats_the_last_call_when_another_tool_exists():
    conversation = after_lookup(GET_WEATHER, GET_ORDER, tool_choice=FORCED)
    weather = Turn("assistant", tool_calls=(ToolCall("get_weather", {"city": "x"}, "c2"),))
    result = Turn("tool", results=(ToolResult("c2", '{"sky": "clear"}'),))
    conversation = Conversation(
        model="m", turns=(*conversation.turns, weather, result), tools=conversation.tools,
        tool_choice=FORCED,
    )  # fmt: skip
    [call] = brain.plan_tool_calls(conversation)
    assert call.name == "get_order"  # called longest ago, not get_weather again


def test_final_tool_is_not_called_before_the_lookup_it_needs():
    conversation = Conversation(
        model="m",
        turns=(Turn("user", text="Where is order 1234?"),),
        tools=(FINAL, GET_ORDER),
        tool_choice=FORCED,
    )
    [call] = brain.plan_tool_calls(conversation)
    assert call.name == "get_order"


def test_forced_choice_with_nothing_to_look_up_goes_straight_to_the_final_tool():
    conversation = Conversation(
        model="m", turns=(Turn("user", text="Hi!"),), tools=(GET_ORDER, FINAL), tool_choice=FORCED
    )
    [call] = brain.plan_tool_calls(conversation)
    assert call.name == "final_result"


@pytest.mark.parametrize(
    ("name", "final"),
    [
        ("final_result", True),
        ("final_result_OrderStatus", True),
        ("Final_Answer", True),
        ("finalize_order", False),
        ("get_final_invoice", False),
    ],
)
def test_final_result_tools_are_told_by_name(name, final):
    assert brain.is_final_tool(Tool(name)) is final


def test_auto_choice_after_the_lookup_still_answers_in_text():
    reply = brain.decide(after_lookup(GET_ORDER, FINAL))
    assert not reply.tool_calls
    assert reply.text.startswith("I checked order 1234 for you. From get order:")


# --- JSON asked for ------------------------------------------------------------------------

INSTRUCTOR_SYSTEM = (
    "As a genius expert, your task is to understand the content and provide\n"
    "the parsed objects in json that match the following json_schema:\n\n"
    + json.dumps(
        {
            "properties": {
                "name": {"title": "Name", "type": "string"},
                "age": {"title": "Age", "type": "integer"},
            },
            "required": ["name", "age"],
            "title": "User",
            "type": "object",
        },
        indent=2,
    )
    + "\n\nMake sure to return an instance of the JSON, not the schema itself"
)


def chat(system: str, user: str, **kwargs) -> Conversation:
    return Conversation(model="m", system=system, turns=(Turn("user", text=user),), **kwargs)


def test_json_mode_follows_the_schema_in_the_system_prompt():
    text = brain.compose_text(chat(INSTRUCTOR_SYSTEM, "Jason is 25 years old", json_mode=True))
    assert json.loads(text) == {"name": "Jason is 25 years old", "age": 25}


def test_markdown_json_mode_answers_a_fenced_object():
    user = "Jason is 25\n\nReturn the correct JSON response within a ```json codeblock."
    text = brain.compose_text(chat(INSTRUCTOR_SYSTEM, user))
    assert text.startswith("```json\n") and text.endswith("\n```")
    assert set(json.loads(text[len("```json\n") : -len("\n```")])) == {"name", "age"}


def test_json_mode_never_fences_even_when_the_prompt_mentions_a_code_block():
    user = "Jason is 25. Return the correct JSON response within a ```json codeblock."
    assert set(json.loads(brain.compose_text(chat(INSTRUCTOR_SYSTEM, user, json_mode=True))))


def test_prompted_output_that_forbids_fencing_gets_bare_json():
    system = (
        "Always respond with a JSON object that's compatible with this schema:\n\n"
        '{"type": "object", "properties": {"city": {"type": "string"}, '
        '"country": {"type": "string"}}, "required": ["city", "country"]}\n\n'
        "Don't include any text or Markdown fencing before or after."
    )
    value = json.loads(brain.compose_text(chat(system, "The largest city in France")))
    assert set(value) == {"city", "country"}


def test_an_example_object_in_the_prompt_shapes_the_answer():
    system = 'Reply in JSON like {"sentiment": "positive|negative", "score": 0.5, "tags": []}.'
    value = json.loads(brain.compose_text(chat(system, "I love it")))
    assert value == {"sentiment": "positive", "score": 0.5, "tags": []}


def test_json_mode_without_a_schema_wraps_the_prose():
    value = json.loads(brain.compose_text(chat("", "Hello!", json_mode=True)))
    assert value == {"answer": "Hello! How can I help you today?"}


def test_prose_stays_prose_when_json_is_only_mentioned():
    text = brain.compose_text(chat("The tools speak JSON.", "Hello!"))
    assert text == "Hello! How can I help you today?"


def test_response_format_schema_fills_optional_fields_too():
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "note": {"type": "string"}},
        "required": ["city"],
    }
    value = json.loads(brain.compose_text(chat("", "Weather in Paris", output_schema=schema)))
    assert value == {"city": "Paris", "note": "Weather in Paris"}


@settings(max_examples=200, deadline=None)
@given(system=st.text(max_size=300), user=st.text(max_size=300))
def test_json_mode_always_answers_a_json_object(system, user):
    value = json.loads(brain.compose_text(chat(system, user, json_mode=True)))
    assert isinstance(value, dict) and value


@settings(max_examples=200, deadline=None)
@given(example=st.dictionaries(st.text(min_size=1, max_size=8), st.none() | st.booleans()
       | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
       min_size=1, max_size=5))  # fmt: skip
def test_an_example_anywhere_in_the_prompt_gives_its_keys(example):
    assume(example.get("type") != "object")  # that one reads as an (empty) schema
    system = f"Return JSON shaped like this: {json.dumps(example)}"
    value = json.loads(brain.compose_text(chat(system, "go", json_mode=True)))
    assert set(value) == set(example)


@settings(max_examples=200, deadline=None)
@given(system=st.text(max_size=200), user=st.text(max_size=200))
def test_a_prompt_asking_for_json_never_gets_prose(system, user):
    text = brain.compose_text(chat(f"{system}\nRespond with a JSON object.", user))
    body = text.removeprefix("```json\n").removesuffix("\n```")
    assert isinstance(json.loads(body), dict)


# --- optional properties ---------------------------------------------------------------------

ITERABLE_USER = {
    "$defs": {
        "User": {
            "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            "required": ["name", "age"],
            "type": "object",
        }
    },
    "properties": {"tasks": {"items": {"$ref": "#/$defs/User"}, "type": "array"}},
    "type": "object",
    "required": [],
}


def facts_for(text: str) -> Facts:
    return Facts.from_conversation(Conversation(model="m", turns=(Turn("user", text=text),)))


def test_an_object_that_requires_nothing_gets_every_property():
    arguments = build_arguments(ITERABLE_USER, facts_for("Jason is 25 years old"))
    assert arguments == {"tasks": [{"name": "Jason is 25 years old", "age": 25}]}


def test_defaults_given_by_the_schema_are_used_for_optional_properties():
    schema = {
        "type": "object",
        "properties": {"limit": {"type": "integer", "default": 10}, "status": {"type": "string"}},
    }
    assert build_arguments(schema, facts_for("open orders")) == {
        "limit": 10,
        "status": "open orders",
    }


def test_optional_properties_without_facts_stay_out_when_others_are_required():
    schema = {
        "type": "object",
        "properties": {"order_id": {"type": "string"}, "carrier": {"type": "string"}},
        "required": ["order_id"],
    }
    assert build_arguments(schema, facts_for("where is #77")) == {"order_id": "77"}


# --- Anthropic message threads --------------------------------------------------------------

BASE = {"model": "claude-sonnet-4-5", "max_tokens": 100, "tools": [{"name": "get_order"}]}


def test_a_created_thread_is_continued_with_its_fields_and_history():
    first = {**BASE, "messages": [{"role": "user", "content": "hi"}], "thread": {"type": "create"}}
    body, threaded = message_threads.resolve(first)
    assert threaded and body is first
    message_threads.hold(body, "msg_test_1", [{"type": "text", "text": "hello"}])
    turn = {"role": "user", "content": "again"}
    follow = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 50,
        "messages": [turn],
        "thread": {"type": "continue", "previous_message_id": "msg_test_1"},
    }
    body, threaded = message_threads.resolve(follow)
    assert threaded
    assert body["tools"] == BASE["tools"] and body["max_tokens"] == 50  # held, overridden
    assert body["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "hello"}]},
        turn,
    ]


def test_an_unknown_thread_answers_thread_not_found():
    body = {**BASE, "messages": [], "thread": {"type": "continue", "previous_message_id": "x"}}
    with pytest.raises(errors.ApiError) as raised:
        message_threads.resolve(body)
    shaped = errors.anthropic_error_body(raised.value, "req_1")["error"]
    assert raised.value.status == 404
    assert shaped["type"] == "not_found_error"
    assert shaped["details"] == {"error_code": "thread_not_found"}


@pytest.mark.parametrize(
    ("thread", "field"),
    [
        ("create", "thread"),
        ({"type": "fork"}, "thread.type"),
        ({"type": "continue"}, "thread.previous_message_id"),
    ],
)
def test_a_malformed_thread_names_the_field(thread, field):
    with pytest.raises(errors.ApiError) as raised:
        message_threads.resolve({**BASE, "messages": [], "thread": thread})
    assert raised.value.status == 400 and raised.value.param == field


def test_the_store_forgets_the_least_recently_used_thread():
    store = message_threads.ThreadStore(capacity=2)
    for name in ("a", "b"):
        store.hold(name, {"fields": {}, "messages": []})
    assert store.get("a") is not None  # "b" is now the oldest
    store.hold("c", {"fields": {}, "messages": []})
    assert store.get("b") is None and store.get("a") is not None and store.get("c") is not None


def test_the_store_keeps_within_its_byte_budget():
    store = message_threads.ThreadStore(capacity=100, max_bytes=300)
    big = {"fields": {}, "messages": ["x" * 100]}
    for name in ("a", "b", "c"):
        store.hold(name, big)  # about 130 bytes each: two fit
    assert [store.get(name) is not None for name in ("a", "b", "c")] == [False, True, True]
    store.hold("huge", {"fields": {}, "messages": ["x" * 400]})
    assert store.get("huge") is None and store.get("c") is not None


def test_structured_scan_ignores_broken_braces():
    text = '{not json} {"a": 1} {'
    assert list(structured._objects_in(text)) == [{"a": 1}]
