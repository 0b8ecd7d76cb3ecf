"""``WhyOpsTrace``: the WhyOps 0.1.1 trace builder, on the batch queue.

Every method keeps 0.1.1's name, positional order and keywords, and exists twice:
``*_sync`` and an ``async`` twin with the same arguments. Both check the arguments and
build the payload in the caller (microseconds), hand it to the client's sink (a
non-blocking enqueue) and return: no method ever waits on the network, so the async twins
never block the event loop. What needs no caller (formatting the timestamp, the
idempotency key and the span id) is left to the flusher thread: the record carries the
call's time and random bits instead, so its key is fixed before any send or retry.
"""

from __future__ import annotations

import functools
import random
import time
import types
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from whyops import _context
from whyops._ids import new_span_id
from whyops.wire.events import EventType
from whyops.wire.records import EventRecord

from . import _events as ev
from ._check import text

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._events import EventOptions, StepOptions

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
Sink = Callable[[EventRecord], None]
Parts = tuple[ev.Json, ev.Json | None]

_time_ns = time.time_ns
# Keys and span ids only have to be unique: bits from ``random`` (a C call), not urandom.
_bits = random.getrandbits
# ``EventType``'s members as plain strings, read on the caller's thread: looking up an enum
# member costs about ten times an attribute, and the flusher lets a plain-JSON event through
# unconverted only when every value is an exact ``str``.
_TYPES = types.SimpleNamespace(**{event_type.name: event_type.value for event_type in EventType})


def _async_twin(
    method: Callable[Concatenate[T, P], R],
) -> Callable[Concatenate[T, P], Coroutine[Any, Any, R]]:
    """The async form of a builder method: same arguments, same result, nothing awaited."""

    @functools.wraps(method)
    async def twin(self: T, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return method(self, *args, **kwargs)

    twin.__name__ = twin.__qualname__ = method.__name__.removesuffix("_sync")
    return twin


class WhyOpsTrace:
    """Builder for the events of one trace (a session or conversation).

    Inside an ambient span of the same trace (``@whyops.tool``, ``whyops.span()``), each
    event records that span as its ``parentSpanId``, so manual events, decorated spans and
    proxied calls form one tree.
    """

    __slots__ = ("_agent_name", "_sink", "_trace_id")

    def __init__(self, trace_id: str, agent_name: str, sink: Sink) -> None:
        self._trace_id = text("trace_id", trace_id, max_len=128)
        self._agent_name = agent_name
        self._sink = sink

    @property
    def trace_id(self) -> str:
        return self._trace_id

    def __repr__(self) -> str:
        return f"WhyOpsTrace({self._trace_id!r}, agent={self._agent_name!r})"

    def user_message_sync(
        self,
        messages: list[dict[str, Any]],
        *,
        metadata: dict[str, Any] | None = None,
        **options: Unpack[EventOptions],
    ) -> None:
        """The user's turn: ``messages`` as ``[{"role": "user", "content": ...}]``."""
        self._emit(_TYPES.USER_MESSAGE, ev.user_message_content(messages, metadata), options)

    def llm_response_sync(
        self,
        model: str,
        provider: str,
        content: str | None = None,
        *,
        tool_calls: list[dict[str, Any]] | None = None,
        finish_reason: str | None = None,
        usage: dict[str, int] | None = None,
        latency_ms: float | None = None,
        **options: Unpack[EventOptions],
    ) -> None:
        """A model's answer; ``usage`` in WhyOps keys (promptTokens, cacheReadTokens, ...)."""
        parts = ev.llm_response_content(
            model, provider, content, tool_calls, finish_reason, usage, latency_ms
        )
        self._emit(_TYPES.LLM_RESPONSE, parts, options)

    def llm_thinking_sync(
        self, thinking: str, *, signature: str | None = None, **options: Unpack[EventOptions]
    ) -> None:
        """A thinking block of the model, with its signature when the provider gives one."""
        self._emit(_TYPES.LLM_THINKING, ev.llm_thinking_content(thinking, signature), options)

    def embedding_request_sync(self, inputs: list[str], **options: Unpack[EventOptions]) -> None:
        """The texts sent to an embedding model."""
        self._emit(_TYPES.EMBEDDING_REQUEST, ev.embedding_request_content(inputs), options)

    def embedding_response_sync(
        self,
        model: str,
        provider: str,
        embedding_count: int,
        first_embedding_dimensions: int,
        *,
        total_tokens: int | None = None,
        latency_ms: float | None = None,
        **options: Unpack[EventOptions],
    ) -> None:
        """What an embedding call returned (counts, not the vectors)."""
        parts = ev.embedding_response_content(
            model, provider, embedding_count, first_embedding_dimensions, total_tokens, latency_ms
        )
        self._emit(_TYPES.EMBEDDING_RESPONSE, parts, options)

    def tool_call_request_sync(
        self,
        tool: str,
        tool_calls: list[dict[str, Any]],
        *,
        latency_ms: float | None = None,
        requested_at: str | None = None,
        **options: Unpack[EventOptions],
    ) -> str:
        """A tool call starting; returns the span id to pass to :meth:`tool_call_response_sync`."""
        parts = ev.tool_call_request_content(tool, tool_calls, latency_ms, requested_at)
        checked = ev.check_options(_TYPES.TOOL_CALL_REQUEST, options) if options else {}
        span_id: str = checked.get("span_id") or new_span_id()
        checked["span_id"] = span_id
        self._sink(self._record(_TYPES.TOOL_CALL_REQUEST, parts, checked, span_id))
        return span_id

    def tool_call_response_sync(
        self,
        tool: str,
        span_id: str,
        tool_calls: list[dict[str, Any]],
        tool_results: dict[str, Any],
        *,
        latency_ms: float | None = None,
        responded_at: str | None = None,
        **options: Unpack[StepOptions],
    ) -> None:
        """The tool call's result; ``span_id`` is what the request returned."""
        parts = ev.tool_call_response_content(
            tool, tool_calls, tool_results, latency_ms, responded_at
        )
        checked = ev.check_options(_TYPES.TOOL_CALL_RESPONSE, options) if options else {}
        checked["span_id"] = text("span_id", span_id, max_len=128)
        self._sink(self._record(_TYPES.TOOL_CALL_RESPONSE, parts, checked, span_id))

    def tool_result_sync(
        self, tool_name: str, output: dict[str, Any], **options: Unpack[EventOptions]
    ) -> None:
        """A tool's output as it is handed back to the model."""
        self._emit(_TYPES.TOOL_RESULT, ev.tool_result_content(tool_name, output), options)

    def error_sync(
        self,
        message: str,
        *,
        status: int | None = None,
        stack: str | None = None,
        **options: Unpack[EventOptions],
    ) -> None:
        """A failure in the agent run."""
        self._emit(_TYPES.ERROR, ev.error_content(message, status, stack), options)

    user_message = _async_twin(user_message_sync)
    llm_response = _async_twin(llm_response_sync)
    llm_thinking = _async_twin(llm_thinking_sync)
    embedding_request = _async_twin(embedding_request_sync)
    embedding_response = _async_twin(embedding_response_sync)
    tool_call_request = _async_twin(tool_call_request_sync)
    tool_call_response = _async_twin(tool_call_response_sync)
    tool_result = _async_twin(tool_result_sync)
    error = _async_twin(error_sync)

    def _emit(self, event_type: str, parts: Parts, options: Any) -> None:
        checked = ev.check_options(event_type, options) if options else options
        self._sink(self._record(event_type, parts, checked))

    def _record(
        self,
        event_type: str,
        parts: Parts,
        options: Mapping[str, Any],
        span_id: str | None = None,
    ) -> EventRecord:
        content, metadata = parts
        payload: ev.Json = {
            "eventType": event_type,
            "traceId": self._trace_id,
            "agentName": self._agent_name,
            # None: generated from the record's time and random bits, on the flusher thread
            "spanId": span_id,
            "timestamp": None,
            "idempotencyKey": None,
            "content": content,
        }
        if metadata:
            payload["metadata"] = metadata
        if options:
            ev.apply_options(payload, options)
        trace = _context.TRACE.get()
        if trace is not None and trace.trace_id != self._trace_id:
            trace = None  # the ambient trace is another one: nothing of it applies here
        if trace is not None and trace.external_user_id and "external_user_id" not in options:
            payload["externalUserId"] = trace.external_user_id
        span = _context.SPAN.get()
        if span is not None and span.trace_id == self._trace_id:
            payload["parentSpanId"] = span.span_id
        if trace is not None and trace.thread_id:
            payload["threadId"] = trace.thread_id
        return EventRecord(payload, _time_ns(), _bits(192))
