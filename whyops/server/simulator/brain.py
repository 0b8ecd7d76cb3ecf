"""The simulated model's decisions, independent of any provider's wire format.

Rules, in order:
1. Tools offered (and not disabled by the tool choice) and the latest user message asks about
   an order, shipping, a refund, or names a tool's subject: call the matching tools. Look-ups
   run first (in parallel when allowed), actions such as refunds once their results are in.
2. Otherwise answer in text, summarising the tool results that came back since the user spoke.
Thinking text accompanies every reply when the request asks for thinking.
"""

from __future__ import annotations

import json
import re

import attrs

from . import phrases, structured, tokens
from .arguments import build_arguments
from .conversation import FORCE_ANY, FORCE_NONE, Conversation, Reply, Tool, ToolCall
from .facts import Facts, find_order_id, parse_result


@attrs.frozen
class Intent:
    name: str
    user_words: tuple[str, ...]
    tool_words: tuple[str, ...]
    is_action: bool = False


INTENTS = (
    Intent("order", ("order", "status", "purchase", "bought", "where is"), ("order",)),
    Intent(
        "shipping",
        ("ship", "deliver", "track", "package", "parcel", "carrier", "will it arrive"),
        ("ship", "track", "deliver"),
    ),
    Intent("refund", ("refund", "money back", "reimburs", "return"), ("refund",), is_action=True),
)
_LOOKUP_VERBS = ("get", "lookup", "look_up", "search", "find", "fetch", "check", "status", "list")
_STOPWORDS_TEXT = (
    "a an the and or for with from into about what when where which your you have has this "
    "that please could would should will can tell give show need want does there their "
    "them then than some make just like know help thanks thank hello "
)
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_FINAL_TOOL = re.compile(r"final[_-]?(result|answer|output|response)", re.IGNORECASE)


def decide(conversation: Conversation) -> Reply:
    """The whole answer: tool calls if the conversation calls for them, else text."""
    calls = plan_tool_calls(conversation)
    if calls:
        return Reply(thinking=_thinking(conversation, calls), tool_calls=calls)
    return Reply(
        text=compose_text(conversation),
        thinking=_thinking(conversation, ()),
        redacted_thinking=conversation.thinking and phrases.wants_redacted_thinking(conversation),
    )


def plan_tool_calls(conversation: Conversation) -> tuple[ToolCall, ...]:
    choice = conversation.tool_choice
    if not conversation.tools or choice.mode == FORCE_NONE:
        return ()
    if choice.name:
        forced = [tool for tool in conversation.tools if tool.name == choice.name]
        return _calls(conversation, forced[:1])
    batch = _planned_batch(conversation)
    if not batch and choice.mode == FORCE_ANY:
        batch = [_next_forced_tool(conversation)]
    return _calls(conversation, batch)


def _planned_batch(conversation: Conversation) -> list[Tool]:
    """The tools the plan still needs: look-ups first, then one action at a time."""
    if any(_failed(content, error) for _, content, error in _results_since_user(conversation)):
        return []  # a failed look-up ends the plan: the user hears about it first
    called = _called_since_user(conversation)
    wanted = matching_tools(conversation)
    remaining = [(tool, action) for tool, action in wanted if tool.name not in called]
    lookups = [tool for tool, action in remaining if not action]
    batch = lookups or [tool for tool, _ in remaining[:1]]
    return batch if conversation.parallel_tool_calls else batch[:1]


def _called_since_user(conversation: Conversation) -> list[str]:
    """Names of the tools called since the user spoke, oldest call first."""
    return [call.name for turn in conversation.turns_since_last_user() for call in turn.tool_calls]


def _next_forced_tool(conversation: Conversation) -> Tool:
    """What a model that must call a tool calls once its plan is done.

    A final-result tool (pydantic-ai's `final_result*`) ends the loop; else a tool not called
    yet; else the one called longest ago, so a forced loop never repeats its last call.
    """
    final = [tool for tool in conversation.tools if is_final_tool(tool)]
    if final:
        return final[0]
    called = _called_since_user(conversation)
    fresh = [tool for tool in conversation.tools if tool.name not in called]
    if fresh:
        return fresh[0]
    last_use = {name: index for index, name in enumerate(called)}
    return min(conversation.tools, key=lambda tool: last_use.get(tool.name, -1))


def is_final_tool(tool: Tool) -> bool:
    """A tool whose call is the answer itself (`final_result`, `final_result_Order`, ...)."""
    return _FINAL_TOOL.match(tool.name) is not None


def _calls(conversation: Conversation, tools: list[Tool]) -> tuple[ToolCall, ...]:
    facts = Facts.from_conversation(conversation)
    return tuple(
        ToolCall(name=tool.name, arguments=build_arguments(tool.schema, facts)) for tool in tools
    )


def matching_tools(conversation: Conversation) -> list[tuple[Tool, bool]]:
    """Tools the latest user message asks for, look-ups before actions, each tool once."""
    text = conversation.last_user_text.lower()
    tools = tuple(tool for tool in conversation.tools if not is_final_tool(tool))
    if not text:
        return []
    chosen: list[tuple[Tool, bool]] = []
    for intent in INTENTS:
        asked = any(word in text for word in intent.user_words)
        if intent.name == "order" and find_order_id(conversation.last_user_text):
            asked = True
        tool = _best_tool(intent, tools) if asked else None
        if tool and all(tool.name != seen.name for seen, _ in chosen):
            chosen.append((tool, intent.is_action))
    if not chosen:
        tool = _tool_by_words(text, tools)
        chosen = [(tool, False)] if tool else []
    return sorted(chosen, key=lambda pair: pair[1])


def _best_tool(intent: Intent, tools: tuple[Tool, ...]) -> Tool | None:
    def score(tool: Tool) -> int:
        name, description = tool.name.lower(), tool.description.lower()
        points = 0
        if any(word in name for word in intent.tool_words):
            points += 4 + (1 if any(verb in name for verb in _LOOKUP_VERBS) else 0)
        elif any(word in description for word in intent.tool_words):
            points += 2
        return points

    scored = [(score(tool), index, tool) for index, tool in enumerate(tools)]
    best = max(scored, key=lambda item: (item[0], -item[1]), default=None)
    return best[2] if best and best[0] > 0 else None


def _words(text: str) -> set[str]:
    parts = re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower())
    return {part for part in parts if len(part) > 3 and part not in _STOPWORDS}


def _tool_by_words(text: str, tools: tuple[Tool, ...]) -> Tool | None:
    asked = _words(text)
    scored = [(len(asked & _words(tool.name)), index, tool) for index, tool in enumerate(tools)]
    best = max(scored, key=lambda item: (item[0], -item[1]), default=None)
    return best[2] if best and best[0] > 0 else None


def compose_text(conversation: Conversation) -> str:
    """The text answer; JSON when the request or the prompt asks for JSON."""
    if conversation.output_schema is not None:
        return structured.schema_answer(conversation, conversation.output_schema)
    if conversation.json_mode or structured.asks_for_json(conversation):
        return structured.json_answer(conversation, _prose(conversation))
    return _prose(conversation)


def _prose(conversation: Conversation) -> str:
    custom = phrases.scripted_text(conversation.last_user_text)
    if custom is not None:
        return custom
    results = _results_since_user(conversation)
    if results:
        return _summarise_results(conversation, results)
    return _plain_answer(conversation)


def _results_since_user(conversation: Conversation) -> list[tuple[str, str, bool]]:
    names = {call.id: call.name for turn in conversation.turns for call in turn.tool_calls}
    return [
        (names.get(result.call_id, "tool"), result.content, result.is_error)
        for turn in conversation.turns_since_last_user()
        for result in turn.results
    ]


def _summarise_results(conversation: Conversation, results: list[tuple[str, str, bool]]) -> str:
    order_id = Facts.from_conversation(conversation).order_id
    opening = f"I checked order {order_id} for you." if order_id else "Here is what I found."
    sentences = [opening]
    for name, content, is_error in results:
        label = name.replace("_", " ")
        if _failed(content, is_error):
            sentences.append(f"The {label} tool reported a problem: {_describe(content)}.")
        else:
            sentences.append(f"From {label}: {_describe(content)}.")
    sentences.append("Is there anything else I can help you with?")
    return " ".join(sentences)


def _failed(content: str, is_error: bool) -> bool:
    """A result flagged as an error, or a JSON object carrying an `error` field."""
    value = parse_result(content)
    return is_error or (isinstance(value, dict) and bool(value.get("error")))


def _describe(content: str, limit: int = 8) -> str:
    value = parse_result(content)
    if isinstance(value, dict):
        pairs = [f"{key.replace('_', ' ')} {_scalar(item)}" for key, item in value.items()]
        return ", ".join(pairs[:limit]) or "no details"
    if isinstance(value, list):
        first = f"; the first is {_describe(json.dumps(value[0]), 4)}" if value else ""
        return f"{len(value)} result{'s' if len(value) != 1 else ''}{first}"
    text = " ".join(str(value).split())
    return text if len(text) <= 300 else text[:299] + "…"


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)[:80]
    return str(value)


_GREETING = "Hello! How can I help you today?"
_REVIEW = re.compile(r"\b(review|evaluate|assess|critique|grade)\b", re.IGNORECASE)
_SUMMARY = re.compile(r"\b(summari[sz]e|summary|tl;?dr)\b", re.IGNORECASE)
_SMALL_TALK = (
    (
        re.compile(r"^(thanks|thank you|thx)\b", re.IGNORECASE),
        "You're welcome! Is there anything else I can help you with?",
    ),
    (re.compile(r"^(bye|goodbye)\b", re.IGNORECASE), "Goodbye, and have a great day!"),
    (re.compile(r"^(hi|hello|hey|good (morning|afternoon|evening))\b", re.IGNORECASE), _GREETING),
)


def _plain_answer(conversation: Conversation) -> str:
    """Deterministic prose for a message no tool answers: tasks, small talk, else a quote."""
    text = " ".join(conversation.last_user_text.split())
    if not text:
        return _GREETING
    if _REVIEW.search(text):
        return (
            "The reply is accurate and friendly: it answers the question directly and states "
            "the next step clearly. No changes needed."
        )
    if _SUMMARY.search(text):
        body = text.split(":", 1)[-1].strip()
        first = re.split(r"(?<=[.!?])\s", body, maxsplit=1)[0]
        return f"Summary: {first if len(first) <= 200 else first[:199] + '…'}"
    order_id = find_order_id(text)
    if order_id:
        return (
            f"I don't have access to the order system right now, so I can't look up order "
            f"{order_id}. Please try again later or contact support."
        )
    for pattern, answer in _SMALL_TALK:
        if pattern.search(text):
            return answer
    snippet = text if len(text) <= 120 else text[:119] + "…"
    return (
        f'You asked: "{snippet}". This is the offline simulator answering; '
        "the same question always gets this same answer."
    )


def _thinking(conversation: Conversation, calls: tuple[ToolCall, ...]) -> str:
    if not conversation.thinking:
        return ""
    asked = " ".join(conversation.last_user_text.split())[:160] or "(no message)"
    if calls:
        plan = "; ".join(f"{c.name}({json.dumps(c.arguments, sort_keys=True)})" for c in calls)
        return f'The user asks: "{asked}". To help, I will call {plan}.'
    results = _results_since_user(conversation)
    if results:
        names = ", ".join(sorted({name for name, _, _ in results}))
        return f"I have the results from {names}. I will summarise them for the user."
    return f'The user says: "{asked}". No tool is needed; I will answer directly.'


def limit_reply(reply: Reply, max_tokens: int | None) -> tuple[Reply, bool]:
    """Cut the text at `max_tokens` output tokens (thinking counts too); True when cut."""
    if max_tokens is None:
        return reply, False
    budget = max_tokens - tokens.count_text(reply.thinking)
    calls = sum(tokens.count_json(call.arguments) for call in reply.tool_calls)
    if tokens.count_text(reply.text) + calls <= budget:
        return reply, False
    keep = max(budget, 0) * tokens.CHARS_PER_TOKEN
    return attrs.evolve(reply, text=reply.text[:keep], tool_calls=()), True
