"""OpenAI ``POST /v1/chat/completions``: events, signatures, stream state."""

from __future__ import annotations

import json
import time
from typing import Any

from whyops.server.proxy import signature
from whyops.server.proxy.events import Draft, compact, error_draft, parse_answer
from whyops.server.proxy.messages import (
    as_dict,
    as_list,
    as_text,
    asks_for_json,
    content_text,
    new_turn,
    pick,
    signature_in,
    strip_content,
    tool_call,
)
from whyops.server.proxy.sse import Frame, encode_frame
from whyops.server.proxy.usage import openai_usage

JSON = dict[str, Any]

PARAMS = {
    "temperature": "temperature",
    "maxTokens": "max_tokens",
    "maxCompletionTokens": "max_completion_tokens",
    "topP": "top_p",
    "frequencyPenalty": "frequency_penalty",
    "presencePenalty": "presence_penalty",
    "reasoningEffort": "reasoning_effort",
    "toolChoice": "tool_choice",
    "responseFormat": "response_format",
    "n": "n",
    "seed": "seed",
    "stop": "stop",
}


def _messages(body: JSON) -> list[Any]:
    messages = body.get("messages")
    return messages if isinstance(messages, list) else []


def _is_assistant(message: Any) -> bool:
    return isinstance(message, dict) and message.get("role") == "assistant"


def request_type(messages: list[Any]) -> str:
    """``tool_result`` when the last non-system message is a tool answer."""
    for message in reversed(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role in ("system", "developer"):
            continue
        return "tool_result" if role in ("tool", "function") else "user_message"
    return "user_message"


def system_prompt(messages: list[Any]) -> str | None:
    for message in messages:
        if isinstance(message, dict) and message.get("role") in ("system", "developer"):
            return content_text(message.get("content"))
    return None


def response_content(message: JSON, answer: JSON) -> JSON:
    calls = [
        tool_call(
            call.get("id"),
            as_dict(call.get("function")).get("name"),
            as_dict(call.get("function")).get("arguments", ""),
        )
        for call in as_list(message.get("tool_calls"))
        if isinstance(call, dict)
    ]
    text = message.get("content")
    return compact(
        {
            "content": signature.strip(text) if isinstance(text, str) else text,
            "toolCalls": calls or None,
            "finishReason": answer.get("finish_reason"),
            "refusal": message.get("refusal"),
            "annotations": message.get("annotations") or None,
        }
    )


def reasoning_draft(text: Any, model: str | None) -> list[Draft]:
    """OpenAI-compatible servers (DeepSeek, vLLM, OpenRouter) return visible reasoning."""
    if not isinstance(text, str) or not text:
        return []
    content = {"type": "thinking", "thinking": text}
    return [Draft("llm_thinking", content, compact({"model": model, "provider": "openai"}))]


def _reasoning_of(message: JSON) -> Any:
    return message.get("reasoning_content") or message.get("reasoning")


def response_metadata(model: Any, usage: Any, latency_ms: int, response_id: Any) -> JSON:
    return compact(
        {
            "model": model or "unknown",
            "provider": "openai",
            "usage": openai_usage(usage),
            "latencyMs": latency_ms,
            "status": "ok",
            "responseId": response_id,
        }
    )


class ChatCompletions:
    provider = "openai"
    span_name = "openai.chat.completions"
    span_kind = "llm"
    upstream_path = "/chat/completions"

    def answer_refs(self, body: JSON) -> list[str]:
        refs: list[Any] = []
        for message in reversed(_messages(body)):
            if isinstance(message, dict):
                refs.append(message.get("tool_call_id"))
                refs.extend(as_dict(call).get("id") for call in as_list(message.get("tool_calls")))
        return [ref for ref in refs if isinstance(ref, str)]

    def find_trace_id(self, body: JSON) -> str | None:
        for message in reversed(_messages(body)):
            if _is_assistant(message):
                found = signature_in(message.get("content"))
                if found:
                    return found
        return None

    def strip_signatures(self, body: JSON) -> bool:
        changed = False
        for message in _messages(body):
            if isinstance(message, dict) and "content" in message:
                content, stripped = strip_content(message["content"])
                if stripped:
                    message["content"] = content or (None if message.get("tool_calls") else "")
                    changed = True
        return changed

    def request_draft(self, body: JSON) -> Draft:
        messages = _messages(body)
        metadata = compact(
            {
                "model": body.get("model"),
                "provider": "openai",
                "systemPrompt": system_prompt(messages),
                "tools": body.get("tools"),
                "params": pick(body, PARAMS) or None,
                "stream": bool(body.get("stream")),
                "messageCount": len(messages),
            }
        )
        content = {"messages": new_turn(messages, _is_assistant)}
        return Draft(request_type(messages), content, metadata)

    def response_drafts(self, body: JSON, answer: Any, latency_ms: int) -> list[Draft]:
        if not isinstance(answer, dict):
            return [
                error_draft(
                    None, answer, model=body.get("model"), provider="openai", latency_ms=latency_ms
                )
            ]
        choices = as_list(answer.get("choices"))
        first = as_dict(choices[0]) if choices else {}
        message = as_dict(first.get("message"))
        model = answer.get("model") or body.get("model")
        metadata = response_metadata(model, answer.get("usage"), latency_ms, answer.get("id"))
        drafts = reasoning_draft(_reasoning_of(message), model)
        drafts.append(Draft("llm_response", response_content(message, first), metadata))
        return drafts

    def inject_signature(self, body: JSON, answer: Any, signature_text: str) -> bool:
        if asks_for_json(body) or not isinstance(answer, dict):
            return False
        choices = as_list(answer.get("choices"))
        message = as_dict(choices[0]).get("message") if choices else None
        if not isinstance(message, dict):
            return False
        text = message.get("content")
        if not isinstance(text, str) or not text:
            return False
        message["content"] = text + signature_text
        return True

    def stream_state(self, body: JSON, signature_text: str | None) -> ChatStreamState:
        allowed = signature_text if not asks_for_json(body) else None
        return ChatStreamState(body.get("model"), allowed)


def openai_error(message: str, kind: str) -> JSON:
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


class ChatStreamState:
    """Rebuilds a chat stream; slips the signature chunk in before ``data: [DONE]``."""

    rewrites = True

    def __init__(self, model: str | None, signature_text: str | None) -> None:
        self.model = model
        self.signature = signature_text
        self.chunk_id: str | None = None
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.refusal: list[str] = []
        self.calls: dict[int, JSON] = {}
        self.finish_reason: str | None = None
        self.usage: Any = None
        self.error: Any = None

    def record_frame(self, frame: Frame) -> bytes:
        data = frame.data
        if data is None:
            return frame.raw
        if data == "[DONE]":
            return self._signature_frame() + frame.raw
        try:
            chunk = parse_answer(data)
        except ValueError:
            return frame.raw
        if isinstance(chunk, dict):
            self._record_chunk(chunk)
        return frame.raw

    def _record_chunk(self, chunk: JSON) -> None:
        if "error" in chunk:
            self.error = chunk
            return
        self.chunk_id = self.chunk_id or chunk.get("id")
        self.model = chunk.get("model") or self.model
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in as_list(chunk.get("choices")):
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                self._record_choice(choice)

    def _record_choice(self, choice: JSON) -> None:
        delta = as_dict(choice.get("delta"))
        for key, sink in (
            ("content", self.text),
            ("refusal", self.refusal),
            ("reasoning_content", self.reasoning),
            ("reasoning", self.reasoning),
        ):
            piece = delta.get(key)
            if isinstance(piece, str):
                sink.append(piece)
        for call in as_list(delta.get("tool_calls")):
            if isinstance(call, dict):
                self._record_call(call)
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]

    def _record_call(self, call: JSON) -> None:
        index = call.get("index")
        slot = self.calls.setdefault(
            index if isinstance(index, int) else 0, {"id": None, "name": "", "args": []}
        )
        slot["id"] = call.get("id") or slot["id"]
        function = as_dict(call.get("function"))
        slot["name"] = function.get("name") or slot["name"]
        slot["args"].append(as_text(function.get("arguments")))

    def _signature_frame(self) -> bytes:
        if not self.signature or not "".join(self.text):
            return b""
        chunk = {
            "id": self.chunk_id or "gen-signature",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model or "unknown",
            "choices": [{"index": 0, "delta": {"content": self.signature}, "finish_reason": None}],
        }
        return encode_frame(json.dumps(chunk, ensure_ascii=False, separators=(",", ":")))

    def drain(self) -> bytes:
        return b""

    def finish(self, latency_ms: int, aborted: str | None) -> list[Draft]:
        if self.error is not None:
            return [
                error_draft(
                    None, self.error, model=self.model, provider="openai", latency_ms=latency_ms
                )
            ]
        message = {
            "content": "".join(self.text) if self.text else None,
            "refusal": "".join(self.refusal) or None,
            "tool_calls": [
                {
                    "id": slot["id"],
                    "function": {"name": slot["name"], "arguments": "".join(slot["args"])},
                }
                for _, slot in sorted(self.calls.items())
            ],
        }
        metadata = response_metadata(self.model, self.usage, latency_ms, self.chunk_id)
        metadata.update(compact({"stream": True, "aborted": aborted}))
        drafts = reasoning_draft("".join(self.reasoning), self.model)
        content = response_content(message, {"finish_reason": self.finish_reason})
        drafts.append(Draft("llm_response", content, metadata))
        return drafts
