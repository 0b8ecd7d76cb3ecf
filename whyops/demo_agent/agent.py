"""A customer-support agent traced with whyops.

Each customer turn is one trace: ``@whyops.agent`` opens the root span, the OpenAI
model decides which ``@whyops.tool`` functions to call, and an Anthropic model with
extended thinking reviews the reply before it goes out. Both provider clients go
through the whyops proxy (``sdk.openai()`` / ``sdk.anthropic()``), so every model
call lands in the same trace tree, under the span that made it.

``whyops demo`` runs it against a server it starts; ``python -m examples.support_agent``
(in a checkout) runs it against the server in ``WHYOPS_BASE_URL``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import whyops

from .tools import CARRIER, TOOL_FUNCTIONS, CarrierTimeout, agent_metadata_tools, openai_tools

AGENT_NAME = "support-agent"
CHAT_MODEL = "gpt-4o-mini"
REVIEW_MODEL = "claude-sonnet-4-6"
MAX_STEPS = 5
SYSTEM_PROMPT = (
    "You are Sam, the customer support agent of Northwind Outfitters.\n"
    "Look orders up before answering questions about them, track parcels when asked\n"
    "where they are, and refund delivered orders that arrived damaged.\n"
    "Be brief and friendly."
)


@dataclass(frozen=True)
class Session:
    """One customer's conversation: a thread of turns, asked one after the other."""

    user_id: str
    thread_id: str
    questions: tuple[str, ...]


@dataclass(frozen=True)
class Turn:
    trace_id: str
    thread_id: str
    user_id: str
    question: str
    reply: str


SESSIONS = (
    Session("alice@example.com", "thread-alice", ("Where is my order A1001?",)),
    Session("bob@example.com", "thread-bob", ("Can you track the parcel for order B2002?",)),
    Session(
        "carol@example.com",
        "thread-carol",
        (
            "Hi! What is the status of order C3003?",
            "It arrived broken. Please refund order C3003.",
        ),
    ),
    Session("dave@example.com", "thread-dave", ("Has order D4004 shipped yet?",)),
)


class SupportAgent:
    """Answers customer questions with tools, and has each reply reviewed."""

    def __init__(self, base_url: str, api_key: str) -> None:
        from anthropic import AsyncAnthropic
        from openai import AsyncOpenAI

        self.sdk = whyops.WhyOps(
            api_key=api_key,
            agent_name=AGENT_NAME,
            agent_metadata={"systemPrompt": SYSTEM_PROMPT, "tools": agent_metadata_tools()},
            proxy_base_url=base_url,
            analyse_base_url=f"{base_url}/api",
        )
        self.sdk.init_agent_sync()
        # Pointed at the whyops server from the start (sdk.openai()/sdk.anthropic() do it too),
        # so no request can reach a hosted API even before patching.
        openai = AsyncOpenAI(api_key=api_key, base_url=f"{base_url}/v1", max_retries=0)
        anthropic = AsyncAnthropic(api_key=api_key, base_url=base_url, max_retries=0)
        self.openai = self.sdk.openai(openai)
        self.anthropic = self.sdk.anthropic(anthropic)
        self.histories: dict[str, list[dict[str, Any]]] = {}

    async def run_session(
        self, session: Session, on_turn: Callable[[Turn], None] | None = None
    ) -> list[Turn]:
        turns = []
        for question in session.questions:
            with whyops.trace_context(
                thread_id=session.thread_id, external_user_id=session.user_id
            ) as trace:
                reply = await self.answer(question, thread_id=session.thread_id)
            turn = Turn(trace.trace_id, session.thread_id, session.user_id, question, reply)
            turns.append(turn)
            if on_turn is not None:
                on_turn(turn)
        return turns

    @whyops.agent(name=AGENT_NAME)
    async def answer(self, question: str, thread_id: str) -> str:
        history = self.histories.setdefault(thread_id, [])
        history.append({"role": "user", "content": question})
        reply = await self.converse(history)
        history.append({"role": "assistant", "content": reply})
        await self.review(question, reply)
        return reply

    async def converse(self, history: list[dict[str, Any]]) -> str:
        messages: list[Any] = [{"role": "system", "content": SYSTEM_PROMPT}, *history]
        for _ in range(MAX_STEPS):
            response = await self.openai.chat.completions.create(
                model=CHAT_MODEL, messages=messages, tools=openai_tools()
            )
            message = response.choices[0].message
            if not message.tool_calls:
                return message.content or ""
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                if call.type != "function":  # free-form custom tools: this agent has none
                    continue
                result = await self.call_tool(call.function.name, call.function.arguments)
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
                )
        return "Sorry, I could not finish looking into that."

    async def call_tool(self, name: str, arguments: str) -> Any:
        tool = TOOL_FUNCTIONS.get(name)
        if tool is None:
            return {"error": f"unknown tool {name}"}
        kwargs = json.loads(arguments or "{}")
        for attempt in (1, 2):
            try:
                return await tool(**kwargs)
            except CarrierTimeout as exc:
                if attempt == 2:
                    return {"error": str(exc)}
        return None

    @whyops.span
    async def review(self, question: str, reply: str) -> str:
        response = await self.anthropic.messages.create(
            model=REVIEW_MODEL,
            max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[
                {
                    "role": "user",
                    "content": "Review this support reply for accuracy and tone.\n"
                    f"Customer: {question}\nReply: {reply}",
                }
            ],
        )
        return "".join(block.text for block in response.content if block.type == "text")


async def run_sessions(
    base_url: str,
    api_key: str,
    sessions: tuple[Session, ...] = SESSIONS,
    on_turn: Callable[[Turn], None] | None = None,
) -> list[Turn]:
    """Run every session concurrently; returns the turns in session order.

    Configures whyops to report to ``base_url`` and flushes before returning, so every
    span of the returned turns has been handed to the server.
    """
    whyops.configure(api_key=api_key, base_url=base_url, agent_name=AGENT_NAME)
    CARRIER.reset()
    agent = SupportAgent(base_url, api_key)
    results = await asyncio.gather(*(agent.run_session(s, on_turn) for s in sessions))
    await asyncio.to_thread(whyops.flush, 10.0)
    return [turn for turns in results for turn in turns]
