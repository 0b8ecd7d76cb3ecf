"""The provider-neutral brain: facts, arguments fitted to schemas, tool choice, limits."""

from __future__ import annotations

import pytest

from whyops.server.simulator import brain, tokens
from whyops.server.simulator.arguments import build_arguments
from whyops.server.simulator.conversation import (
    FORCE_ANY,
    FORCE_NONE,
    Conversation,
    Reply,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
    Turn,
)
from whyops.server.simulator.facts import Facts, find_order_id

ORDER_TOOL = Tool(
    "lookup_order",
    "Find an order",
    {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
)
WEATHER_TOOL = Tool(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def ask(text: str, *tools: Tool, **kwargs) -> Conversation:
    return Conversation(model="gpt-4o", turns=(Turn("user", text=text),), tools=tools, **kwargs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("where is #1234", "1234"),
        ("my order 5678 is late", "5678"),
        ("order number 42 please", "42"),
        ("status of ORD-123?", "ORD-123"),
        ("status of ord_77", "ORD_77"),
        ("ticket AB-991 about my parcel", "AB-991"),
        ("hello there", None),
    ],
)
def test_order_ids(text, expected):
    assert find_order_id(text) == expected


def test_facts_prefer_the_latest_user_message():
    conversation = Conversation(
        model="m",
        turns=(
            Turn("user", text="order #111, mail me at a@b.co"),
            Turn("assistant", text="ok"),
            Turn("user", text="actually order #222, refund $12.50"),
        ),
    )
    facts = Facts.from_conversation(conversation)
    assert facts.order_id == "222"
    assert facts.email == "a@b.co"
    assert facts.amount == 12.5


def test_arguments_fit_types_enums_and_nesting():
    schema = {
        "type": "object",
        "properties": {
            "order_id": {"type": "integer"},
            "priority": {"type": "string", "enum": ["low", "urgent"]},
            "notify": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "customer": {
                "type": "object",
                "properties": {"email": {"type": ["string", "null"]}},
                "required": ["email"],
            },
            "optional_note": {"type": "string"},
        },
        "required": ["order_id", "priority", "notify", "tags", "customer"],
    }
    facts = Facts.from_conversation(ask("urgent: order #981 broke, write to me@x.io"))
    arguments = build_arguments(schema, facts)
    assert arguments == {
        "order_id": 981,
        "priority": "urgent",
        "notify": True,
        "tags": ["urgent: order #981 broke, write to me@x.io"],
        "customer": {"email": "me@x.io"},
        "optional_note": "urgent: order #981 broke, write to me@x.io",
    }


def test_tool_matched_by_words_when_no_intent_applies():
    reply = brain.decide(ask("What's the weather in Paris?", ORDER_TOOL, WEATHER_TOOL))
    assert reply.tool_calls == (ToolCall("get_weather", {"city": "Paris"}),)


def test_tool_choice_none_any_and_parallel():
    assert brain.decide(ask("order #1", ORDER_TOOL, tool_choice=ToolChoice(FORCE_NONE))).text
    forced = brain.decide(ask("hello", WEATHER_TOOL, tool_choice=ToolChoice(FORCE_ANY)))
    assert [call.name for call in forced.tool_calls] == ["get_weather"]
    shipping = Tool("track_shipment", "Track a parcel", ORDER_TOOL.schema)
    both = brain.decide(ask("track the package of order #7", ORDER_TOOL, shipping))
    assert [call.name for call in both.tool_calls] == ["lookup_order", "track_shipment"]
    one = brain.decide(
        ask("track the package of order #7", ORDER_TOOL, shipping, parallel_tool_calls=False)
    )
    assert [call.name for call in one.tool_calls] == ["lookup_order"]


def test_results_are_summarised_and_not_called_again():
    conversation = Conversation(
        model="m",
        tools=(ORDER_TOOL,),
        turns=(
            Turn("user", text="where is order #5?"),
            Turn("assistant", tool_calls=(ToolCall("lookup_order", {"order_id": "5"}, "c1"),)),
            Turn("tool", results=(ToolResult("c1", '{"status": "lost", "items": [1, 2]}'),)),
        ),
    )
    reply = brain.decide(conversation)
    assert not reply.tool_calls
    assert reply.text == (
        "I checked order 5 for you. From lookup order: status lost, items [1, 2]. "
        "Is there anything else I can help you with?"
    )


def test_thinking_only_when_asked():
    assert brain.decide(ask("hi")).thinking == ""
    assert "answer directly" in brain.decide(ask("hi", thinking=True)).thinking


def test_limit_reply_counts_thinking():
    reply = Reply(text="word " * 100, thinking="x" * 40)
    limited, cut = brain.limit_reply(reply, 20)
    assert cut
    assert tokens.count_text(limited.thinking) + tokens.count_text(limited.text) <= 20
    assert brain.limit_reply(reply, 1000) == (reply, False)


def test_stream_pieces_join_back():
    text = "  Hello,\n world  of   streaming text!  "
    assert "".join(tokens.stream_pieces(text)) == text
    assert tokens.stream_pieces("") == []


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("Hi!", "Hello! How can I help"),
        ("Thanks a lot", "You're welcome!"),
        ("Review this reply for tone.\nReply: ok", "The reply is accurate"),
        (
            "Summarize this: The parcel left Leipzig. It arrives tomorrow.",
            "Summary: The parcel left",
        ),
        ("Hi! Where is order A1001?", "I don't have access to the order system"),
        ("What are your opening hours?", 'You asked: "What are your opening hours?"'),
    ],
)
def test_plain_answers(text, start):
    assert brain.decide(ask(text)).text.startswith(start)
