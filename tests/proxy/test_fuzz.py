"""Arbitrary JSON never crashes the proxy: pure parts directly, routes over HTTP."""

from __future__ import annotations

import json

import httpx2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whyops.server.proxy import signature
from whyops.server.proxy.anthropic import MESSAGES
from whyops.server.proxy.events import CallInfo, Draft, build_events, parse_answer
from whyops.server.proxy.openai_chat import CHAT
from whyops.server.proxy.openai_embeddings import EMBEDDINGS
from whyops.server.proxy.openai_responses import RESPONSES
from whyops.server.proxy.spec import RouteSpec
from whyops.server.proxy.sse import SSEFramer, encode_frame
from whyops.server.validation import validate_events

from .conftest import PROXY_KEY, headers_for
from .shapes import error_message, provider_of

ROUTES: list[RouteSpec] = [CHAT, RESPONSES, EMBEDDINGS, MESSAGES]
KEYS = st.sampled_from(
    [
        "messages",
        "input",
        "role",
        "content",
        "type",
        "text",
        "choices",
        "message",
        "output",
        "tool_calls",
        "function",
        "usage",
        "model",
        "delta",
        "index",
        "summary",
        "data",
        "stream",
        "response",
        "content_block",
        "name",
        "arguments",
        "id",
        "system",
        "tools",
        "error",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.text(max_size=5)
    | st.just("x" + signature.encode("t"))
)


def json_objects(scalars: st.SearchStrategy) -> st.SearchStrategy:
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
        max_leaves=25,
    )
    return st.dictionaries(KEYS, values, max_size=6)


BODIES = json_objects(SCALARS)
# What an upstream may send back but a client body may not: NaN, Infinity, lone surrogates.
ANSWERS = json_objects(SCALARS | st.floats() | st.just("\ud800") | st.just("x\udfffy"))


def upstream_json(value: object) -> object:
    """``value`` as the proxy sees it: parsed from the text an upstream sent."""
    return parse_answer(json.dumps(value))


@settings(max_examples=200, deadline=None)
@given(body=BODIES, answer=ANSWERS)
def test_pure_parts_accept_any_json(body, answer):
    answer = upstream_json(answer)
    for route in ROUTES:
        found = route.find_trace_id(body)
        assert found is None or isinstance(found, str)
        route.strip_signatures(body)
        drafts = [route.request_draft(body), *route.response_drafts(body, answer, 1)]
        assert_recordable(drafts)
        route.inject_signature(body, answer, signature.encode("t"))


def event_name(event: dict) -> str:
    """The SSE event line for ``event``: bytes on the wire, so no lone surrogate."""
    return str(event.get("type")).encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def assert_recordable(drafts: list[Draft]) -> None:
    """The server's own validation accepts every event: the recorder drops none."""
    call = CallInfo("trace", "agent", "span", "span.name", "llm", "thread", "parent", "user")
    events = build_events(call, drafts, 1_700_000_000.0, 0)
    rows, issues = validate_events(events, received_us=1)
    assert ([], len(events)) == (issues, len(rows))
    for row in rows:  # and the store can write every text (UTF-8, no lone surrogates)
        for text in (row.content, row.metadata):
            assert text is None or text.encode("utf-8")


@settings(max_examples=100, deadline=None)
@given(body=BODIES, events=st.lists(ANSWERS, max_size=6))
def test_stream_states_accept_any_frames(body, events):
    stream = b"".join(encode_frame(json.dumps(e), event_name(e)) for e in events)
    for route in ROUTES:
        state = route.stream_state(body, signature.encode("t"))
        for frame in SSEFramer().feed(stream + b"data: [DONE]\n\n"):
            state.record_frame(frame)
        state.drain()
        assert_recordable(state.finish(1, None))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=BODIES,
    path=st.sampled_from(
        ["/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/messages"]
    ),
)
def test_routes_never_answer_500(proxy, body, path):
    headers = {"Authorization": f"Bearer {PROXY_KEY}", **headers_for("fuzz-trace")}
    answer = httpx2.post(proxy.base_url + path, json=body, headers=headers, timeout=10)
    assert answer.status_code < 500, answer.text


LIMITS = {
    "X-Agent-Name": 255,
    "X-Trace-ID": 128,
    "X-Thread-ID": 128,
    "X-Parent-Span-ID": 128,
    "X-External-User-Id": 255,
}
# What HTTP lets through in a header value: no C0 control but tab, no DEL.
SENDABLE = st.characters(codec="utf-8", exclude_categories=["Cs"]).filter(
    lambda c: c == "\t" or (c >= " " and c != "\x7f")
)
HEADER_VALUES = st.one_of(
    st.text(SENDABLE, max_size=300).map(str.encode),
    st.integers(0, 400).map(lambda n: b"x" * n),
    st.binary(max_size=40).map(lambda b: bytes(c for c in b if c >= 0x80 or 0x20 <= c < 0x7F)),
).map(lambda raw: raw.strip(b" \t"))


def decoded(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


MESSAGES = [{"role": "user", "content": "x"}]
HEADER_ROUTES = [
    ("POST", "/v1/chat/completions", {"model": "gpt-4o-mini", "messages": MESSAGES}),
    ("POST", "/v1/messages", {"model": "claude-haiku-4-5", "max_tokens": 8, "messages": MESSAGES}),
    ("GET", "/v1/models", None),
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(sorted(LIMITS)), raw=HEADER_VALUES, route=st.sampled_from(HEADER_ROUTES)
)
def test_any_header_value_is_answered_without_a_500(proxy, name, raw, route):
    method, path, body = route
    headers = [(k.encode(), v.encode()) for k, v in headers_for().items() if k != name]
    headers += [(b"Authorization", f"Bearer {PROXY_KEY}".encode()), (name.encode(), raw)]
    url = proxy.base_url + path
    answer = httpx2.request(method, url, json=body, headers=headers, timeout=10)
    value = decoded(raw).strip()
    if len(value) > LIMITS[name]:
        assert 400 == answer.status_code
    if answer.status_code == 400:
        assert name in error_message(answer, provider_of(path, headers))
    else:
        assert 200 == answer.status_code, answer.text
        if name == "X-Trace-ID" and value:
            assert (b"x-trace-id", value.encode()) in answer.headers.raw
