"""Routes and providers described as data: what each field makes the one implementation do."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from whyops.server import proxy
from whyops.server.proxy import upstream
from whyops.server.proxy.anthropic import MESSAGES
from whyops.server.proxy.openai_chat import CHAT
from whyops.server.proxy.openai_embeddings import EMBEDDINGS
from whyops.server.proxy.openai_responses import RESPONSES
from whyops.server.proxy.providers import ANTHROPIC, OPENAI
from whyops.server.proxy.spec import RouteSpec
from whyops.wire.events import EventType

PROXY_DIR = Path(proxy.__file__).parent
CONVERSATIONS = [CHAT, RESPONSES, MESSAGES]


def test_every_recorded_route_is_mounted_at_its_path():
    mounted = {route.path: route for route in proxy.routes()}
    for spec in proxy.RECORDED_ROUTES:
        assert ["POST"] == sorted(mounted[spec.path].methods - {"HEAD"})


def test_the_proxy_imports_nothing_of_the_sdk():
    """The server side reads the wire package only: no ``whyops._*`` SDK module, no client."""
    found = []
    for path in sorted(PROXY_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                sdk = name.startswith(("whyops._", "whyops.client")) and name != "whyops._version"
                if sdk:
                    found.append(f"{path.name}: {name}")
    assert [] == found


# ---- providers ----


@pytest.mark.parametrize(
    ("provider", "base", "path", "url"),
    [
        (OPENAI, None, "/chat/completions", "https://api.openai.com/v1/chat/completions"),
        (OPENAI, "http://local:1/v1/", "/models", "http://local:1/v1/models"),
        (ANTHROPIC, None, "/v1/messages", "https://api.anthropic.com/v1/messages"),
        (ANTHROPIC, "http://gw/v1", "/v1/messages", "http://gw/v1/messages"),  # no /v1/v1
        (ANTHROPIC, "http://gw/anthropic/", "/v1/models", "http://gw/anthropic/v1/models"),
    ],
)
def test_upstream_urls_come_from_the_provider(provider, base, path, url):
    settings_ = SimpleNamespace(**{f"{provider.name}_base_url": base})
    assert url == upstream.upstream_url(settings_, provider, path)


@pytest.mark.parametrize(
    ("provider", "incoming", "expected"),
    [
        (OPENAI, {}, [(b"authorization", b"Bearer sk-x")]),
        (ANTHROPIC, {}, [(b"anthropic-version", b"2023-06-01"), (b"x-api-key", b"sk-x")]),
        (
            ANTHROPIC,
            {"Anthropic-Version": "2024-01-01"},
            [(b"anthropic-version", b"2024-01-01"), (b"x-api-key", b"sk-x")],
        ),
    ],
)
def test_auth_and_default_headers_come_from_the_provider(provider, incoming, expected):
    sent = upstream.request_headers(Headers(incoming), provider, "sk-x")
    wanted = {name for name, _ in expected}
    assert sorted(expected) == sorted((n, v) for n, v in sent if n in wanted | {b"authorization"})


def test_no_key_configured_sends_no_auth_header():
    for provider in (OPENAI, ANTHROPIC):
        names = {name for name, _ in upstream.request_headers(Headers({}), provider, None)}
        assert not names & {b"authorization", b"x-api-key"}


# ---- route specs ----


def tool_answer(spec: RouteSpec) -> dict:
    """The item by which ``spec``'s API answers a tool call."""
    if spec is MESSAGES:
        return {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]}
    if spec is RESPONSES:
        return {"type": "function_call_output", "call_id": "t1", "output": "42"}
    return {"role": "tool", "tool_call_id": "t1", "content": "42"}


@settings(max_examples=100)
@given(
    spec=st.sampled_from(CONVERSATIONS),
    before=st.lists(st.sampled_from(["user", "assistant"]), max_size=4),
    system_last=st.booleans(),
)
def test_a_request_answering_tools_is_a_tool_result(spec, before, system_last):
    items = [{"role": role, "content": "x"} for role in before] + [tool_answer(spec)]
    if system_last and spec.system_roles:  # system items are skipped when typing the request
        items.append({"role": spec.system_roles[0], "content": "rules"})
    draft = spec.request_draft({"model": "m", spec.items_key: items})
    assert EventType.TOOL_RESULT == draft.event_type
    assert len(items) == draft.metadata["messageCount"]
    assert "t1" in spec.answer_refs({spec.items_key: items})


@pytest.mark.parametrize(
    ("spec", "body", "prompt"),
    [
        (
            CHAT,
            {"messages": [{"role": "developer", "content": [{"type": "text", "text": "p"}]}]},
            "p",
        ),
        (RESPONSES, {"instructions": "p", "input": "hi"}, "p"),
        (
            MESSAGES,
            {"system": [{"type": "text", "text": "p"}], "messages": []},
            [{"type": "text", "text": "p"}],
        ),
    ],
)
def test_the_system_prompt_is_read_where_the_spec_says(spec, body, prompt):
    assert prompt == spec.request_draft(body).metadata["systemPrompt"]


def test_the_new_turn_starts_after_the_models_last_item():
    items = [
        {"role": "user", "content": "q"},
        {"type": "reasoning", "summary": []},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "1"},
    ]
    draft = RESPONSES.request_draft({"input": items})
    assert {"messages": items[3:]} == draft.content
    chat = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, items[0]]
    assert {"messages": chat[2:]} == CHAT.request_draft({"messages": chat}).content


def test_embeddings_describe_their_own_request_and_are_never_signed():
    draft = EMBEDDINGS.request_draft({"model": "e", "input": ["a"], "dimensions": 8})
    assert EventType.EMBEDDING_REQUEST == draft.event_type
    assert {"model": "e", "provider": "openai", "params": {"dimensions": 8}} == draft.metadata
    assert not EMBEDDINGS.inject_signature({}, {"data": []}, "sig")
    assert [] == EMBEDDINGS.answer_refs({"input": [{"id": "x"}]})


def test_usage_mapper_comes_from_the_answer_shape_or_the_spec():
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert {"promptTokens": 3, "completionTokens": 2, "totalTokens": 5} == CHAT.usage_wire(usage)
    assert CHAT.usage_wire(usage) == EMBEDDINGS.usage_wire(usage)
    claude = {"input_tokens": 3, "output_tokens": 2, "cache_read_input_tokens": 10}
    assert 15 == MESSAGES.usage_wire(claude)["totalTokens"]  # Anthropic counts cache apart
