"""The WhyOps event types and the facts the SDK, the proxy and the server share about them."""

from __future__ import annotations

import enum

from whyops.wire.records import SpanKind

__all__ = [
    "CLOSING",
    "KIND_BY_TYPE",
    "NEEDS_METADATA",
    "NEEDS_MODEL",
    "NEEDS_TOOL",
    "OPENING",
    "EventType",
]


class EventType(str, enum.Enum):
    """``eventType`` of a WhyOps event (whyops-spec §5). Members compare equal to their text."""

    USER_MESSAGE = "user_message"
    LLM_RESPONSE = "llm_response"
    LLM_THINKING = "llm_thinking"
    EMBEDDING_REQUEST = "embedding_request"
    EMBEDDING_RESPONSE = "embedding_response"
    TOOL_CALL = "tool_call"  # legacy: a request and its response in one event
    TOOL_CALL_REQUEST = "tool_call_request"
    TOOL_CALL_RESPONSE = "tool_call_response"
    TOOL_RESULT = "tool_result"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value


#: Events whose metadata must name the tool.
NEEDS_TOOL = frozenset({EventType.TOOL_CALL_REQUEST, EventType.TOOL_CALL_RESPONSE})
#: Events whose metadata must name the model and the provider.
NEEDS_MODEL = frozenset({EventType.LLM_RESPONSE, EventType.EMBEDDING_RESPONSE})
NEEDS_METADATA = NEEDS_TOOL | NEEDS_MODEL
#: Events that open a span (what it was asked). ``tool_result`` opens one only when it
#: carries ``content.messages`` (the proxy's model call after a tool answer).
OPENING = frozenset(
    {EventType.TOOL_CALL_REQUEST, EventType.USER_MESSAGE, EventType.EMBEDDING_REQUEST}
)
#: Events that close a span (what it answered, or how it failed).
CLOSING = frozenset(
    {
        EventType.TOOL_CALL_RESPONSE,
        EventType.LLM_RESPONSE,
        EventType.EMBEDDING_RESPONSE,
        EventType.ERROR,
    }
)
#: The span kind an event type implies when the event names none.
KIND_BY_TYPE = {
    EventType.TOOL_CALL_REQUEST: SpanKind.TOOL.value,
    EventType.TOOL_CALL_RESPONSE: SpanKind.TOOL.value,
    EventType.TOOL_RESULT: SpanKind.TOOL.value,
    EventType.USER_MESSAGE: SpanKind.LLM.value,
    EventType.LLM_RESPONSE: SpanKind.LLM.value,
    EventType.LLM_THINKING: SpanKind.LLM.value,
    EventType.EMBEDDING_REQUEST: SpanKind.EMBEDDING.value,
    EventType.EMBEDDING_RESPONSE: SpanKind.EMBEDDING.value,
}
