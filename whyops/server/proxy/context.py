"""What the proxy reads from a client request's headers (pure).

Trace id resolution: ``X-Trace-ID``, then ``X-Thread-ID``, then the invisible
signature in earlier assistant text, else a new ``thread_<16 chars>`` id.
A call without ``X-Agent-Name`` is recorded under the server's default agent
(unless the server requires the header) and says so in its events' metadata.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from concurrent.futures import Future
from functools import partial
from typing import Any

import attrs
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers

from whyops.server.headers import header_text
from whyops.server.proxy import signature
from whyops.server.proxy.events import new_trace_id
from whyops.server.store import StorageUnavailableError, Store, WriterClosedError
from whyops.server.store.answers import find_answer, remember_answers

log = logging.getLogger("whyops.server.proxy")

MAX_ID = 128
MAX_NAME = 255
MAX_REFS = 32
DEFAULT_AGENT = "default"
SIGNATURE_HEADER = "X-WhyOps-Signature"
# Seconds to look again for an answer id no server has stored yet (a commit takes a few ms).
SHARED_ANSWER_WAIT_S = 0.05
# Values of X-WhyOps-Signature, compared case-insensitively.
SIGNATURE_SWITCH = {"on": True, "true": True, "1": True, "off": False, "false": False, "0": False}


class HeaderError(ValueError):
    """A request header the proxy cannot accept; the message names the header."""


@attrs.frozen(slots=True)
class TraceIds:
    trace_id: str
    thread_id: str | None
    from_header: bool
    source: str  # "header" | "signature" | "reference" | "new"


def _has_control(value: str) -> bool:
    return any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in value)


def _header(headers: Headers, name: str, label: str, limit: int) -> str | None:
    value = header_text(headers, name)
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > limit:
        raise HeaderError(f"Header {label} must be at most {limit} characters")
    if _has_control(value):
        raise HeaderError(f"Header {label} must not contain control characters")
    return value


@attrs.frozen(slots=True)
class ProxyHeaders:
    """The WhyOps headers of one proxied request, validated.

    ``agent_name`` is the header's, else the default agent's (``agent_named`` False);
    ``sign``: whether answers may carry the signature (``X-WhyOps-Signature`` and the server).
    """

    agent_name: str
    trace_id: str | None
    thread_id: str | None
    parent_span_id: str | None
    external_user_id: str | None
    agent_named: bool = True
    sign: bool = True


def read_headers(
    headers: Headers,
    *,
    agent_required: bool,
    default_agent: str = DEFAULT_AGENT,
    sign: bool = True,
) -> ProxyHeaders:
    """Every WhyOps header the proxy reads; :class:`HeaderError` names the first bad one.

    ``sign``: the server's setting; the header can only turn the signature off.
    """
    agent = _header(headers, "x-agent-name", "X-Agent-Name", MAX_NAME)
    if agent is None and agent_required:
        raise HeaderError("Missing required header: X-Agent-Name")
    return ProxyHeaders(
        agent_name=agent or default_agent,
        trace_id=_header(headers, "x-trace-id", "X-Trace-ID", MAX_ID),
        thread_id=_header(headers, "x-thread-id", "X-Thread-ID", MAX_ID),
        parent_span_id=_header(headers, "x-parent-span-id", "X-Parent-Span-ID", MAX_ID),
        external_user_id=_header(headers, "x-external-user-id", "X-External-User-Id", MAX_NAME),
        agent_named=agent is not None,
        sign=signature_switch(headers) and sign,
    )


def signature_switch(headers: Headers) -> bool:
    """``X-WhyOps-Signature``: ``off``/``false``/``0`` turn the signature off for this call."""
    value = _header(headers, SIGNATURE_HEADER.lower(), SIGNATURE_HEADER, MAX_NAME)
    if value is None:
        return True
    switch = SIGNATURE_SWITCH.get(value.lower())
    if switch is None:
        raise HeaderError(f"Header {SIGNATURE_HEADER} must be on or off")
    return switch


def signature_for(given: ProxyHeaders, ids: TraceIds) -> str | None:
    """The signature to add to this call's answer, or None.

    A client that sends its own trace ids needs none; ids above U+00FF cannot be encoded.
    """
    if not given.sign or ids.from_header or not signature.encodable(ids.trace_id):
        return None
    return signature.encode(ids.trace_id)


def resolve_trace(
    headers: ProxyHeaders, signed: str | None, referenced: str | None = None
) -> TraceIds:
    """Header, then signature, then the trace of a referenced answer, else a new id."""
    trace, thread = headers.trace_id, headers.thread_id
    if trace or thread:
        return TraceIds(trace or thread or "", thread, True, "header")
    if signed and len(signed) <= MAX_ID:
        return TraceIds(signed, None, False, "signature")
    if referenced:
        return TraceIds(referenced, None, False, "reference")
    return TraceIds(new_trace_id(), None, False, "new")


class AnswerIndex:
    """The trace of earlier answers and tool calls by id, per project (bounded LRU).

    Some turns carry no signed text: Responses clients continue with
    ``previous_response_id`` instead of sending the history back, and a turn
    that only calls tools has no text to sign. The ids such requests refer to
    (the previous response, the tool calls being answered) lead to the trace.

    Given a ``store`` shared with other servers (PostgreSQL), ids are also kept in the
    database, and an id this server has not seen is looked up there (:meth:`find`): the
    next turn of a conversation may reach another server than the one that answered.
    """

    def __init__(self, capacity: int = 50_000, store: Store | None = None) -> None:
        self.capacity = capacity
        self._traces: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._store = store

    def remember(self, project_id: str, answer_id: str, trace_id: str) -> None:
        self._traces[(project_id, answer_id)] = trace_id
        self._traces.move_to_end((project_id, answer_id))
        if len(self._traces) > self.capacity:
            self._traces.popitem(last=False)
        if self._store is not None:
            self._share(project_id, answer_id, trace_id)

    def _share(self, project_id: str, answer_id: str, trace_id: str) -> None:
        job = partial(remember_answers, project_id=project_id, answers=[(answer_id, trace_id)])
        try:
            assert self._store is not None
            self._store.submit(job).add_done_callback(_log_failure)
        except WriterClosedError:
            log.warning("answer id %s not shared: the store is closed", answer_id)

    def lookup(self, project_id: str, refs: list[str]) -> str | None:
        """The trace of the first of ``refs`` (latest first) that this server knows."""
        for ref in refs[:MAX_REFS]:
            trace = self._traces.get((project_id, ref))
            if trace is not None:
                return trace
        return None

    async def find(self, project_id: str, refs: list[str]) -> str | None:
        """:meth:`lookup`, then (shared store) the ids other servers remembered."""
        found = self.lookup(project_id, refs)
        if found is not None or self._store is None or not refs:
            return found
        found = await self._stored(project_id, refs)
        if found is None:
            # The server that answered may still be committing the ids it remembered: the
            # client can send its next turn as soon as the answer reached it.
            await asyncio.sleep(SHARED_ANSWER_WAIT_S)
            found = await self._stored(project_id, refs)
        return found

    async def _stored(self, project_id: str, refs: list[str]) -> str | None:
        assert self._store is not None
        try:
            return await run_in_threadpool(
                self._store.read, find_answer, project_id, refs[:MAX_REFS]
            )
        except StorageUnavailableError:  # the call goes on, in a trace of its own
            return None


def _log_failure(future: Future[None]) -> None:
    error = future.exception()
    if error is not None and not isinstance(error, StorageUnavailableError):
        log.error("remembering a proxied answer id failed: %r", error)


def answer_index(app: Any) -> AnswerIndex:
    index: AnswerIndex | None = getattr(app.state, "proxy_answer_index", None)
    if index is None:
        store: Store | None = getattr(app.state, "store", None)
        shared = store if store is not None and store.postgres else None
        index = app.state.proxy_answer_index = AnswerIndex(store=shared)
    return index


def echo_headers(ids: TraceIds, span_id: str | None) -> list[tuple[bytes, bytes]]:
    """Headers every proxy answer carries, so a client can follow its trace (UTF-8 values)."""
    echoed = [
        (b"x-trace-id", ids.trace_id.encode()),
        (b"x-thread-id", (ids.thread_id or ids.trace_id).encode()),
    ]
    if span_id:
        echoed.append((b"x-span-id", span_id.encode()))
    return echoed
