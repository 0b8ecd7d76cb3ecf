"""Anthropic ``POST /v1/messages``: events, thinking blocks, signatures, stream state.

WhyOps has no signature for Anthropic; here the trace id rides at the end of
the last text block of an answer (streams: one extra ``text_delta`` before
that block's ``content_block_stop``) and is read back from earlier assistant
text, so header-less conversations stay in one trace.
"""

from __future__ import annotations

import json
from typing import Any

from whyops.server.proxy import signature
from whyops.server.proxy.events import (
    Draft,
    compact,
    error_draft,
    parse_answer,
    thinking_draft,
)
from whyops.server.proxy.messages import (
    as_dict,
    as_list,
    as_text,
    asks_for_json,
    new_turn,
    pick,
    signature_in,
    tool_call,
)
from whyops.server.proxy.messages import strip_content as _strip
from whyops.server.proxy.sse import Frame, encode_frame
from whyops.server.proxy.usage import anthropic_usage, merge_anthropic_usage

JSON = dict[str, Any]

PARAMS = {
    "temperature": "temperature",
    "maxTokens": "max_tokens",
    "topP": "top_p",
    "topK": "top_k",
    "stopSequences": "stop_sequences",
    "toolChoice": "tool_choice",
    "thinking": "thinking",
}
TOOL_USE = ("tool_use", "server_tool_use", "mcp_tool_use")


def _messages(body: JSON) -> list[Any]:
    messages = body.get("messages")
    return messages if isinstance(messages, list) else []


def _is_assistant(message: Any) -> bool:
    return isinstance(message, dict) and message.get("role") == "assistant"


def request_type(messages: list[Any]) -> str:
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    blocks = last.get("content")
    if not isinstance(blocks, list):
        return "user_message"
    has_result = any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks)
    return "tool_result" if has_result else "user_message"


def answer_drafts(blocks: list[Any], model: str | None) -> tuple[JSON, list[Draft]]:
    """(llm_response content without finishReason, thinking drafts) of content blocks."""
    texts: list[str] = []
    calls: list[JSON] = []
    thinking: list[Draft] = []
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(as_text(block.get("text")))
        elif kind in TOOL_USE:
            calls.append(tool_call(block.get("id"), block.get("name"), block.get("input", {})))
        elif kind in ("thinking", "redacted_thinking"):
            draft = thinking_draft(block, model, "anthropic")
            if draft:
                thinking.append(draft)
    content = compact({"content": "".join(texts) if texts else None, "toolCalls": calls or None})
    return content, thinking


def response_metadata(model: Any, usage: Any, latency_ms: int, message_id: Any) -> JSON:
    return compact(
        {
            "model": model or "unknown",
            "provider": "anthropic",
            "usage": anthropic_usage(usage),
            "latencyMs": latency_ms,
            "status": "ok",
            "responseId": message_id,
        }
    )


def anthropic_error(message: str, kind: str) -> JSON:
    return {"type": "error", "error": {"type": "api_error", "message": message}}


class Messages:
    provider = "anthropic"
    span_name = "anthropic.messages"
    span_kind = "llm"
    upstream_path = "/v1/messages"

    def answer_refs(self, body: JSON) -> list[str]:
        refs: list[Any] = []
        for message in reversed(_messages(body)):
            for block in as_list(as_dict(message).get("content")):
                block = as_dict(block)
                refs.append(block.get("tool_use_id") or block.get("id"))
        return [ref for ref in refs if isinstance(ref, str)]

    def find_trace_id(self, body: JSON) -> str | None:
        for message in reversed(_messages(body)):
            if _is_assistant(message):
                found = signature_in(message.get("content"))
                if found:
                    return found
        return None

    def strip_signatures(self, body: JSON) -> bool:
        """From every message (signed text may come back quoted by the user or a tool)."""
        changed = False
        for message in _messages(body):
            if isinstance(message, dict) and "content" in message:
                message["content"], stripped = _strip(message["content"])
                changed = _strip_tool_results(message["content"]) or stripped or changed
        return changed

    def upstream_body(self, body: JSON) -> JSON:
        return body

    def request_draft(self, body: JSON) -> Draft:
        messages = _messages(body)
        metadata = compact(
            {
                "model": body.get("model"),
                "provider": "anthropic",
                "systemPrompt": body.get("system"),
                "tools": body.get("tools"),
                "params": pick(body, PARAMS) or None,
                "stream": bool(body.get("stream")),
                "messageCount": len(messages),
            }
        )
        content = {"messages": new_turn(messages, _is_assistant)}
        return Draft(request_type(messages), content, metadata)

    def response_drafts(self, body: JSON, answer: Any, latency_ms: int) -> list[Draft]:
        model = answer.get("model") or body.get("model")
        content, thinking = answer_drafts(as_list(answer.get("content")), model)
        content.update(compact({"finishReason": answer.get("stop_reason")}))
        metadata = response_metadata(model, answer.get("usage"), latency_ms, answer.get("id"))
        return [*thinking, Draft("llm_response", content, metadata)]

    def inject_signature(self, body: JSON, answer: Any, signature_text: str) -> bool:
        if asks_for_json(body) or answer.get("stop_reason") == "refusal":
            return False
        texts = [
            b
            for b in as_list(answer.get("content"))
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        ]
        if not texts or not signature.signable(texts[-1]["text"]):
            return False
        texts[-1]["text"] += signature_text
        return True

    def stream_state(self, body: JSON, signature_text: str | None) -> MessagesStreamState:
        allowed = signature_text if not asks_for_json(body) else None
        return MessagesStreamState(body.get("model"), allowed)


class MessagesStreamState:
    """Rebuilds a Messages stream; signs the last text block before the answer moves on.

    A text block's ``content_block_stop`` is held until the next event shows
    whether more text follows; then the signature delta and the stop go out.
    Only that stop event waits; no text is delayed.
    """

    rewrites = True

    def __init__(self, model: str | None, signature_text: str | None) -> None:
        self.model = model
        self.signature = signature_text
        self.message_id: str | None = None
        self.blocks: dict[int, JSON] = {}
        self.json_parts: dict[int, list[str]] = {}
        self.usage: JSON = {}
        self.stop_reason: str | None = None
        self.error: Any = None
        self.held: tuple[int, bytes] | None = None

    def record_frame(self, frame: Frame) -> bytes:
        event = self._parse(frame)
        out = self._release(event) if self.held else b""
        if event is None:
            return out + frame.raw
        self._record(event.get("type"), event)
        index = event.get("index")
        if (
            event.get("type") == "content_block_stop"
            and self.signature
            and isinstance(index, int)
            and self.blocks.get(index, {}).get("type") == "text"
        ):
            self.held = (index, frame.raw)
            return out
        return out + frame.raw

    @staticmethod
    def _parse(frame: Frame) -> JSON | None:
        if not frame.data or frame.data[0] != "{":
            return None
        try:
            event = parse_answer(frame.data)
        except ValueError:
            return None
        return event if isinstance(event, dict) else None

    def _release(self, event: JSON | None) -> bytes:
        index, raw = self.held or (0, b"")
        self.held = None
        event = event or {}
        block = as_dict(event.get("content_block"))
        if event.get("type") == "content_block_start" and block.get("type") == "text":
            return raw  # more text follows; sign the later block
        if as_dict(event.get("delta")).get("stop_reason") == "refusal":
            self.signature = None
        return self._signature_delta(index) + raw

    def _signature_delta(self, index: int) -> bytes:
        if not self.signature or not signature.signable(as_text(self.blocks[index].get("text"))):
            return b""
        delta = {
            "type": "content_block_delta",
            "index": index,
            "delta": {"type": "text_delta", "text": self.signature},
        }
        self.signature = None
        return encode_frame(json.dumps(delta, ensure_ascii=False), "content_block_delta")

    def _record(self, kind: Any, event: JSON) -> None:
        index = event.get("index")
        index = index if isinstance(index, int) else 0
        if kind == "message_start":
            message = as_dict(event.get("message"))
            self.message_id = message.get("id")
            self.model = message.get("model") or self.model
            self.usage = dict(as_dict(message.get("usage")))
        elif kind == "content_block_start":
            self.blocks[index] = dict(as_dict(event.get("content_block")))
        elif kind == "content_block_delta":
            self._record_delta(index, as_dict(event.get("delta")))
        elif kind == "message_delta":
            self.stop_reason = as_dict(event.get("delta")).get("stop_reason") or self.stop_reason
            self.usage = merge_anthropic_usage(self.usage, event.get("usage"))
        elif kind == "error":
            self.error = event

    def _record_delta(self, index: int, delta: JSON) -> None:
        block = self.blocks.setdefault(index, {"type": "text", "text": ""})
        kind = delta.get("type")
        field = (
            {
                "text_delta": "text",
                "thinking_delta": "thinking",
                "signature_delta": "signature",
            }.get(kind)
            if isinstance(kind, str)
            else None
        )
        if field:
            block[field] = as_text(block.get(field)) + as_text(delta.get(field))
        elif kind == "input_json_delta":
            self.json_parts.setdefault(index, []).append(as_text(delta.get("partial_json")))

    def drain(self) -> bytes:
        return self._release(None) if self.held else b""

    def finish(self, latency_ms: int, aborted: str | None) -> list[Draft]:
        if self.error is not None:
            return [
                error_draft(
                    None, self.error, model=self.model, provider="anthropic", latency_ms=latency_ms
                )
            ]
        for index, parts in self.json_parts.items():
            self.blocks.setdefault(index, {"type": "tool_use"})["input"] = _parse_input(
                "".join(parts)
            )
        ordered = [self.blocks[index] for index in sorted(self.blocks)]
        content, thinking = answer_drafts(ordered, self.model)
        content.update(compact({"finishReason": self.stop_reason}))
        metadata = response_metadata(self.model, self.usage, latency_ms, self.message_id)
        metadata.update(compact({"stream": True, "aborted": aborted}))
        return [*thinking, Draft("llm_response", content, metadata)]


def _strip_tool_results(blocks: Any) -> bool:
    """Signatures out of ``tool_result`` contents (an agent used as a tool returns signed text)."""
    changed = False
    for block in as_list(blocks):
        if isinstance(block, dict) and block.get("type") == "tool_result" and "content" in block:
            block["content"], stripped = _strip(block["content"])
            changed = changed or stripped
    return changed


def _parse_input(text: str) -> Any:
    try:
        return parse_answer(text) if text else {}
    except ValueError:
        return text
