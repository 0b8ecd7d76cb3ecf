"""Captured values become JSON-safe without ever raising, within visible limits."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import math
from collections.abc import Mapping
from typing import Any

import attrs
import pydantic
from hypothesis import given, settings
from hypothesis import strategies as st

import whyops
from whyops._capture import REDACTED, is_secret_key, snapshot, to_json_safe
from whyops._config import Limits


@dataclasses.dataclass
class Order:
    id: int
    items: list[str]


@attrs.define
class Customer:
    name: str
    api_key: str


class Reply(pydantic.BaseModel):
    text: str
    score: float


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class Color(enum.Enum):
    RED = "red"


def test_well_known_types_become_plain_json() -> None:
    value = {
        "order": Order(1, ["a"]),
        "customer": Customer("ann", "sk-live"),
        "reply": Reply(text="hi", score=0.5),
        "bytes": b"\x00" * 10,
        "when": datetime.datetime(2026, 1, 2, 3, 4, 5),
        "color": Color.RED,
        "set": {1},
        "tuple": (1, 2),
        "nan": math.nan,
        "broken": BrokenRepr(),
        3: "int key",
    }
    out = to_json_safe(value)
    json.dumps(out, allow_nan=False)
    assert out["order"] == {"id": 1, "items": ["a"]}
    assert out["customer"] == {"name": "ann", "api_key": REDACTED}
    assert out["reply"] == {"text": "hi", "score": 0.5}
    assert out["bytes"] == "<bytes len=10>"
    assert out["when"] == "2026-01-02T03:04:05"
    assert out["color"] == "red" and out["set"] == [1] and out["tuple"] == [1, 2]
    assert out["nan"] == "nan" and out["broken"] == "<unrepresentable BrokenRepr>"
    assert out["3"] == "int key"


def test_cycles_and_depth_are_cut() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    d: dict[str, Any] = {}
    d["self"] = d
    assert to_json_safe(loop) == [1, "<cycle>"]
    assert to_json_safe(d) == {"self": "<cycle>"}
    shared = [1]
    assert to_json_safe([shared, shared]) == [[1], [1]]  # repeated, not cyclic
    deep: list[Any] = []
    node = deep
    for _ in range(100):
        node.append([])
        node = node[0]
    text = json.dumps(to_json_safe(deep, Limits(max_depth=5)))
    assert "<max depth: list>" in text


def test_huge_values_are_truncated_with_a_visible_marker() -> None:
    limits = Limits(max_string_length=10, max_items=3)
    assert to_json_safe("x" * 25, limits) == "xxxxxxxxxx…[truncated 15 chars]"
    assert to_json_safe(list(range(10)), limits) == [0, 1, 2, "…[truncated, 7 items]"]
    out = to_json_safe({str(i): i for i in range(5)}, limits)
    assert list(out) == ["0", "1", "2", "…"] and out["…"] == "[truncated, 2 more keys of 5]"


def test_secret_keys_and_values_are_masked_but_token_counts_are_not() -> None:
    for key in (
        "api_key",
        "apiKey",
        "Authorization",
        "password",
        "x-api-key",
        "access_token",
        "client_secret",
        "OPENAI_API_KEY",
        "session_id",
        "token",
    ):
        assert is_secret_key(key), key
    for key in ("max_tokens", "prompt_tokens", "token_count", "author", "keyboard", "tokens"):
        assert not is_secret_key(key), key
    out = to_json_safe(
        {
            "headers": {"Authorization": "Bearer abc"},
            "note": "Bearer abcdefghijk",
            "key": "sk-proj-abcdefghijklmnopqrstuvwx",
            "max_tokens": 5,
        }
    )
    assert out == {
        "headers": {"Authorization": REDACTED},
        "note": REDACTED,
        "key": REDACTED,
        "max_tokens": 5,
    }
    assert to_json_safe({"password": "p"}, Limits(mask_secrets=False)) == {"password": "p"}


def test_redaction_hook_sees_each_leaf_with_its_path() -> None:
    seen = []

    def redact(path: tuple[Any, ...], value: Any) -> Any:
        seen.append(path)
        return "***" if path[-1] == "email" else value

    out = to_json_safe({"user": {"email": "a@b.c", "ids": [1]}}, Limits(redact=redact))
    assert out == {"user": {"email": "***", "ids": [1]}}
    assert ("user", "ids", 0) in seen

    def broken(path: tuple[Any, ...], value: Any) -> Any:
        raise RuntimeError("bad hook")

    assert to_json_safe({"a": 1}, Limits(redact=broken)) == {"a": REDACTED}


def test_containers_are_copied_at_call_time_nested_ones_too(memory: Any) -> None:
    @whyops.tool
    def keep(items: list[int], options: dict[str, Any]) -> list[int]:
        return items

    items, nested = [1, 2], {"deep": [1]}
    options = {"nested": nested}
    result = keep(items, options)
    items.append(3)
    options["added"] = True
    nested["deep"].append(2)
    result.append(4)
    (span,) = memory.spans()
    assert span.inputs["items"] == [1, 2]
    assert span.inputs["options"] == {"nested": {"deep": [1]}}
    assert span.output == [1, 2]


def test_huge_arguments_are_capped_on_the_callers_thread(memory: Any) -> None:
    @whyops.tool
    def take(big: list[int], text: str) -> int:
        return len(big)

    take(list(range(100_000)), "y" * 1_000_000)
    (span,) = memory.spans()
    assert len(span.inputs["big"].items) == 200 and span.inputs["big"].original_size == 100_000
    event = memory.events()[0]
    args = event["content"]["toolCalls"][0]["arguments"]
    assert args["big"][-1] == "…[truncated, 99800 items]"
    assert args["text"].endswith("…[truncated 967232 chars]")
    assert len(json.dumps(event)) < 50_000


def test_snapshot_copies_builtin_containers_and_keeps_other_objects() -> None:
    inner = [1]
    value = [inner]
    copy = snapshot(value, Limits(max_items=10))
    assert copy == value and copy is not value and copy[0] is not inner
    assert snapshot(bytearray(b"ab"), Limits()) == b"ab"
    frozen = (1, "a", (2,))
    assert snapshot(frozen, Limits()) is frozen  # nothing mutable inside: kept as is
    marker = object()
    assert snapshot(marker, Limits()) is marker


# Ints past 64 bits included: ``json`` refuses ints over 4300 digits.
big_ints = st.one_of(
    st.integers(64, 20_000).map(lambda bits: 2**bits),
    st.integers(4_300, 6_000).map(lambda digits: -(10**digits)),
)
json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), big_ints, st.floats(), st.text(), st.binary()
)
values = st.recursive(
    json_leaves,
    lambda children: st.one_of(
        st.lists(children),
        st.dictionaries(st.one_of(st.text(), st.integers()), children),
        st.tuples(children, children),
        st.frozensets(st.integers()),
    ),
    max_leaves=50,
)


@settings(max_examples=150, deadline=None)
@given(values)
def test_any_value_converts_to_strict_json(value: Any) -> None:
    json.dumps(to_json_safe(value, Limits(max_items=5, max_string_length=20)), allow_nan=False)
    json.dumps(to_json_safe(value), allow_nan=False)  # the fast path for plain values


def test_ints_past_64_bits_become_text() -> None:
    class Count(int):
        pass

    out = to_json_safe({"n": 10**5000, "m": 2**64, "k": [2**70], "ok": 2**63, "sub": Count(2**65)})
    assert out["n"] == "<int: 16610 bits>"
    assert out["m"] == "18446744073709551616" == str(2**64) and out["k"] == [str(2**70)]
    assert out["ok"] == 2**63 and out["sub"] == str(2**65)
    json.dumps(out, allow_nan=False)


class BadStr(str):
    def __str__(self) -> str:
        raise RuntimeError("no")


class BadClass:
    @property  # type: ignore[misc]
    def __class__(self) -> type:  # type: ignore[override]
        raise RuntimeError("no")


def test_one_bad_leaf_spoils_only_itself() -> None:
    out = to_json_safe({"a": 1, "s": BadStr("x"), "c": BadClass(), "l": [2, BadClass()]})
    assert out == {
        "a": 1,
        "s": "<unrepresentable BadStr>",
        "c": "<unrepresentable BadClass>",
        "l": [2, "<unrepresentable BadClass>"],
    }


# -- every limit applies to every value, cut when captured ---------------------------------


class LongStr:
    def __str__(self) -> str:
        return "s" * 5_000


class LongRepr:
    def __repr__(self) -> str:
        return "r" * 5_000


class Wide(enum.Enum):
    BIG = "e" * 5_000


def test_values_converted_with_str_respect_max_string_length() -> None:
    import decimal
    import pathlib
    import uuid

    limits = Limits(max_string_length=20)
    values = {
        "exception": ValueError("x" * 5_000),
        "decimal": decimal.Decimal("1." + "1" * 5_000),
        "path": pathlib.PurePath("/" + "p" * 5_000),
        "uuid": uuid.UUID(int=2**127),  # 36 characters
        "datetime": datetime.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC),
        "enum": Wide.BIG,
        "str": LongStr(),
        "repr": LongRepr(),
    }
    out = to_json_safe(values, limits)
    for name, text in out.items():
        head, _, rest = text.partition("…[truncated ")
        assert len(head) <= 20 + len("ValueError: "), (name, text)
        assert rest.endswith(" chars]"), (name, text)


def test_an_exception_message_is_cut_before_it_is_copied_into_the_text() -> None:
    out = to_json_safe(KeyError("k" * 100), Limits(max_string_length=10))
    assert out.startswith("KeyError: 'kkkkkkkkk") and out.endswith("…[truncated 92 chars]")


def test_big_strings_and_bytes_are_cut_when_captured_not_kept_alive(memory: Any) -> None:
    seen: list[Any] = []

    @whyops.tool
    def take(data: bytearray, blob: bytes, text: str, nested: list[Any]) -> str:
        seen.append(whyops.current_span())
        return text

    big = bytearray(20_000_000)
    text = "t" * 1_000_000
    take(big, bytes(50_000), text, [text, memoryview(b"abc")])
    (record,) = memory.spans()
    assert record.inputs["data"] == "<bytes len=20000000>"
    assert record.inputs["blob"] == "<bytes len=50000>"
    for kept in (record.inputs["text"], record.inputs["nested"][0], record.output):
        assert kept.head == text[:32_768] and kept.original_size == 1_000_000
    assert record.inputs["nested"][1] == "<bytes len=3>"
    # What the span holds after cutting, not what was passed: three cut strings of 32 KB.
    assert 3 * 32_768 <= seen[0].approx_bytes < 200_000
    arguments = memory.events()[0]["content"]["toolCalls"][0]["arguments"]
    assert arguments["data"] == "<bytes len=20000000>"
    assert arguments["text"] == text[:32_768] + "…[truncated 967232 chars]"


class Text(str):
    pass


class Blob(bytes):
    pass


def test_big_str_and_bytes_subclasses_are_cut_when_captured(memory: Any) -> None:
    seen: list[Any] = []

    @whyops.tool
    def take(text: Text, blob: Blob, small: Text) -> None:
        seen.append(whyops.current_span())

    take(Text("s" * 5_000_000), Blob(bytes(5_000_000)), Text("kept"))
    (record,) = memory.spans()
    assert record.inputs["text"].head == "s" * 32_768
    assert record.inputs["text"].original_size == 5_000_000
    assert record.inputs["blob"] == "<bytes len=5000000>"
    assert record.inputs["small"] == "kept"
    assert seen[0].approx_bytes < 100_000  # what is kept, not the 10 MB passed
    arguments = memory.events()[0]["content"]["toolCalls"][0]["arguments"]
    assert arguments["text"].endswith("…[truncated 4967232 chars]")


def test_small_spans_have_a_small_estimate(memory: Any) -> None:
    with whyops.span("small") as span:
        span.set_output({"a": 1, "b": "x" * 100})
    assert 512 < span.approx_bytes < 2_000


class CountingList(list[int]):
    """Counts the items anyone iterates over."""

    taken = 0

    def __iter__(self) -> Any:
        for item in super().__iter__():
            CountingList.taken += 1
            yield item


class CountingMapping(Mapping[int, int]):
    """A huge read-only mapping that counts the values read."""

    read = 0

    def __len__(self) -> int:
        return 10_000_000

    def __iter__(self) -> Any:
        return iter(range(10_000_000))

    def __getitem__(self, key: int) -> int:
        CountingMapping.read += 1
        return key


def test_big_containers_are_never_walked_past_what_the_limits_keep(memory: Any) -> None:
    @whyops.tool
    def take(items: list[int], mapping: Any) -> int:
        return 0

    take(CountingList(range(100_000)), CountingMapping())
    assert CountingList.taken <= 201  # copied on the caller's thread: the first 200
    event = memory.events()[0]
    arguments = event["content"]["toolCalls"][0]["arguments"]
    assert arguments["items"][-1] == "…[truncated, 99800 items]"
    assert arguments["mapping"]["…"] == "[truncated, 9999800 more keys of 10000000]"
    assert CountingMapping.read <= 201  # converted on the flusher: islice, no list()


def test_snapshot_of_a_huge_dict_copies_only_the_first_items() -> None:
    huge = {key: [1] for key in range(1_000_000)}
    frozen = snapshot(huge, Limits(max_items=3))
    assert frozen.original_size == 1_000_000 and frozen.items == {0: [1], 1: [1], 2: [1]}
    assert frozen.items[0] is not huge[0]


# -- subclasses of the builtin containers are snapshotted too -------------------------------


def test_container_subclasses_and_nested_lists_are_frozen_at_call_time(memory: Any) -> None:
    import collections

    class Items(list[Any]):
        pass

    @whyops.tool
    def take(**values: Any) -> None:
        return None

    grouped: collections.defaultdict[str, list[int]] = collections.defaultdict(list)
    grouped["a"].append(1)
    ordered = collections.OrderedDict(a=[1])
    counts = collections.Counter(a=1)
    items = Items([[1]])
    pair = ("p", [1])
    take(grouped=grouped, ordered=ordered, counts=counts, items=items, pair=pair)
    grouped["a"].append(2)
    grouped["b"].append(3)
    ordered["a"].append(2)
    ordered["z"] = [0]
    counts["a"] += 5
    items[0].append(2)
    items.append([3])
    pair[1].append(2)
    arguments = memory.events()[0]["content"]["toolCalls"][0]["arguments"]["values"]
    assert arguments == {
        "grouped": {"a": [1]},
        "ordered": {"a": [1]},
        "counts": {"a": 1},
        "items": [[1]],
        "pair": ["p", [1]],
    }
