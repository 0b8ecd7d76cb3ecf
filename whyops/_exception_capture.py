"""What a span records of the exception that ended it.

An exception is recorded in full (with its traceback) only by the span it was raised in;
each enclosing span it propagates through records its type and message and points at that
span (``origin_span_id``), so a trace holds one traceback per exception.

On the caller's thread a span keeps only a bounded extract (:class:`CapturedException`):
the code objects and line numbers of at most ``_HEAD_FRAMES + _TAIL_FRAMES`` frames of
each exception in the chain, never the frames themselves (nor their locals). The message
of an exception with the default ``__str__`` and one string argument is cut to
``max_string_length`` right away; any other ``__str__`` (a pydantic error's can take tens
of milliseconds) runs later, on the flusher thread, exactly once, and whatever it raises
(``KeyboardInterrupt`` included) becomes ``<unprintable Type>``.
"""

from __future__ import annotations

import builtins
import os
import threading
import traceback
from collections import deque
from types import CodeType, TracebackType
from typing import Any

from whyops._snapshot import cut_text, exception_bytes
from whyops.wire.records import ExceptionInfo

__all__ = [
    "CapturedException",
    "PendingException",
    "exception_info",
    "raw_message",
    "safe_message",
]

# Set on the exception by the span that recorded it in full: (trace id, span id, capture).
_ORIGIN_ATTR = "__whyops_origin__"
_HEAD_FRAMES, _TAIL_FRAMES = 20, 80  # the outermost calls and the innermost ones
_MAX_CHAIN = 8  # exceptions of a __cause__/__context__ chain shown in a traceback
_FRAME_BYTES = 64
_EXC_BYTES = 256
_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"
# Read through BaseException's own descriptors: no user property or __getattr__ runs.
_ARGS = BaseException.__dict__["args"].__get__
_CAUSE_OF = BaseException.__dict__["__cause__"].__get__
_CONTEXT_OF = BaseException.__dict__["__context__"].__get__
_SUPPRESSED = BaseException.__dict__["__suppress_context__"].__get__
_TB_OF = BaseException.__dict__["__traceback__"].__get__
_DICT_OF = BaseException.__dict__["__dict__"].__get__
_GROUP: Any = getattr(builtins, "BaseExceptionGroup", None)  # Python 3.11 and later
_MAX_NOTES = 10  # __notes__ (PEP 678) shown under an exception's message
_MAX_MEMBERS = 15  # sub-exceptions of an exception group shown (as traceback shows them)
_DEFAULT_STR = BaseException.__str__
_RESOLVING = threading.Lock()  # two flushers (two exporters) never run one __str__ twice


def _after_fork_in_child() -> None:
    # A fork may catch a flusher inside a slow __str__ (the fork waits only so long): the
    # child, which has no such flusher, must not inherit the lock held.
    global _RESOLVING
    _RESOLVING = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)

Frames = tuple[list[tuple[CodeType, int]], int, list[tuple[CodeType, int]]]


def raw_message(exc: BaseException) -> str:
    """``str(exc)``, or ``<unprintable Type>`` if it raises anything."""
    try:
        text = str(exc)
    except BaseException:  # a KeyboardInterrupt from __str__ is the value's, not ours
        text = None
    return text if isinstance(text, str) else f"<unprintable {type(exc).__qualname__}>"


def safe_message(exc: BaseException, limit: int) -> str:
    """``str(exc)`` cut to ``limit``; ``<unprintable Type>`` if it raises anything."""
    return cut_text(raw_message(exc), limit)


def _quick_message(exc: BaseException, limit: int) -> str | None:
    """The message without running user code, when the default ``__str__`` makes it."""
    if type(exc).__str__ is not _DEFAULT_STR:
        return None
    args = _ARGS(exc)
    if not args:
        return ""
    if len(args) == 1 and type(args[0]) is str:
        return cut_text(args[0], limit)
    return None


def _held_by(exc: BaseException | None) -> int:
    """What an exception kept for the flusher holds (its string arguments)."""
    return exception_bytes(exc) if exc is not None else _EXC_BYTES


def _frames(tb: TracebackType | None) -> Frames:
    """(outermost frames, how many were left out, innermost frames) of a traceback."""
    head: list[tuple[CodeType, int]] = []
    tail: deque[tuple[CodeType, int]] = deque(maxlen=_TAIL_FRAMES)
    skipped = 0
    while tb is not None and len(head) < _HEAD_FRAMES:
        head.append((tb.tb_frame.f_code, tb.tb_lineno))
        tb = tb.tb_next
    while tb is not None:
        skipped += len(tail) == _TAIL_FRAMES
        tail.append((tb.tb_frame.f_code, tb.tb_lineno))
        tb = tb.tb_next
    return head, skipped, list(tail)


class _Link:
    """One exception of a chain: its type, its message (or the exception, to ask later)."""

    __slots__ = ("exc", "frames", "kind", "members", "message", "notes", "relation")

    def __init__(self, exc: BaseException, tb: TracebackType | None, relation: str) -> None:
        self.kind = type(exc)
        self.frames = _frames(tb)
        self.relation = relation
        self.message: str | None = None
        self.exc: BaseException | None = exc
        self.notes = _notes(exc)
        # A group's sub-exceptions (kept, as the group keeps them): formatted on the flusher.
        grouped = _GROUP is not None and issubclass(self.kind, _GROUP)
        self.members = _GROUP.__dict__["exceptions"].__get__(exc)[:_MAX_MEMBERS] if grouped else ()

    def settle(self, limit: int, caller: bool) -> int:
        """Fill in the message if that runs no user code (or always, off the caller)."""
        if self.message is None:
            quick = _quick_message(self.exc, limit) if self.exc is not None else None
            if quick is None and not caller:
                quick = safe_message(self.exc, limit) if self.exc is not None else ""
            if quick is not None:
                self.message, self.exc = quick, None
        held = len(self.message) if self.message is not None else _held_by(self.exc)
        head, _, tail = self.frames
        return held + _FRAME_BYTES * (len(head) + len(tail))

    def lines(self) -> list[str]:
        out = ["Traceback (most recent call last):\n"] if self.frames[0] else []
        head, skipped, tail = self.frames
        out += _stack(head)
        if skipped:
            out.append(f"  ... {skipped} frames left out ...\n")
        out += _stack(tail)
        name = _display_name(self.kind)
        out.append(f"{name}: {self.message}\n" if self.message else f"{name}\n")
        out += [f"{note}\n" for note in self.notes]
        return out + _member_lines(self.members)


def _notes(exc: BaseException) -> list[str]:
    """The string notes ``add_note`` attached so far, read without running user code."""
    notes = _DICT_OF(exc).get("__notes__")
    if type(notes) is not list:
        return []
    return [cut_text(note, 2_000) for note in notes[:_MAX_NOTES] if type(note) is str]


def _member_lines(members: tuple[BaseException, ...]) -> list[str]:
    """A group's sub-exceptions, numbered, each as ``traceback.format_exception`` lays it out."""
    out: list[str] = []
    for number, member in enumerate(members, 1):
        out.append(f"+---------------- {number} ----------------\n")
        try:
            text = "".join(traceback.format_exception(member))
        except BaseException:  # the member's own __str__ raising: the value's, not ours
            text = f"{_display_name(type(member))}: <unprintable>\n"
        out += [f"| {line}\n" for line in text.splitlines()]
    return [*out, "+------------------------------------\n"] if out else out


def _stack(frames: list[tuple[CodeType, int]]) -> list[str]:
    entries = [(code.co_filename, line, code.co_name, None) for code, line in frames]
    return list(traceback.StackSummary.from_list(entries).format())


def _display_name(kind: type) -> str:
    module = getattr(kind, "__module__", None)
    name = kind.__qualname__
    return name if module in (None, "__main__", "builtins") else f"{module}.{name}"


def _chain(exc: BaseException, tb: TracebackType | None) -> list[_Link]:
    """The exception and what it was raised from or during, newest first, bounded."""
    links = [_Link(exc, tb, "")]
    seen = {id(exc)}
    current = exc
    while len(links) < _MAX_CHAIN:
        cause = _CAUSE_OF(current)
        context = _CONTEXT_OF(current)
        if cause is not None:
            current, relation = cause, _CAUSE
        elif context is not None and not _SUPPRESSED(current):
            current, relation = context, _CONTEXT
        else:
            break
        if id(current) in seen:
            break
        seen.add(id(current))
        links.append(_Link(current, _TB_OF(current), relation))
    return links


class CapturedException:
    """The extract of an exception a span ended with; its text is made once, later."""

    __slots__ = ("_info", "approx_bytes", "links", "type_name")

    def __init__(self, exc: BaseException, tb: TracebackType | None, limit: int) -> None:
        self.type_name = type(exc).__qualname__
        self.links = _chain(exc, tb)
        self.approx_bytes = _EXC_BYTES + sum(link.settle(limit, True) for link in self.links)
        self._info: ExceptionInfo | None = None

    def info(self, limit: int) -> ExceptionInfo:
        """The full record (on the flusher): messages asked for now, at most once."""
        with _RESOLVING:
            if self._info is None:
                for link in self.links:
                    link.settle(limit, False)
                message = self.links[0].message or ""
                self._info = ExceptionInfo(self.type_name, message, _traceback_text(self.links))
                self.links = []  # the text is made: let the exceptions go
        return self._info


def _traceback_text(links: list[_Link]) -> str:
    """The chain as ``traceback.format_exception`` lays it out, oldest exception first."""
    lines: list[str] = []
    try:
        for link in reversed(links):
            lines += link.lines()
            if link.relation:
                lines.append(link.relation)
    except Exception:  # an odd code object or source file: the message still stands
        return ""
    return "".join(lines)


class PendingException:
    """What a span records of an exception until it is frozen: full, or a pointer."""

    __slots__ = ("capture", "origin_span_id")

    def __init__(self, capture: CapturedException, origin_span_id: str | None) -> None:
        self.capture = capture
        self.origin_span_id = origin_span_id

    @property
    def approx_bytes(self) -> int:
        return self.capture.approx_bytes if self.origin_span_id is None else _EXC_BYTES

    def resolve(self, limit: int) -> ExceptionInfo:
        full = self.capture.info(limit)
        if self.origin_span_id is None:
            return full
        return ExceptionInfo(full.type, full.message, "", origin_span_id=self.origin_span_id)


def exception_info(
    exc: BaseException, tb: TracebackType | None, trace_id: str, span_id: str, limit: int
) -> PendingException:
    """The record of ``exc`` for span ``span_id`` of ``trace_id``; never raises."""
    try:
        origin = getattr(exc, _ORIGIN_ATTR, None)
    except BaseException:  # a user __getattr__
        origin = None
    if isinstance(origin, tuple) and len(origin) == 3 and origin[0] == trace_id:
        return PendingException(origin[2], origin[1])
    capture = CapturedException(exc, tb, limit)
    try:
        setattr(exc, _ORIGIN_ATTR, (trace_id, span_id, capture))
    except BaseException:
        pass  # exceptions without a __dict__: every enclosing span records it in full
    return PendingException(capture, None)
