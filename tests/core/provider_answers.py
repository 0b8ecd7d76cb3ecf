"""Recorded provider answers (OpenAI chat, OpenAI Responses, Anthropic), how the providers
stream them, and a fake provider on 127.0.0.1 that returns them."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable
from typing import Any

CHAT_ANSWER: dict[str, Any] = {
    "id": "chatcmpl-drift",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-drift",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "logprobs": None,
            "message": {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "reasoning_content": "Two lookups are needed.",
                "tool_calls": [
                    {
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"order": 42}'},
                    },
                    {
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "refund", "arguments": '{"amount":"9.99"}'},
                    },
                ],
            },
        }
    ],
    "usage": {
        "prompt_tokens": 120,
        "completion_tokens": 45,
        "total_tokens": 165,
        "prompt_tokens_details": {"cached_tokens": 64, "cache_write_tokens": 32},
        "completion_tokens_details": {"reasoning_tokens": 30},
    },
}
RESPONSES_ANSWER: dict[str, Any] = {
    "id": "resp_drift",
    "object": "response",
    "created_at": 1700000000,
    "model": "o-drift",
    "status": "completed",
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "output": [
        {
            "id": "rs_1",
            "type": "reasoning",
            "summary": [
                {"type": "summary_text", "text": "Check the order."},
                {"type": "summary_text", "text": "Then refund it."},
            ],
            "encrypted_content": "enc-blob-1",
        },
        {"id": "rs_2", "type": "reasoning", "summary": [], "encrypted_content": "enc-blob-2"},
        {
            "id": "fc_1",
            "type": "function_call",
            "call_id": "call_r",
            "name": "refund",
            "arguments": '{"order":42}',
            "status": "completed",
        },
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Refunding.", "annotations": []}],
        },
    ],
    "usage": {
        "input_tokens": 200,
        "input_tokens_details": {"cached_tokens": 128},
        "output_tokens": 80,
        "output_tokens_details": {"reasoning_tokens": 50},
        "total_tokens": 280,
    },
}
ANTHROPIC_ANSWER: dict[str, Any] = {
    "id": "msg_drift",
    "type": "message",
    "role": "assistant",
    "model": "claude-drift",
    "content": [
        {"type": "thinking", "thinking": "The order is late.", "signature": "sig-a"},
        {"type": "redacted_thinking", "data": "opaque-b"},
        {"type": "text", "text": "I will refund it."},
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "refund",
            "input": {"order": 42, "why": "late"},
        },
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 50,
        "output_tokens": 70,
        "cache_creation_input_tokens": 300,
        "cache_read_input_tokens": 1000,
        "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
    },
}

# What both paths must record for these answers (llm_response content, usage, thinking).
EXPECTED: dict[str, dict[str, Any]] = {
    "chat": {
        "response": {
            # OpenAI's tool call shape is WhyOps': recorded as given, arguments untouched
            "toolCalls": CHAT_ANSWER["choices"][0]["message"]["tool_calls"],
            "finishReason": "tool_calls",
        },
        "usage": {
            "promptTokens": 120,
            "completionTokens": 45,
            "totalTokens": 165,
            "cacheReadTokens": 64,
            "cacheCreationTokens": 32,
            "reasoningTokens": 30,
        },
        "thinking": [{"type": "thinking", "thinking": "Two lookups are needed."}],
    },
    "responses": {
        "response": {
            "content": "Refunding.",
            "toolCalls": [
                {
                    "id": "call_r",
                    "type": "function",
                    "function": {"name": "refund", "arguments": '{"order":42}'},
                }
            ],
            "finishReason": "completed",
        },
        "usage": {
            "promptTokens": 200,
            "completionTokens": 80,
            "totalTokens": 280,
            "cacheReadTokens": 128,
            "reasoningTokens": 50,
        },
        "thinking": [
            {
                "type": "thinking",
                "thinking": "Check the order.\n\nThen refund it.",
                "signature": "enc-blob-1",
            },
            {"type": "redacted_thinking", "data": "enc-blob-2"},
        ],
    },
    "anthropic": {
        "response": {
            "content": "I will refund it.",
            "toolCalls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "refund", "arguments": '{"order": 42, "why": "late"}'},
                }
            ],
            "finishReason": "tool_use",
        },
        "usage": {
            "promptTokens": 50,
            "completionTokens": 70,
            "totalTokens": 1420,
            "cacheReadTokens": 1000,
            "cacheCreationTokens": 300,
            "cacheWrite5mTokens": 100,
            "cacheWrite1hTokens": 200,
        },
        "thinking": [
            {"type": "thinking", "thinking": "The order is late.", "signature": "sig-a"},
            {"type": "redacted_thinking", "data": "opaque-b"},
        ],
    },
}


# -- the answers as the providers stream them ---------------------------------------------


def _frame(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return (
        head + "data: " + (data if isinstance(data, str) else json.dumps(data)) + "\n\n"
    ).encode()


def chat_stream(answer: dict[str, Any]) -> bytes:
    head = {k: answer[k] for k in ("id", "created", "model")}
    head["object"] = "chat.completion.chunk"
    choice, message = answer["choices"][0], answer["choices"][0]["message"]
    # OpenAI opens with "" for a text answer, null for tool calls alone.
    opening = None if message.get("content") is None else ""
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": opening}]
    if message.get("reasoning_content"):
        deltas.append({"reasoning_content": message["reasoning_content"]})
    if message.get("content"):
        deltas.append({"content": message["content"]})
    for index, call in enumerate(message.get("tool_calls") or []):
        function, arguments = call["function"], call["function"]["arguments"]
        start = {"name": function["name"], "arguments": arguments[:3]}
        deltas.append(
            {
                "tool_calls": [
                    {"index": index, "id": call["id"], "type": "function", "function": start}
                ]
            }
        )
        deltas.append({"tool_calls": [{"index": index, "function": {"arguments": arguments[3:]}}]})
    chunks = [
        {**head, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas
    ]
    chunks.append(
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]}
    )
    chunks.append({**head, "choices": [], "usage": answer["usage"]})
    return b"".join(_frame(chunk) for chunk in chunks) + _frame("[DONE]")


def _anthropic_block_events(index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    kind = block["type"]
    if kind == "redacted_thinking":
        started, deltas = block, []
    elif kind == "thinking":
        started = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [
            {"type": "thinking_delta", "thinking": block["thinking"]},
            {"type": "signature_delta", "signature": block["signature"]},
        ]
    elif kind == "text":
        started, deltas = (
            {"type": "text", "text": ""},
            [{"type": "text_delta", "text": block["text"]}],
        )
    else:
        started = {**block, "input": {}}
        raw = json.dumps(block["input"])
        deltas = [
            {"type": "input_json_delta", "partial_json": raw[:5]},
            {"type": "input_json_delta", "partial_json": raw[5:]},
        ]
    return [
        {"type": "content_block_start", "index": index, "content_block": started},
        *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
        {"type": "content_block_stop", "index": index},
    ]


def anthropic_stream(answer: dict[str, Any]) -> bytes:
    usage = answer["usage"]
    start = {**answer, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(answer["content"]):
        events.extend(_anthropic_block_events(index, block))
    stop = {"stop_reason": answer["stop_reason"], "stop_sequence": None}
    events.append(
        {"type": "message_delta", "delta": stop, "usage": {"output_tokens": usage["output_tokens"]}}
    )
    events.append({"type": "message_stop"})
    return b"".join(_frame(event, event["type"]) for event in events)


def responses_stream(answer: dict[str, Any]) -> bytes:
    created = {**answer, "status": "in_progress", "output": [], "usage": None}
    events: list[dict[str, Any]] = [{"type": "response.created", "response": created}]
    for index, item in enumerate(answer["output"]):
        events.append({"type": "response.output_item.added", "output_index": index, "item": item})
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    events.append({"type": "response.completed", "response": answer})
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return b"".join(_frame(event, event["type"]) for event in events)


STREAMS: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "/v1/chat/completions": chat_stream,
    "/v1/messages": anthropic_stream,
    "/v1/responses": responses_stream,
}


class FakeProvider:
    """A provider on 127.0.0.1 that answers every model call with ``answer``.

    A request asking for a stream gets the answer as that provider streams it.
    """

    def __init__(self) -> None:
        self.answer: dict[str, Any] = {}
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go as they are written

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if request.get("stream"):
                    body, kind = STREAMS[self.path](provider.answer), "text/event-stream"
                else:
                    body, kind = json.dumps(provider.answer).encode(), "application/json"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
