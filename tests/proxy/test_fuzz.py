"""Arbitrary JSON never crashes the proxy: pure parts directly, routes over HTTP."""

from __future__ import annotations

import json

import httpx2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whyops.server.proxy import signature
from whyops.server.proxy.anthropic import Messages
from whyops.server.proxy.openai_chat import ChatCompletions
from whyops.server.proxy.openai_embeddings import Embeddings
from whyops.server.proxy.openai_responses import Responses
from whyops.server.proxy.sse import SSEFramer, encode_frame

from .conftest import PROXY_KEY, headers_for

ROUTES = [ChatCompletions(), Responses(), Embeddings(), Messages()]
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
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)
BODIES = st.dictionaries(KEYS, VALUES, max_size=6)


@settings(max_examples=200, deadline=None)
@given(body=BODIES, answer=BODIES)
def test_pure_parts_accept_any_json(body, answer):
    for route in ROUTES:
        route.find_trace_id(body)
        route.strip_signatures(body)
        route.request_draft(body)
        route.response_drafts(body, answer, 1)
        route.inject_signature(body, answer, signature.encode("t"))


@settings(max_examples=100, deadline=None)
@given(body=BODIES, events=st.lists(BODIES, max_size=6))
def test_stream_states_accept_any_frames(body, events):
    stream = b"".join(encode_frame(json.dumps(e), str(e.get("type"))) for e in events)
    for route in ROUTES:
        state = route.stream_state(body, signature.encode("t"))
        for frame in SSEFramer().feed(stream + b"data: [DONE]\n\n"):
            state.record_frame(frame)
        state.drain()
        state.finish(1, None)


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
