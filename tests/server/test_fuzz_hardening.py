"""Property: hostile encodings, surrogates, nesting and gzip framing on every route that reads
a body, and every read route after every accepted write: never a 500, and the server stores
exactly what it acknowledged.

A few hundred examples run in CI; ``-m slow`` runs 10,000.
"""

from __future__ import annotations

import gzip
import json
import uuid
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.conftest import Api, event
from tests.server.test_nesting import nested
from tests.server.test_property import (
    EVENT_TYPES,
    Rows,
    _events_stored_for,
    json_values,
    near_valid_events,
)
from whyops.server.nesting import MAX_NESTING

EVENT_ROUTES = ("/api/events/ingest", "/api/events", "/api/events/tool-result")
INIT_ROUTES = ("/api/entities/init", "/v1/agents/init")
FOREIGN_CODECS = ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be")
FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@attrs.define
class Posted:
    """One generated request, and whether the server must refuse it (and why)."""

    path: str
    document: Any
    raw: bytes = b""
    headers: dict[str, str] = attrs.field(factory=dict)
    refuse: list[str] = attrs.field(factory=list)


def _items(document: Any) -> list[Any]:
    return document if isinstance(document, list) else [document]


@st.composite
def _event_document(draw: st.DrawFn, posted: Posted) -> None:
    """Events on traces of their own (so every read route can be checked), some nested deep."""
    for item in _items(posted.document):
        if not isinstance(item, dict):
            continue
        if draw(st.integers(0, 9)) < 8:
            item["traceId"] = f"fz-{uuid.uuid4().hex[:16]}"
        if isinstance(item.get("idempotencyKey"), str):
            item["idempotencyKey"] += uuid.uuid4().hex  # unique: nothing skipped as a repeat
        shape = draw(st.sampled_from(["as is"] * 6 + ["content", "metadata", "arguments"]))
        depth = draw(st.integers(MAX_NESTING - 3, MAX_NESTING + 3))
        if shape == "content":
            item["content"] = nested(depth)
        elif shape == "metadata" and isinstance(item.get("metadata"), dict):
            item["metadata"]["deep"] = nested(depth - 1)
        elif shape == "arguments":
            arguments = draw(st.sampled_from([json.dumps(nested(depth)), "[" * depth]))
            call = {"id": "c1", "function": {"name": "f", "arguments": arguments}}
            item["content"] = {"toolCalls": [call]}
        else:
            continue
        if depth > MAX_NESTING:
            posted.refuse.append(f"nested {shape}")


def _init_document(draw: st.DrawFn, path: str) -> Posted:
    """An agent init: well formed with a tool schema near the nesting limit, or any JSON."""
    if not draw(st.integers(0, 3)):
        return Posted(path, draw(json_values))
    depth = draw(st.integers(MAX_NESTING - 2, MAX_NESTING + 2))
    tool = {"name": draw(st.text(min_size=1, max_size=5)), "inputSchema": nested(depth)}
    metadata = {"systemPrompt": draw(st.text(max_size=20)), "tools": [tool]}
    document = {"agentName": f"fz-{uuid.uuid4().hex[:12]}", "metadata": metadata}
    return Posted(path, document, refuse=["nested schema"] if depth > MAX_NESTING else [])


valid_events = st.builds(
    lambda kind, content: event(kind, "fz", content=content),
    st.sampled_from(EVENT_TYPES),
    json_values,
)


def _surrogate(draw: st.DrawFn, posted: Posted) -> None:
    """A lone surrogate in a key or a value of the first object, if any."""
    holder = next((i for i in _items(posted.document) if isinstance(i, dict)), None)
    if holder is None or draw(st.integers(0, 3)):
        return
    lone = chr(draw(st.integers(0xD800, 0xDFFF)))
    if draw(st.booleans()):
        holder["note" + lone] = 1
    else:
        holder["note"] = "x" + lone
    posted.refuse.append("surrogate")


def _encode(draw: st.DrawFn, posted: Posted) -> None:
    """The document as bytes: UTF-8 (escaped, raw, with a BOM; a raw surrogate as its
    3 bytes) or a foreign encoding the server must refuse."""
    text = json.dumps(posted.document, ensure_ascii=draw(st.booleans()))
    foreign = not draw(st.integers(0, 3))
    codec = draw(st.sampled_from(FOREIGN_CODECS if foreign else ("utf-8", "utf-8-sig")))
    if foreign:
        posted.raw = text.encode(codec, "surrogatepass")
        posted.refuse.append(codec)
    else:
        posted.raw = text.encode(codec, "surrogatepass")


def _frame(draw: st.DrawFn, posted: Posted) -> None:
    framing = draw(st.sampled_from(["identity"] * 6 + ["gzip", "deflate", "members"] * 2
                                   + ["truncated", "junk"]))  # fmt: skip
    raw = posted.raw
    if framing == "identity":
        return
    posted.headers["Content-Encoding"] = "deflate" if framing == "deflate" else "gzip"
    if framing == "deflate":
        posted.raw = zlib.compress(raw)
    elif framing == "members":
        half = draw(st.integers(0, len(raw)))
        posted.raw = gzip.compress(raw[:half]) + gzip.compress(raw[half:])
    else:
        posted.raw = gzip.compress(raw)
    if framing == "truncated":
        posted.raw = posted.raw[: -draw(st.integers(1, 8))]
        posted.refuse.append("truncated gzip")
    elif framing == "junk":
        posted.raw += draw(st.binary(min_size=1, max_size=8))
        posted.refuse.append("bytes after gzip")


@st.composite
def hostile_requests(draw: st.DrawFn) -> Posted:
    path = draw(st.sampled_from(EVENT_ROUTES + INIT_ROUTES))
    if path in INIT_ROUTES:
        posted = _init_document(draw, path)
    else:
        one = st.one_of(near_valid_events(), valid_events)
        events = st.one_of(one, st.lists(one, min_size=1, max_size=4))
        posted = Posted(path, draw(events))
        draw(_event_document(posted))
    _surrogate(draw, posted)
    _encode(draw, posted)
    _frame(draw, posted)
    return posted


def _read_routes(trace: str) -> Iterator[tuple[str, dict[str, str]]]:
    name = quote(trace, safe="")
    yield f"/api/threads/{name}", {"eventInclude": "content,metadata"}
    yield f"/api/threads/{name}/graph", {}
    yield f"/api/traces/{name}/spans", {}
    yield "/api/events", {"traceId": trace, "include": "content,metadata"}


def _check_reads(api: Api, document: Any) -> None:
    """Every read route renders what was just accepted."""
    traces = {i["traceId"] for i in _items(document) if isinstance(i, dict)}
    for trace in traces:
        # a generated id may hold "/" and read as another route: then only "no 500" holds
        ours = trace.startswith("fz-")
        for path, params in _read_routes(trace):
            response = api.get(path, params=params)
            assert response.status_code == 200 if ours else response.status_code < 500, (
                path, response.text[:300]
            )  # fmt: skip
        listed = api.get("/api/events", params={"traceId": trace}).json()["events"]
        one = api.get(f"/api/events/{listed[0]['id']}", params={"include": "content,metadata"})
        assert one.status_code == 200, one.text[:300]
    for path in ("/api/threads", "/api/entities?include=metadata", *STATS_ROUTES):
        assert api.get(path).status_code == 200


STATS_ROUTES = ("/api/stats?groupBy=model", "/api/stats/top?kind=failing_tools")


@attrs.define
class Tally:
    acknowledged: int = 0
    refused: int = 0
    accepted_requests: int = 0


@pytest.fixture(scope="module")
def tally() -> Iterator[Tally]:
    counts = Tally()
    yield counts
    print(f"\nfuzz tally: {counts}")  # the slow run reports these numbers


def _run(api: Api, rows: Rows, tally: Tally, posted: Posted) -> None:
    mark = rows.mark()
    response = api.post(posted.path, content=posted.raw, headers=posted.headers)
    written = rows.since(mark)
    assert response.status_code < 500, response.text
    if posted.refuse:
        assert response.status_code == 400, (posted.refuse, response.text)
    if response.status_code >= 400:
        assert written == 0, response.text
        tally.refused += 1
        return
    tally.accepted_requests += 1
    if posted.path in INIT_ROUTES:
        assert response.status_code in (200, 201), response.text
        name = quote(posted.document["agentName"], safe="")
        assert api.get(f"/api/entities/{name}").status_code == 200
        return
    expected = _events_stored_for(posted.document, posted.path)
    assert written == expected, response.text
    tally.acknowledged += expected
    _check_reads(api, posted.document)


@pytest.fixture
def rows(api: Api) -> Iterator[Rows]:
    counter = Rows(api.running.db_path)
    yield counter
    counter.conn.close()


@FUZZ
@given(posted=hostile_requests())
def test_hostile_bodies_never_500_and_store_what_they_acknowledge(
    api: Api, rows: Rows, tally: Tally, posted: Posted
) -> None:
    _run(api, rows, tally, posted)


@pytest.mark.slow
@settings(FUZZ, max_examples=10_000)
@given(posted=hostile_requests())
def test_hostile_bodies_at_scale(api: Api, rows: Rows, tally: Tally, posted: Posted) -> None:
    _run(api, rows, tally, posted)
