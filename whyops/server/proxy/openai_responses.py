"""OpenAI ``POST /v1/responses``: events (reasoning summaries as thinking), signatures."""

from __future__ import annotations

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
from whyops.server.proxy.openai_chat import response_metadata
from whyops.server.proxy.sse import Frame

JSON = dict[str, Any]

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


def _items(body: JSON) -> list[Any]:
    given = body.get("input")
    if isinstance(given, str):
        return [{"role": "user", "content": given}]
    return given if isinstance(given, list) else []


def _is_assistant_message(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and item.get("type", "message") == "message"
        and item.get("role") == "assistant"
    )


def _is_model_output(item: Any) -> bool:
    return _is_assistant_message(item) or (
        isinstance(item, dict) and item.get("type") in MODEL_OUTPUT
    )


def request_type(items: list[Any]) -> str:
    for item in reversed(items):
        if isinstance(item, dict) and item.get("role") in ("system", "developer"):
            continue
        is_tool = isinstance(item, dict) and item.get("type") in TOOL_OUTPUT
        return "tool_result" if is_tool else "user_message"
    return "user_message"


def thinking_of(item: JSON, model: str | None) -> Draft | None:
    """A reasoning item as ``llm_thinking``: its summary (or text), else its encrypted blob."""
    parts = [*as_list(item.get("summary")), *as_list(item.get("content"))]
    text = "\n\n".join(
        as_text(p.get("text")) for p in parts if isinstance(p, dict) and p.get("text")
    )
    meta = compact({"model": model, "provider": "openai"})
    if text:
        return Draft(
            "llm_thinking",
            compact(
                {"type": "thinking", "thinking": text, "signature": item.get("encrypted_content")}
            ),
            meta,
        )
    if item.get("encrypted_content"):
        return Draft(
            "llm_thinking", {"type": "redacted_thinking", "data": item["encrypted_content"]}, meta
        )
    return None


def answer_content(response: JSON) -> tuple[JSON, list[Draft]]:
    """(llm_response content, thinking drafts) of a Responses ``response`` object."""
    model = response.get("model")
    texts: list[str] = []
    refusals: list[str] = []
    calls: list[JSON] = []
    thinking: list[Draft] = []
    for item in as_list(response.get("output")):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "message":
            for part in as_list(item.get("content")):
                part = as_dict(part)
                if part.get("type") == "output_text":
                    texts.append(as_text(part.get("text")))
                elif part.get("type") == "refusal":
                    refusals.append(as_text(part.get("refusal")))
        elif kind in TOOL_CALLS:
            arguments = item.get("arguments", item.get("input", ""))
            calls.append(
                tool_call(item.get("call_id") or item.get("id"), item.get("name"), arguments)
            )
        elif kind == "reasoning":
            draft = thinking_of(item, model)
            if draft:
                thinking.append(draft)
    content = compact(
        {
            "content": content_text([{"type": "text", "text": t} for t in texts]),
            "toolCalls": calls or None,
            "finishReason": response.get("status"),
            "refusal": "".join(refusals) or None,
        }
    )
    return content, thinking


class Responses:
    provider = "openai"
    span_name = "openai.responses"
    span_kind = "llm"
    upstream_path = "/responses"

    def answer_refs(self, body: JSON) -> list[str]:
        refs: list[Any] = [body.get("previous_response_id")]
        for item in reversed(_items(body)):
            refs.extend((as_dict(item).get("call_id"), as_dict(item).get("id")))
        return [ref for ref in refs if isinstance(ref, str)]

    def find_trace_id(self, body: JSON) -> str | None:
        for item in reversed(_items(body)):
            if _is_assistant_message(item):
                found = signature_in(item.get("content"))
                if found:
                    return found
        return None

    def strip_signatures(self, body: JSON) -> bool:
        given = body.get("input")
        if isinstance(given, str):
            stripped, changed = strip_content(given)
            body["input"] = stripped
            return changed
        changed = False
        for item in _items(body):
            # every message and tool output: signed text may come back quoted or from a sub-agent
            key = "output" if as_dict(item).get("type") in TOOL_OUTPUT else "content"
            if isinstance(item, dict) and key in item:
                item[key], stripped = strip_content(item[key])
                changed = changed or stripped
        return changed

    def upstream_body(self, body: JSON) -> JSON:
        return body

    def request_draft(self, body: JSON) -> Draft:
        items = _items(body)
        metadata = compact(
            {
                "model": body.get("model"),
                "provider": "openai",
                "systemPrompt": body.get("instructions"),
                "tools": body.get("tools"),
                "params": pick(body, PARAMS) or None,
                "stream": bool(body.get("stream")),
                "previousResponseId": body.get("previous_response_id"),
                "conversation": body.get("conversation"),
                "messageCount": len(items),
            }
        )
        content = {"messages": new_turn(items, _is_model_output)}
        return Draft(request_type(items), content, metadata)

    def response_drafts(self, body: JSON, answer: Any, latency_ms: int) -> list[Draft]:
        model = answer.get("model") or body.get("model")
        if answer.get("status") == "failed" and answer.get("error"):
            return [
                error_draft(None, answer, model=model, provider="openai", latency_ms=latency_ms)
            ]
        content, thinking = answer_content(answer)
        metadata = response_metadata(model, answer.get("usage"), latency_ms, answer.get("id"))
        refs = [
            answer.get("id"),
            *(as_dict(item).get("id") for item in as_list(answer.get("output"))),
        ]
        ids = tuple(ref for ref in refs if isinstance(ref, str))
        return [*thinking, Draft("llm_response", content, metadata, ids)]

    def inject_signature(self, body: JSON, answer: Any, signature_text: str) -> bool:
        """At the end of the answer's text: its last ``output_text``, when that is prose."""
        if asks_for_json(body):
            return False
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

    def stream_state(self, body: JSON, signature_text: str | None) -> ResponsesStreamState:
        return ResponsesStreamState(self, body)


class ResponsesStreamState:
    """Reads a Responses stream; the final ``response.*`` event holds the whole answer."""

    rewrites = False

    def __init__(self, route: Responses, body: JSON) -> None:
        self.route = route
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
            return [
                error_draft(None, self.error, model=model, provider="openai", latency_ms=latency_ms)
            ]
        response = self.final or self._partial()
        drafts = self.route.response_drafts(self.body, response, latency_ms)
        drafts[-1].metadata.update(compact({"stream": True, "aborted": aborted}))
        return drafts

    def _partial(self) -> JSON:
        items = list(self.items)
        if self.text:
            part = {"type": "output_text", "text": "".join(self.text)}
            items.append({"type": "message", "content": [part]})
        return {"model": self.body.get("model"), "status": "incomplete", "output": items}
