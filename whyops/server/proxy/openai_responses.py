"""OpenAI ``POST /v1/responses``: its spec, reasoning as thinking, signing, stream reading."""

from __future__ import annotations

from typing import Any

from whyops.server.proxy import signature
from whyops.server.proxy.events import Draft, compact, parse_answer
from whyops.server.proxy.messages import as_dict, as_list, as_text
from whyops.server.proxy.providers import OPENAI
from whyops.server.proxy.spec import JSON, RouteSpec
from whyops.server.proxy.sse import Frame
from whyops.wire import shape

PARAMS = {
    "temperature": "temperature",
    "maxOutputTokens": "max_output_tokens",
    "topP": "top_p",
    "truncation": "truncation",
    "reasoning": "reasoning",
    "toolChoice": "tool_choice",
    "parallelToolCalls": "parallel_tool_calls",
    "text": "text",
}
TOOL_CALLS = ("function_call", "custom_tool_call")
MODEL_OUTPUT = ("reasoning", *TOOL_CALLS)
TOOL_OUTPUT = ("function_call_output", "custom_tool_call_output")
TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def item_refs(item: JSON) -> list[Any]:
    """A tool output's ``call_id``, a replayed output item's ``id``."""
    return [item.get("call_id"), item.get("id")]


def shape_answer(body: JSON, answer: JSON, latency_ms: int) -> list[Draft]:
    model = answer.get("model") or body.get("model")
    if answer.get("status") == "failed" and answer.get("error"):
        return [RESPONSES.error_draft(None, answer, model, latency_ms)]
    refs = [answer.get("id"), *(as_dict(item).get("id") for item in as_list(answer.get("output")))]
    ids = tuple(ref for ref in refs if isinstance(ref, str))
    return RESPONSES.answer_drafts(answer, model, latency_ms, ids)


def sign_answer(answer: JSON, signature_text: str) -> bool:
    """At the end of the answer's text: its last ``output_text``, when that is prose."""
    output = as_list(answer.get("output"))
    if any(as_dict(item).get("type") in TOOL_CALLS for item in output):
        return False  # tool calls: their ids carry the trace
    messages = [item for item in output if as_dict(item).get("type") == "message"]
    parts = [as_dict(part) for part in as_list(messages[-1].get("content"))] if messages else []
    if not parts or any(part.get("type") == "refusal" for part in parts):
        return False
    last = parts[-1]
    if last.get("type") != "output_text" or not signature.signable(as_text(last.get("text"))):
        return False
    last["text"] += signature_text
    return True


def open_stream(body: JSON, signature_text: str | None) -> ResponsesStreamState:
    """Streams are not signed: the text repeats in several events (docs/proxy.md)."""
    return ResponsesStreamState(body)


class ResponsesStreamState:
    """Reads a Responses stream; the final ``response.*`` event holds the whole answer."""

    rewrites = False

    def __init__(self, body: JSON) -> None:
        self.body = body
        self.final: JSON | None = None
        self.items: list[JSON] = []
        self.text: list[str] = []
        self.error: Any = None

    def record_frame(self, frame: Frame) -> bytes:
        data = frame.data
        if data and data[0] == "{":
            try:
                event = parse_answer(data)
            except ValueError:
                return frame.raw
            self._record_event(event.get("type"), event)
        return frame.raw

    def _record_event(self, kind: Any, event: JSON) -> None:
        if kind == "response.output_text.delta":
            self.text.append(as_text(event.get("delta")))
        elif kind == "response.output_item.done" and isinstance(event.get("item"), dict):
            self.items.append(event["item"])
            self.text = []
        elif kind in TERMINAL and isinstance(event.get("response"), dict):
            self.final = event["response"]
        elif kind == "error":
            self.error = event

    def drain(self) -> bytes:
        return b""

    def finish(self, latency_ms: int, aborted: str | None) -> list[Draft]:
        model = self.body.get("model")
        if self.error is not None:
            return [RESPONSES.error_draft(None, self.error, model, latency_ms)]
        response = self.final or self._partial()
        drafts = shape_answer(self.body, response, latency_ms)
        drafts[-1].metadata.update(compact({"stream": True, "aborted": aborted}))
        return drafts

    def _partial(self) -> JSON:
        items = list(self.items)
        if self.text:
            part = {"type": "output_text", "text": "".join(self.text)}
            items.append({"type": "message", "content": [part]})
        return {"model": self.body.get("model"), "status": "incomplete", "output": items}


RESPONSES = RouteSpec(
    path="/v1/responses",
    provider=OPENAI,
    span_name="openai.responses",
    span_kind="llm",
    upstream_path="/responses",
    answer_shape=shape.RESPONSES,
    shape_answer=shape_answer,
    open_stream=open_stream,
    params=PARAMS,
    items_key="input",
    text_items=True,
    typed_items=True,
    model_item_types=MODEL_OUTPUT,
    system_key="instructions",
    system_roles=("system", "developer"),
    tool_item_types=TOOL_OUTPUT,
    request_fields={"previousResponseId": "previous_response_id", "conversation": "conversation"},
    body_refs=("previous_response_id",),
    item_refs=item_refs,
    sign_answer=sign_answer,
)
