"""OpenAI ``POST /v1/chat/completions``: its spec, answer shaping, signing, stream state."""

from __future__ import annotations

from typing import Any

from whyops.server.proxy import chat_chunks, signature
from whyops.server.proxy.events import Draft, compact, parse_answer
from whyops.server.proxy.messages import as_dict, as_list, as_text
from whyops.server.proxy.providers import OPENAI
from whyops.server.proxy.spec import JSON, RouteSpec
from whyops.server.proxy.sse import Frame
from whyops.wire import shape

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


def item_refs(message: JSON) -> list[Any]:
    """The tool call a ``tool`` message answers, the calls an assistant message replays."""
    calls = as_list(message.get("tool_calls"))
    return [message.get("tool_call_id"), *(as_dict(call).get("id") for call in calls)]


def emptied_text(message: JSON) -> Any:
    """OpenAI refuses an empty part list: no text beside tool calls, else empty text."""
    return None if message.get("tool_calls") else ""


def sign_answer(answer: JSON, signature_text: str) -> bool:
    choices = as_list(answer.get("choices"))
    message = as_dict(choices[0]).get("message") if choices else None
    if not isinstance(message, dict):
        return False
    text = message.get("content")
    if not isinstance(text, str) or not may_sign(text, message.get("refusal"), message):
        return False
    message["content"] = text + signature_text
    return True


def open_stream(body: JSON, signature_text: str | None) -> ChatStreamState:
    return ChatStreamState(
        body.get("model"), signature_text, client_usage=chat_chunks.asks_for_usage(body)
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
            return [CHAT.error_draft(None, self.error, self.model, latency_ms)]
        message = {
            "content": "".join(self.text) if self.text else None,
            "refusal": "".join(self.refusal) or None,
            "reasoning_content": "".join(self.reasoning),
            "tool_calls": [
                {
                    "id": slot["id"],
                    "function": {"name": slot["name"], "arguments": "".join(slot["args"])},
                }
                for _, slot in sorted(self.calls.items())
            ],
        }
        choice = {"message": message, "finish_reason": self.finish_reason}
        answer = {"id": self.chunk_id, "usage": self.usage, "choices": [choice]}
        drafts = CHAT.answer_drafts(answer, self.model, latency_ms)
        drafts[-1].metadata.update(compact({"stream": True, "aborted": aborted}))
        return drafts


CHAT = RouteSpec(
    path="/v1/chat/completions",
    provider=OPENAI,
    span_name="openai.chat.completions",
    span_kind="llm",
    upstream_path="/chat/completions",
    answer_shape=shape.CHAT,
    open_stream=open_stream,
    params=PARAMS,
    items_key="messages",
    system_roles=("system", "developer"),
    tool_roles=("tool", "function"),
    item_refs=item_refs,
    emptied_text=emptied_text,
    sign_answer=sign_answer,
    # streams always ask for usage, so it is recorded; the client sees what it asked for
    upstream_body=chat_chunks.with_usage_requested,
)
