"""whyops.otlp.attributes: OTLP KVs ↔ Python values."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from whyops.otlp import attributes
from whyops.otlp.attributes import MAX_DEPTH, attribute_dict, key_values, value_depth

SETTINGS = settings(max_examples=200, deadline=None, derandomize=True)

plain = st.recursive(
    st.one_of(
        st.text(max_size=10),
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=False),
        st.binary(max_size=6),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@SETTINGS
@given(st.dictionaries(st.text(max_size=8), plain, max_size=5))
def test_python_values_survive_the_round_trip(mapping: dict[str, Any]) -> None:
    assert attribute_dict(key_values(mapping)) == mapping


def test_each_value_kind() -> None:
    kvs = key_values(
        {
            "s": "x",
            "i": 3,
            "f": 1.5,
            "b": True,
            "raw": b"\x00\x01",
            "l": [1, "a"],
            "t": (2,),
            "m": {"k": None, "j": 1},
            "none": None,
            "big": 2**70,
            "obj": {1, 2},
        }
    )
    values = {kv["key"]: kv["value"] for kv in kvs}
    assert values["s"] == {"stringValue": "x"}
    assert values["i"] == {"intValue": 3}
    assert values["f"] == {"doubleValue": 1.5}
    assert values["b"] == {"boolValue": True}
    assert values["raw"] == {"bytesValue": base64.b64encode(b"\x00\x01").decode()}
    assert values["l"] == {"arrayValue": {"values": [{"intValue": 1}, {"stringValue": "a"}]}}
    assert values["t"] == {"arrayValue": {"values": [{"intValue": 2}]}}
    assert values["m"] == {"kvlistValue": {"values": [{"key": "j", "value": {"intValue": 1}}]}}
    assert "none" not in values
    assert values["big"] == {"stringValue": str(2**70)}  # past int64: its JSON text
    assert values["obj"]["stringValue"].startswith("{")  # a set: its text


def test_later_duplicates_win_and_empty_values_read_as_none() -> None:
    kvs = [
        {"key": "a", "value": {"intValue": 1}},
        {"key": "b", "value": {}},
        {"key": "a", "value": {"stringValue": "second"}},
    ]
    assert attribute_dict(kvs) == {"a": "second", "b": None}


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"intValue": 1}
    for _ in range(depth - 1):
        value = {"arrayValue": {"values": [value]}}
    return value


def test_depth_is_counted_and_cut_at_max_depth() -> None:
    assert value_depth({}) == 1 and value_depth({"stringValue": "x"}) == 1
    assert value_depth({"arrayValue": {"values": []}}) == 2
    assert value_depth(_nested(MAX_DEPTH)) == MAX_DEPTH
    kept = attribute_dict([{"key": "k", "value": _nested(MAX_DEPTH)}])["k"]
    for _ in range(MAX_DEPTH - 1):
        kept = kept[0]
    assert kept == 1
    cut = attribute_dict([{"key": "k", "value": _nested(MAX_DEPTH + 1)}])["k"]
    for _ in range(MAX_DEPTH - 1):
        cut = cut[0]
    assert cut == [None]  # level MAX_DEPTH + 1 is cut


def test_writing_past_max_depth_gives_json_text() -> None:
    value: Any = "leaf"
    for _ in range(MAX_DEPTH + 5):
        value = [value]
    written = attributes.any_value(value)
    assert value_depth(written) == MAX_DEPTH
    assert attribute_dict([{"key": "k", "value": written}])["k"] is not None
