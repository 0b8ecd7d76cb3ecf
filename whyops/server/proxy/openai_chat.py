"""OpenAI ``POST /v1/chat/completions``: events, signatures, stream state."""

from __future__ import annotations

from typing import Any

from whyops.server.proxy import chat_chunks, signature
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
from whyops.server.proxy.sse import Frame
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

    def upstream_body(self, body: JSON) -> JSON:
        """Streams always ask for usage, so it is recorded; the client sees what it asked for."""
        return chat_chunks.with_usage_requested(body)

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
        if not isinstance(text, str) or not may_sign(text, message.get("refusal"), message):
            return False
        message["content"] = text + signature_text
        return True

    def stream_state(self, body: JSON, signature_text: str | None) -> ChatStreamState:
        allowed = signature_text if not asks_for_json(body) else None
        return ChatStreamState(
            body.get("model"), allowed, client_usage=chat_chunks.asks_for_usage(body)
        )


def may_sign(text: str, refusal: Any, message: JSON) -> bool:
    """Prose only: no refusal, no tool calls (their ids carry the trace), nothing parseable."""
    return not refusal and not message.get("tool_calls") and signature.signable(text)


def _first_choice(chunk: JSON) -> tuple[int, JSON] | None:
    """(position, choice) of the recorded choice (index 0) in a chunk, if it holds one."""
    for position, choice in enumerate(as_list(chunk.get("choices"))):
        if isinstance(choice, dict) and choice.get("index", 0) == 0:
            return position, choice
    return None


def openai_error(message: str, kind: str) -> JSON:
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


class ChatStreamState:
    """Rebuilds a chat stream; signs it before its finish chunk; hides unrequested usage.

    The signature is one more content chunk (shaped like the finish chunk) right before
    the finish chunk, or appended to the finish chunk's own content, so nothing but
    usage and ``[DONE]`` ever follows the finish reason. Whether to sign is decided
    there, on the whole text. ``client_usage``: whether the client asked for usage; if
    not, the usage-only chunk and ``"usage": null`` fields are taken out.
    """

    rewrites = True

    def __init__(
        self, model: str | None, signature_text: str | None, *, client_usage: bool = True
    ) -> None:
        self.model = model
        self.signature = signature_text
        self.client_usage = client_usage
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
        if data is None or data == "[DONE]":
            return frame.raw
        try:
            chunk = parse_answer(data)
        except ValueError:
            return frame.raw
        if not isinstance(chunk, dict):
            return frame.raw
        self._record_chunk(chunk)
        if self.client_usage:
            raw = frame.raw
        elif chat_chunks.is_usage_only(chunk):
            return b""
        else:
            raw = chat_chunks.without_null_usage(chunk, frame.raw)
        finishing = _first_choice(chunk) if self.signature else None
        if finishing is not None and finishing[1].get("finish_reason"):
            return self._signed(chunk, finishing[0], raw)
        return raw

    def _signed(self, finish: JSON, index: int, raw: bytes) -> bytes:
        """The finish chunk, with the signature before it when the answer may be signed."""
        sign, self.signature = self.signature, None
        text = "".join(self.text)
        message = {"tool_calls": self.calls}
        if not sign or not may_sign(text, "".join(self.refusal), message):
            return raw
        delta = as_dict(finish["choices"][index].get("delta"))
        if isinstance(delta.get("content"), str) and delta["content"]:
            return chat_chunks.with_text_appended(finish, index, sign, self.client_usage)
        return chat_chunks.signature_chunk(finish, index, sign, self.client_usage) + raw

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
