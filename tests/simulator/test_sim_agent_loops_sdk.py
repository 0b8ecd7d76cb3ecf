"""Agent loops through the real openai and anthropic SDKs: forced tool choice moves on, JSON
mode follows the prompt's schema, all-optional schemas get filled, and the anthropic tool
runner (server-held threads) names its tool."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pydantic
import pytest

ORDER_PARAMS = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}},
    "required": ["order_id"],
}
FINAL_PARAMS = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}, "status": {"type": "string"}},
    "required": ["order_id", "status"],
}
SHIPPED = {"order_id": "1234", "status": "shipped"}
ASK = "Where is order 1234?"


class OrderStatus(pydantic.BaseModel):
    order_id: str
    status: str


def chat_tool(name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": parameters}}


def test_chat_required_tool_choice_moves_on_to_the_final_result(oai):
    tools = [chat_tool("get_order", ORDER_PARAMS), chat_tool("final_result", FINAL_PARAMS)]
    messages: list[dict[str, Any]] = [{"role": "user", "content": ASK}]
    called = []
    for _ in range(4):
        completion = oai.chat.completions.create(
            model="gpt-4o-mini", messages=messages, tools=tools, tool_choice="required"
        )
        [call] = completion.choices[0].message.tool_calls
        called.append(call.function.name)
        if call.function.name == "final_result":
            final = OrderStatus.model_validate_json(call.function.arguments)
            break
        messages.append(completion.choices[0].message.model_dump(exclude_none=True))
        messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(SHIPPED)})
    assert called == ["get_order", "final_result"]
    assert final == OrderStatus(**SHIPPED)


def test_responses_required_tool_choice_moves_on_to_the_final_result(oai):
    tools = [
        {"type": "function", "name": "get_order", "parameters": ORDER_PARAMS},
        {"type": "function", "name": "final_result", "parameters": FINAL_PARAMS},
    ]
    first = oai.responses.create(
        model="gpt-4o-mini", input=ASK, tools=tools, tool_choice="required"
    )
    [lookup] = first.output
    assert lookup.type == "function_call" and lookup.name == "get_order"
    history = [
        {"role": "user", "content": ASK},
        {"type": "function_call", "call_id": lookup.call_id, "name": lookup.name,
         "arguments": lookup.arguments},
        {"type": "function_call_output", "call_id": lookup.call_id, "output": json.dumps(SHIPPED)},
    ]  # fmt: skip
    second = oai.responses.create(
        model="gpt-4o-mini", input=history, tools=tools, tool_choice="required"
    )
    [final] = second.output
    assert final.name == "final_result"
    assert OrderStatus.model_validate_json(final.arguments) == OrderStatus(**SHIPPED)


def test_anthropic_any_tool_choice_moves_on_to_the_other_tool(claude):
    tools = [
        {"name": "get_order", "input_schema": ORDER_PARAMS},
        {"name": "final_result", "input_schema": FINAL_PARAMS},
    ]
    messages: list[dict[str, Any]] = [{"role": "user", "content": ASK}]
    first = claude.messages.create(
        model="claude-sonnet-4-5", max_tokens=500, messages=messages, tools=tools,
        tool_choice={"type": "any"},
    )  # fmt: skip
    [lookup] = [block for block in first.content if block.type == "tool_use"]
    assert lookup.name == "get_order"
    messages += [
        {"role": "assistant", "content": [block.model_dump() for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": lookup.id,
                                      "content": json.dumps(SHIPPED)}]},
    ]  # fmt: skip
    second = claude.messages.create(
        model="claude-sonnet-4-5", max_tokens=500, messages=messages, tools=tools,
        tool_choice={"type": "any"},
    )  # fmt: skip
    [final] = [block for block in second.content if block.type == "tool_use"]
    assert final.name == "final_result" and final.input == SHIPPED


class User(pydantic.BaseModel):
    name: str
    age: int


SCHEMA_PROMPT = (
    "Extract the user. Answer in json that matches the following json_schema:\n\n"
    + json.dumps(User.model_json_schema(), indent=2)
)


def test_json_mode_answers_the_schema_given_in_the_prompt(oai):
    completion = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": SCHEMA_PROMPT},
            {"role": "user", "content": "Jason is 25 years old"},
        ],
        response_format={"type": "json_object"},
    )
    user = User.model_validate_json(completion.choices[0].message.content)
    assert user.age == 25


def test_responses_json_mode_answers_the_schema_given_in_the_prompt(oai):
    response = oai.responses.create(
        model="gpt-4o-mini",
        instructions=SCHEMA_PROMPT,
        input="Jason is 25 years old",
        text={"format": {"type": "json_object"}},
    )
    assert User.model_validate_json(response.output_text).age == 25


def test_markdown_json_is_fenced_and_parses(oai):
    completion = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": SCHEMA_PROMPT},
            {"role": "user", "content": "Jason is 25. Return the JSON in a ```json codeblock."},
        ],
    )
    text = completion.choices[0].message.content
    assert text.startswith("```json\n") and text.endswith("\n```")
    assert User.model_validate_json(text.removeprefix("```json\n").removesuffix("\n```"))


def test_anthropic_prompt_asking_for_json_gets_json(claude):
    message = claude.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=500,
        system=SCHEMA_PROMPT,
        messages=[{"role": "user", "content": "Jason is 25 years old"}],
    )
    assert User.model_validate_json(message.content[0].text).age == 25


class Users(pydantic.BaseModel):
    tasks: list[User] = pydantic.Field(default_factory=list)


def test_a_tool_whose_properties_are_all_optional_gets_them_filled(oai):
    schema = {**Users.model_json_schema(), "required": []}
    completion = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Jason is 25 years old"}],
        tools=[chat_tool("IterableUser", schema)],
        tool_choice={"type": "function", "function": {"name": "IterableUser"}},
    )
    [call] = completion.choices[0].message.tool_calls
    assert Users.model_validate_json(call.function.arguments).tasks == [
        User(name="Jason is 25 years old", age=25)
    ]


@anthropic.beta_tool
def get_order(order_id: str) -> str:
    """Look up an order by its id."""
    return json.dumps({**SHIPPED, "order_id": order_id})


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_tool_runner_names_the_tool(claude, stream):
    runner = claude.beta.messages.tool_runner(
        model="claude-sonnet-4-5", max_tokens=1000, tools=[get_order], stream=stream,
        messages=[{"role": "user", "content": ASK}],
    )  # fmt: skip
    if stream:
        replies = [message_stream.get_final_message() for message_stream in runner]
    else:
        replies = list(runner)
    assert [block.type for block in replies[0].content] == ["tool_use"]
    text = replies[-1].content[-1].text
    assert "From get order: order id 1234, status shipped." in text
    assert "From tool" not in text


def test_continuing_an_unknown_thread_is_a_not_found_error_the_sdk_can_read(claude):
    with pytest.raises(anthropic.NotFoundError) as raised:
        claude.messages.create(
            model="claude-sonnet-4-5", max_tokens=100,
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"thread": {"type": "continue", "previous_message_id": "msg_gone"}},
        )  # fmt: skip
    assert raised.value.body["error"]["details"] == {"error_code": "thread_not_found"}
