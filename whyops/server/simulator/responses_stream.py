"""The Responses API event stream, built from the finished response payload.

Order (as the API sends it): created, in_progress, then per output item: output_item.added,
its parts and deltas, output_item.done; then completed (or incomplete).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import sse, tokens

ARGUMENT_PIECE = 16


class _Sequencer:
    def __init__(self) -> None:
        self.number = 0

    def frame(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, **fields, "sequence_number": self.number}
        self.number += 1
        return sse.event_frame(payload)


def response_frames(response: dict[str, Any], *, fail_midway: bool = False) -> Iterator[bytes]:
    events = _Sequencer()
    pending = {
        **response,
        "status": "in_progress",
        "output": [],
        "usage": None,
        "incomplete_details": None,
    }
    yield events.frame("response.created", response=pending)
    yield events.frame("response.in_progress", response=pending)
    for index, item in enumerate(response["output"]):
        yield events.frame("response.output_item.added", output_index=index, item=_opened(item))
        for count, frame in enumerate(_item_events(events, index, item)):
            yield frame
            if fail_midway and count == 1:
                yield events.frame(
                    "error",
                    code="server_error",
                    param=None,
                    message="The server had an error while streaming (simulated).",
                )
                return
        yield events.frame("response.output_item.done", output_index=index, item=item)
    final = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
    yield events.frame(final, response=response)


def _opened(item: dict[str, Any]) -> dict[str, Any]:
    if item["type"] == "reasoning":
        return {**item, "summary": [], "status": "in_progress"}
    if item["type"] == "message":
        return {**item, "content": [], "status": "in_progress"}
    return {**item, "arguments": "", "status": "in_progress"}


def _item_events(events: _Sequencer, index: int, item: dict[str, Any]) -> Iterator[bytes]:
    if item["type"] == "reasoning":
        yield from _reasoning_events(events, index, item)
    elif item["type"] == "message":
        yield from _message_events(events, index, item)
    else:
        yield from _call_events(events, index, item)


def _reasoning_events(events: _Sequencer, index: int, item: dict[str, Any]) -> Iterator[bytes]:
    where = {"item_id": item["id"], "output_index": index}
    for summary_index, summary in enumerate(item["summary"]):
        at = {**where, "summary_index": summary_index}
        yield events.frame(
            "response.reasoning_summary_part.added", **at, part={"type": "summary_text", "text": ""}
        )
        for piece in tokens.stream_pieces(summary["text"]):
            yield events.frame("response.reasoning_summary_text.delta", **at, delta=piece)
        yield events.frame("response.reasoning_summary_text.done", **at, text=summary["text"])
        yield events.frame("response.reasoning_summary_part.done", **at, part=summary)


def _message_events(events: _Sequencer, index: int, item: dict[str, Any]) -> Iterator[bytes]:
    for content_index, part in enumerate(item["content"]):
        at = {"item_id": item["id"], "output_index": index, "content_index": content_index}
        yield events.frame("response.content_part.added", **at, part={**part, "text": ""})
        for piece in tokens.stream_pieces(part["text"]):
            yield events.frame("response.output_text.delta", **at, delta=piece, logprobs=[])
        yield events.frame("response.output_text.done", **at, text=part["text"], logprobs=[])
        yield events.frame("response.content_part.done", **at, part=part)


def _call_events(events: _Sequencer, index: int, item: dict[str, Any]) -> Iterator[bytes]:
    at = {"item_id": item["id"], "output_index": index}
    arguments = item["arguments"]
    for start in range(0, len(arguments), ARGUMENT_PIECE):
        piece = arguments[start : start + ARGUMENT_PIECE]
        yield events.frame("response.function_call_arguments.delta", **at, delta=piece)
    yield events.frame(
        "response.function_call_arguments.done", **at, arguments=arguments, name=item["name"]
    )
