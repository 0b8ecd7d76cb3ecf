"""Hostile captured values: whatever user code raises, the caller sees exactly what it would
see untraced, and the flusher still delivers a record."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import whyops
from whyops._tracer import TRACER
from whyops.export import ExportResult
from whyops.export.encoding import encode_records
from whyops.wire.records import Record

RAISED = (ValueError, KeyboardInterrupt, SystemExit, asyncio.CancelledError, GeneratorExit)
# Hostile code raises only while armed: pytest and hypothesis must still be able to show a
# failing example (their repr() would otherwise raise the KeyboardInterrupt itself).
ARMED = [False]


@contextlib.contextmanager
def armed() -> Iterator[None]:
    ARMED[0] = True
    try:
        yield
    finally:
        ARMED[0] = False


def attack(raised: type[BaseException], where: str) -> None:
    if ARMED[0]:
        raise raised(where)


class Encoding:
    """A batching exporter that encodes every record as the HTTP exporter would."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.events: list[Any] = []

    def export(self, records: Any) -> ExportResult:
        body, failed = encode_records(records, TRACER.config.limits, None)
        assert failed == 0
        self.events.extend(json.loads(body))
        self.records.extend(records)
        return ExportResult(ok=True)

    def shutdown(self) -> None:
        pass


@pytest.fixture
def encoding() -> Iterator[Encoding]:
    exporter = Encoding()
    with TRACER.use_exporter(exporter):
        yield exporter


def hostile_class(raised: type[BaseException], hooks: frozenset[str]) -> type:
    """A class whose chosen dunders raise ``raised``."""

    def boom(*args: Any, **kwargs: Any) -> Any:
        attack(raised, "hostile")
        return "safe"

    namespace: dict[str, Any] = {name: boom for name in hooks}
    return type(f"Hostile{raised.__name__}", (), namespace)


def hostile_exception(raised: type[BaseException]) -> type[Exception]:
    def boom(self: Any) -> str:
        attack(raised, "from __str__")
        return "HostileError()"

    return type("HostileError", (Exception,), {"__str__": boom, "__repr__": boom})


class RaisingList(list[Any]):
    raised: type[BaseException] = KeyboardInterrupt

    def __len__(self) -> int:
        attack(self.raised, "from __len__")
        return super().__len__()


class RaisingDict(dict[str, Any]):
    raised: type[BaseException] = SystemExit

    def items(self) -> Any:
        attack(self.raised, "from items")
        return super().items()


hooks = st.frozensets(st.sampled_from(["__repr__", "__str__", "__getattr__", "__len__"]))
hostile_leaves = st.builds(
    lambda raised, chosen: hostile_class(raised, chosen)(), st.sampled_from(RAISED), hooks
)
leaves = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=20),
    st.binary(max_size=20),
    hostile_leaves,
    st.builds(lambda raised: hostile_exception(raised)(), st.sampled_from(RAISED)),
    st.just(RaisingList([1])),
    st.just(RaisingDict(a=1)),
)
values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=5), children, max_size=4),
        st.tuples(children, children),
    ),
    max_leaves=12,
)


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "returned", fn()
    except BaseException as exc:  # the comparison is the point: nothing may differ
        return "raised", exc


CALLS = given(
    argument=values,
    result=values,
    raise_it=st.sampled_from([None, *RAISED]),
    kind=st.sampled_from(["tool", "llm", "agent"]),
)
UNCHECKED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=150, deadline=None, suppress_health_check=UNCHECKED)
@CALLS
def test_a_traced_call_behaves_exactly_as_the_untraced_one(
    encoding: Encoding, argument: Any, result: Any, raise_it: Any, kind: str
) -> None:
    with armed():
        check_one_call(encoding, argument, result, raise_it, kind)


@pytest.mark.slow
@settings(max_examples=2_000, deadline=None, suppress_health_check=UNCHECKED)
@CALLS
def test_a_traced_call_behaves_exactly_as_the_untraced_one_at_length(
    encoding: Encoding, argument: Any, result: Any, raise_it: Any, kind: str
) -> None:
    with armed():
        check_one_call(encoding, argument, result, raise_it, kind)


def check_one_call(
    encoding: Encoding, argument: Any, result: Any, raise_it: Any, kind: str
) -> None:
    error = hostile_exception(raise_it)() if raise_it is not None else None

    def call(value: Any, *rest: Any, **options: Any) -> Any:
        if error is not None:
            raise error
        return result

    traced = whyops.span(kind=kind)(call)
    before = len(encoding.records)
    bare = outcome(lambda: call(argument, argument, option=argument))
    seen = outcome(lambda: traced(argument, argument, option=argument))
    assert seen[0] == bare[0] and seen[1] is bare[1]
    report = whyops.flush(10)
    assert report.ok and report.dropped == 0
    assert len(encoding.records) == before + 1


def test_an_exception_whose_str_raises_keyboard_interrupt_is_reraised_as_itself(
    encoding: Encoding,
) -> None:
    error = hostile_exception(KeyboardInterrupt)()

    @whyops.tool
    def fails() -> None:
        raise error

    with armed():
        seen = outcome(fails)
        assert whyops.flush(5).ok
    assert seen == ("raised", error)
    (record,) = encoding.records
    assert record.exception.message == "<unprintable HostileError>"
    assert encoding.events[-1]["eventType"] == "error"


@pytest.mark.parametrize("kind", ["tool", "llm", "embedding"])
def test_a_returned_object_whose_getattr_raises_system_exit_is_returned(
    encoding: Encoding, kind: str
) -> None:
    value = hostile_class(SystemExit, frozenset({"__getattr__", "__repr__"}))()
    with armed():
        seen = outcome(whyops.span(kind=kind)(lambda: value))
        assert whyops.flush(5).ok
    assert seen == ("returned", value)
    (record,) = encoding.records
    assert encoding.events[-1]["content"] is not None and record.provider is None


def test_arguments_whose_len_or_items_raise_base_exceptions_do_not_stop_the_call(
    encoding: Encoding,
) -> None:
    @whyops.tool
    def take(items: list[int], mapping: dict[str, int]) -> str:
        return "done"

    with armed():
        seen = outcome(lambda: take(RaisingList([1]), RaisingDict(a=1)))
        assert whyops.flush(5).ok
    assert seen == ("returned", "done")
    arguments = encoding.events[0]["content"]["toolCalls"][0]["arguments"]
    assert arguments == {
        "items": "<unrepresentable RaisingList>",
        "mapping": "<unrepresentable RaisingDict>",
    }
