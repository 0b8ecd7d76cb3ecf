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
from whyops.server.proxy.events import Draft, compact, parse_answer
from whyops.server.proxy.messages import as_dict, as_list, as_text
from whyops.server.proxy.providers import ANTHROPIC
from whyops.server.proxy.spec import JSON, RouteSpec
from whyops.server.proxy.sse import Frame, encode_frame
from whyops.wire import shape
from whyops.wire.usage import merge_anthropic_usage

PARAMS = {
    "temperature": "temperature",
    "maxTokens": "max_tokens",
    "topP": "top_p",
    "topK": "top_k",
    "stopSequences": "stop_sequences",
    "toolChoice": "tool_choice",
    "thinking": "thinking",
}


def item_refs(message: JSON) -> list[Any]:
    """The tool uses a message's blocks answer (``tool_use_id``) or replay (``id``)."""
    blocks = [as_dict(block) for block in as_list(message.get("content"))]
    return [block.get("tool_use_id") or block.get("id") for block in blocks]


def sign_answer(answer: JSON, signature_text: str) -> bool:
    """At the end of the last text block; never on a refusal."""
    if answer.get("stop_reason") == "refusal":
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


def open_stream(body: JSON, signature_text: str | None) -> MessagesStreamState:
    return MessagesStreamState(body.get("model"), signature_text)


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
            return [MESSAGES.error_draft(None, self.error, self.model, latency_ms)]
        for index, parts in self.json_parts.items():
            self.blocks.setdefault(index, {"type": "tool_use"})["input"] = _parse_input(
                "".join(parts)
            )
        ordered = [self.blocks[index] for index in sorted(self.blocks)]
        answer = {
            "id": self.message_id,
            "content": ordered,
            "stop_reason": self.stop_reason,
            "usage": self.usage,
        }
        drafts = MESSAGES.answer_drafts(answer, self.model, latency_ms)
        drafts[-1].metadata.update(compact({"stream": True, "aborted": aborted}))
        return drafts


def _parse_input(text: str) -> Any:
    try:
        return parse_answer(text) if text else {}
    except ValueError:
        return text


MESSAGES = RouteSpec(
    path="/v1/messages",
    provider=ANTHROPIC,
    span_name="anthropic.messages",
    span_kind="llm",
    upstream_path="/v1/messages",
    answer_shape=shape.ANTHROPIC,
    open_stream=open_stream,
    params=PARAMS,
    items_key="messages",
    system_key="system",
    tool_block_types=("tool_result",),
    item_refs=item_refs,
    sign_answer=sign_answer,
)
