"""A proxied API route described as data, and the one implementation that reads it.

Each provider module builds one :class:`RouteSpec`: where the conversation lives in a request,
which of its items are the model's, where tools are answered, the recorded parameters, the
usage mapper, and the few functions that really differ (shaping an answer, signing it, reading
its stream). Everything else a route does (finding the trace, stripping signatures, the
request event, the response metadata, the structured-output check) is written once here, over
parsed JSON; I/O, timing and recording live in ``endpoints`` and ``tap``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import attrs

from whyops.server.proxy import signature
from whyops.server.proxy.events import Draft, compact, error_draft
from whyops.server.proxy.messages import (
    as_dict,
    as_list,
    asks_for_json,
    message_text,
    new_turn,
    pick,
    signature_in,
    strip_content,
)
from whyops.server.proxy.providers import Provider
from whyops.server.proxy.sse import Frame
from whyops.wire.events import EventType
from whyops.wire.records import TokenUsage
from whyops.wire.shape import Shape, thinking_content
from whyops.wire.usage import usage_wire

JSON = dict[str, Any]
UsageMapper = Callable[[Any], "TokenUsage | None"]


class StreamState(Protocol):
    """Rebuilds one streamed answer frame by frame (logfire-style ``record_chunk``).

    ``rewrites``: whether the bytes returned by ``record_frame`` replace the raw
    stream (the state injects or holds frames) or the raw bytes pass untouched.
    """

    rewrites: bool

    def record_frame(self, frame: Frame) -> bytes: ...

    def drain(self) -> bytes:
        """Frames still held when the upstream stream ends."""
        ...

    def finish(self, latency_ms: int, aborted: str | None) -> list[Draft]: ...


def _same_body(body: JSON) -> JSON:
    return body


def _no_refs(item: JSON) -> Iterable[Any]:
    return ()


# eq=False: a route is one of the four constants, equal to itself only (and usable as a key).
@attrs.frozen(slots=True, eq=False)
class RouteSpec:
    """One recorded route of the proxy: what it is, and where its JSON keeps what is recorded.

    Items are the request's conversation (messages, or Responses input items); an item
    "answers tools" when it makes the request a ``tool_result`` event.
    """

    path: str  #: where the proxy serves it (``/v1/chat/completions``)
    provider: Provider
    span_name: str
    span_kind: str  #: ``llm`` or ``embedding``
    upstream_path: str  #: below the provider's base URL
    params: Mapping[str, str]  #: recorded request parameters: our name -> request field
    open_stream: Callable[[JSON, str | None], StreamState]  #: (body, signature or None)
    #: The answer's shape in ``whyops.wire.shape``: content, tool calls, thinking, usage.
    answer_shape: Shape | None = None
    #: The usage mapper of ``whyops.wire.usage``; None: the answer shape's.
    usage: UsageMapper | None = None
    #: A whole answer's drafts (body, answer, latency); None: :meth:`answer_drafts`.
    shape_answer: Callable[[JSON, JSON, int], list[Draft]] | None = None
    #: The request event of a route that has no conversation (embeddings).
    describe_request: Callable[[RouteSpec, JSON], Draft] | None = None
    items_key: str | None = None  #: where the items are: ``messages``, ``input``
    text_items: bool = False  #: a plain string under ``items_key`` is one user turn
    #: Items have a ``type`` (default ``message``): only ``message`` items carry a role's text.
    typed_items: bool = False
    #: Besides assistant messages, the types of the model's items (a new turn starts after
    #: the last of them, and only assistant messages are read for a signature).
    model_item_types: tuple[str, ...] = ()
    system_key: str | None = None  #: the system prompt's field; None: the first system item
    system_roles: tuple[str, ...] = ()  #: system items, skipped when typing the request
    tool_roles: tuple[str, ...] = ()  #: items of these roles answer tools (chat ``tool``)
    #: Items of these types answer tools and keep their text under ``output``.
    tool_item_types: tuple[str, ...] = ()
    #: An item holding a content block of these types answers tools; the block keeps its
    #: text under ``content`` (Anthropic ``tool_result``).
    tool_block_types: tuple[str, ...] = ()
    request_fields: Mapping[str, str] = attrs.field(factory=dict)  #: more recorded fields
    body_refs: tuple[str, ...] = ()  #: fields naming an earlier answer's id
    item_refs: Callable[[JSON], Iterable[Any]] = _no_refs  #: ids of answers an item names
    #: Signatures are stripped from every item of every role and every tool output (a
    #: signed answer also comes back quoted by a user, or as the result of an agent used as
    #: a tool). This is what an item's text becomes when nothing but a signature was in it:
    #: chat needs one (OpenAI refuses an empty part list); Anthropic refuses empty content of
    #: either kind and Responses accepts an empty list, so None leaves theirs as stripped.
    emptied_text: Callable[[JSON], Any] | None = None
    #: Add the signature to a whole answer in place (True when it did); None: never signed.
    sign_answer: Callable[[JSON, str], bool] | None = None
    upstream_body: Callable[[JSON], JSON] = _same_body  #: the body sent upstream

    # ---- the request's items ----

    def items(self, body: JSON) -> list[Any]:
        given = body.get(self.items_key) if self.items_key else None
        if self.text_items and isinstance(given, str):
            return [{"role": "user", "content": given}]
        return given if isinstance(given, list) else []

    def is_answer_text(self, item: Any) -> bool:
        """An assistant message: where the signature may come back."""
        return (
            isinstance(item, dict)
            and item.get("role") == "assistant"
            and (not self.typed_items or item.get("type", "message") == "message")
        )

    def is_model_item(self, item: Any) -> bool:
        return self.is_answer_text(item) or (
            isinstance(item, dict) and item.get("type") in self.model_item_types
        )

    def answers_tools(self, item: Any) -> bool:
        item = as_dict(item)
        if item.get("role") in self.tool_roles or item.get("type") in self.tool_item_types:
            return True
        blocks = as_list(item.get("content")) if self.tool_block_types else []
        return any(as_dict(block).get("type") in self.tool_block_types for block in blocks)

    # ---- what the proxy reads before forwarding ----

    def find_trace_id(self, body: JSON) -> str | None:
        """The trace signed into the latest assistant text that carries one."""
        for item in reversed(self.items(body)):
            if self.is_answer_text(item):
                found = signature_in(item.get("content"))
                if found:
                    return found
        return None

    def answer_refs(self, body: JSON) -> list[str]:
        """Ids of earlier answers or their tool calls this request refers to, latest first."""
        refs: list[Any] = [body.get(key) for key in self.body_refs]
        for item in reversed(self.items(body)):
            refs.extend(self.item_refs(as_dict(item)))
        return [ref for ref in refs if isinstance(ref, str)]

    def strip_signatures(self, body: JSON) -> bool:
        """Remove signatures in place (see the class); True when anything changed."""
        key = self.items_key
        if key is None:
            return False
        if self.text_items and isinstance(body.get(key), str):
            body[key], changed = strip_content(body[key])
            return changed
        changed = False
        for item in self.items(body):
            if isinstance(item, dict):
                changed = self._strip_item(item) or changed
        return changed

    def _strip_item(self, item: JSON) -> bool:
        key = "output" if item.get("type") in self.tool_item_types else "content"
        if key not in item:
            return False
        text, changed = strip_content(item[key])
        if changed and not text and self.emptied_text is not None:
            text = self.emptied_text(item)
        item[key] = text
        for block in as_list(text) if self.tool_block_types else []:
            if as_dict(block).get("type") in self.tool_block_types and "content" in block:
                block["content"], stripped = strip_content(block["content"])
                changed = changed or stripped
        return changed

    # ---- the request event ----

    def request_draft(self, body: JSON) -> Draft:
        if self.describe_request is not None:
            return self.describe_request(self, body)
        items = self.items(body)
        metadata = compact(
            {
                "model": body.get("model"),
                "provider": self.provider.name,
                "systemPrompt": self.system_prompt(body, items),
                "tools": body.get("tools"),
                "params": pick(body, self.params) or None,
                "stream": bool(body.get("stream")),
                **{ours: body.get(theirs) for ours, theirs in self.request_fields.items()},
                "messageCount": len(items),
            }
        )
        content = {"messages": new_turn(items, self.is_model_item)}
        return Draft(self.request_type(items), content, metadata)

    def system_prompt(self, body: JSON, items: list[Any]) -> Any:
        if self.system_key is not None:
            return body.get(self.system_key)
        for item in items:
            if isinstance(item, dict) and item.get("role") in self.system_roles:
                return message_text(item.get("content"))
        return None

    def request_type(self, items: list[Any]) -> EventType:
        """``tool_result`` when the last non-system item answers tools."""
        for item in reversed(items):
            if isinstance(item, dict) and item.get("role") in self.system_roles:
                continue
            return EventType.TOOL_RESULT if self.answers_tools(item) else EventType.USER_MESSAGE
        return EventType.USER_MESSAGE

    # ---- the answer ----

    def response_drafts(self, body: JSON, answer: JSON, latency_ms: int) -> list[Draft]:
        if self.shape_answer is not None:
            return self.shape_answer(body, answer, latency_ms)
        return self.answer_drafts(answer, answer.get("model") or body.get("model"), latency_ms)

    def answer_drafts(
        self, answer: JSON, model: Any, latency_ms: int, refs: tuple[str, ...] = ()
    ) -> list[Draft]:
        """The thinking drafts and the ``llm_response`` of a provider-shaped answer (a whole
        one, or the one a stream state rebuilt); recorded text never holds a signature."""
        if self.answer_shape is None:
            raise TypeError(f"{self.span_name} has no model answers")
        shaped = self.answer_shape.answer(answer)
        content = shaped.content
        if isinstance(content.get("content"), str):
            content["content"] = signature.strip(content["content"])
        source = compact({"model": model, "provider": self.provider.name})
        drafts = [
            Draft(EventType.LLM_THINKING, thinking_content(block), source)
            for block in shaped.thinking
        ]
        metadata = compact(
            {
                "model": model or "unknown",
                "provider": self.provider.name,
                "usage": usage_wire(shaped.usage) if shaped.usage is not None else None,
                "latencyMs": latency_ms,
                "status": "ok",
                "responseId": answer.get("id"),
            }
        )
        drafts.append(Draft(EventType.LLM_RESPONSE, content, metadata, refs))
        return drafts

    def usage_wire(self, usage: Any) -> dict[str, int] | None:
        """The answer's ``usage`` as WhyOps records it; None when it holds no count."""
        mapper = self.usage or (self.answer_shape.read_usage if self.answer_shape else None)
        counts = mapper(usage) if mapper is not None else None
        return usage_wire(counts) if counts is not None else None

    def error_draft(self, status: int | None, body: Any, model: Any, latency_ms: int) -> Draft:
        return error_draft(
            status, body, model=model, provider=self.provider.name, latency_ms=latency_ms
        )

    def inject_signature(self, body: JSON, answer: Any, signature_text: str) -> bool:
        """Add ``signature_text`` to a whole answer in place; True when it did. Never when
        the request asked for structured output (the client parses the text)."""
        if self.sign_answer is None or asks_for_json(body) or not isinstance(answer, dict):
            return False
        return self.sign_answer(answer, signature_text)

    def stream_state(self, body: JSON, signature_text: str | None) -> StreamState:
        allowed = None if asks_for_json(body) else signature_text
        return self.open_stream(body, allowed)
