"""Anthropic message threads: conversation state the server holds between turns.

A request with `thread: {"type": "create"}` asks the server to hold the conversation (its
fields and messages, plus the answer) under the answer's message id; `{"type": "continue",
"previous_message_id": ...}` sends only the new turn and resumes from there. The anthropic
SDK's tool runner works this way, sending a tool result without the history or the tools.

The simulator holds the last `CAPACITY` threads, at most `MAX_BYTES` of them, in memory. An
unknown id answers what the API answers, 404 with `error.details.error_code`
`thread_not_found`, from which the SDK recovers by replaying the whole history under a new
thread.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from . import errors, validation
from .conversation import as_list

# The provider whose error bodies this module answers with.
PROVIDER = errors.ANTHROPIC
CAPACITY = 2000
MAX_BYTES = 64 * 1024 * 1024  # JSON held in all, so long threads cannot fill the memory
NOT_HELD = ("messages", "thread", "stream")  # per-turn fields a thread does not keep


class ThreadStore:
    """Held threads by message id, the least recently used dropped first once there are more
    than `capacity` or they hold more than `max_bytes` of JSON (thread-safe)."""

    def __init__(self, capacity: int = CAPACITY, max_bytes: int = MAX_BYTES) -> None:
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._held: OrderedDict[str, tuple[dict[str, Any], int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def hold(self, message_id: str, state: dict[str, Any]) -> None:
        size = len(json.dumps(state, separators=(",", ":"), default=str))
        with self._lock:
            self._forget(message_id)
            if size > self._max_bytes:
                return  # too big to hold: continuing it answers thread_not_found
            self._held[message_id] = (state, size)
            self._bytes += size
            while len(self._held) > self._capacity or self._bytes > self._max_bytes:
                self._forget(next(iter(self._held)))

    def get(self, message_id: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._held.get(message_id)
            if entry is None:
                return None
            self._held.move_to_end(message_id)
            return entry[0]

    def _forget(self, message_id: str) -> None:
        entry = self._held.pop(message_id, None)
        if entry is not None:
            self._bytes -= entry[1]


STORE = ThreadStore()


def resolve(body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The request as the model sees it (a continued thread's fields and history, then this
    turn), and whether the answer is to be held as a thread."""
    if body.get("thread") is None:
        return body, False
    thread = validation.require_dict(PROVIDER, body["thread"], "thread")
    kind = thread.get("type")
    if kind == "create":
        return body, True
    if kind != "continue":
        raise errors.invalid_field(PROVIDER, "thread.type", "expected 'create' or 'continue'")
    previous = thread.get("previous_message_id")
    if not isinstance(previous, str) or not previous:
        raise errors.missing_field(PROVIDER, "thread.previous_message_id")
    held = STORE.get(previous)
    if held is None:
        raise errors.ApiError(
            404,
            f"thread.previous_message_id: no thread holds message {previous}",
            param="thread.previous_message_id",
            code="thread_not_found",
        )
    history = [*held["messages"], *as_list(body.get("messages"))]
    return {**held["fields"], **body, "messages": history}, True


def hold(body: dict[str, Any], message_id: str, content: list[dict[str, Any]]) -> None:
    """Keep the conversation of `body` and its answer (`content`) under `message_id`."""
    fields = {key: value for key, value in body.items() if key not in NOT_HELD}
    answer = {"role": "assistant", "content": content}
    STORE.hold(message_id, {"fields": fields, "messages": [*as_list(body["messages"]), answer]})
