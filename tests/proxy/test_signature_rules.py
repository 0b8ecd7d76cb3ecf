"""The signature rules without a server: header switch, prose rule, chunk reshaping (pure).

Property tests for each input surface, and the stream states of the three APIs frame by frame.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from whyops.server.proxy import chat_chunks, context, signature
from whyops.server.proxy.anthropic import MESSAGES, MessagesStreamState
from whyops.server.proxy.openai_chat import CHAT, ChatStreamState
from whyops.server.proxy.openai_responses import RESPONSES
from whyops.server.proxy.spec import RouteSpec
from whyops.server.proxy.sse import SSEFramer, encode_frame

# ---- properties of the new input surfaces ----

SWITCH = st.sampled_from(sorted(context.SIGNATURE_SWITCH))


@settings(max_examples=200)
@given(word=SWITCH, upper=st.booleans(), pad=st.sampled_from(["", " ", "  "]))
def test_signature_header_switch_values(word, upper, pad):
    value = pad + (word.upper() if upper else word) + pad
    given_headers = context.read_headers(
        Headers({"x-whyops-signature": value}), agent_required=False
    )
    assert context.SIGNATURE_SWITCH[word] == given_headers.sign


@settings(max_examples=200)
@given(value=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20))
def test_any_other_signature_header_value_is_refused_or_read(value):
    headers = Headers(raw=[(b"x-whyops-signature", value.encode())])
    known = value.strip().lower() in context.SIGNATURE_SWITCH
    try:
        read = context.read_headers(headers, agent_required=False)
    except context.HeaderError as exc:
        assert not known and "X-WhyOps-Signature" in str(exc)
    else:
        assert known or not value.strip()
        assert read.sign == context.SIGNATURE_SWITCH.get(value.strip().lower(), True)


def test_the_server_setting_wins_over_the_header():
    read = context.read_headers(
        Headers({"x-whyops-signature": "on"}), agent_required=False, sign=False
    )
    assert not read.sign


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)
SPACE = st.sampled_from(["", " ", "\n", "\n\n", "\t"])


@settings(max_examples=300)
@given(value=JSON_VALUES, indent=st.sampled_from([None, 2]), before=SPACE, after=SPACE)
def test_json_text_is_never_signable(value, indent, before, after):
    assert not signature.signable(before + json.dumps(value, indent=indent) + after)


@settings(max_examples=300)
@given(
    prose=st.text(max_size=40),
    fence=st.sampled_from(["```", "````", "~~~"]),
    lang=st.sampled_from(["", "json", "python"]),
    code=st.text(st.characters(blacklist_characters="`~"), max_size=40),
    after=SPACE,
)
def test_text_ending_in_a_fenced_block_is_never_signable(prose, fence, lang, code, after):
    text = f"{prose}\n{fence}{lang}\n{code}\n{fence}{after}"
    assert not signature.signable(text)


WORDS = st.text(st.characters(whitelist_categories=("L",)), min_size=1, max_size=12)


@settings(max_examples=300)
@given(words=st.lists(WORDS, min_size=2, max_size=8), end=st.sampled_from([".", "!", "?", ""]))
def test_prose_is_signable_and_stays_unparseable(words, end):
    text = " ".join(words) + end
    assert signature.signable(text)
    with pytest.raises(ValueError):
        json.loads(text + signature.encode("thread_x"))


CHUNK = st.fixed_dictionaries(
    {"id": st.text(max_size=8), "choices": st.lists(st.just({"index": 0}), max_size=2)},
    optional={"usage": st.none(), "extra": JSON_VALUES},
)


@settings(max_examples=300)
@given(chunk=CHUNK, separators=st.sampled_from([(",", ":"), (", ", ": "), (",", " : ")]))
def test_null_usage_is_taken_out_of_any_chunk_layout(chunk, separators):
    raw = b"data: " + json.dumps(chunk, separators=separators).encode() + b"\n\n"
    out = chat_chunks.without_null_usage(chunk, raw)
    (frame,) = SSEFramer().feed(out)
    assert {k: v for k, v in chunk.items() if k != "usage"} == json.loads(frame.data or "")
    if "usage" not in chunk:
        assert raw == out


# ---- the chat stream state, frame by frame ----

BASE = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}


def relay(state: ChatStreamState, *chunks: dict) -> list:
    frames = SSEFramer().feed(b"".join(encode_frame(json.dumps(c)) for c in chunks))
    out = b"".join(state.record_frame(f) for f in frames) + state.drain()
    return [json.loads(f.data or "") for f in SSEFramer().feed(out)]


def test_a_finish_chunk_with_text_of_its_own_ends_with_the_signature():
    sign = signature.encode("t1")
    last = {**BASE, "choices": [{"index": 0, "delta": {"content": "lo."}, "finish_reason": "stop"}]}
    sent = relay(
        ChatStreamState("m", sign),
        {**BASE, "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]},
        last,
    )
    assert 2 == len(sent)
    assert "lo." + sign == sent[1]["choices"][0]["delta"]["content"]
    assert "stop" == sent[1]["choices"][0]["finish_reason"]


def test_refusals_are_never_signed():
    refusal = {"index": 0, "delta": {"refusal": "I can't help with that."}, "finish_reason": None}
    finish = {"index": 0, "delta": {}, "finish_reason": "stop"}
    chunks = [{**BASE, "choices": [refusal]}, {**BASE, "choices": [finish]}]
    assert chunks == relay(ChatStreamState("m", signature.encode("t1")), *chunks)


def test_unrequested_usage_is_recorded_and_hidden():
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    text = {"index": 0, "delta": {"content": "Hi there."}, "finish_reason": None}
    finish = {"index": 0, "delta": {}, "finish_reason": "stop"}
    state = ChatStreamState("m", signature.encode("t1"), client_usage=False)
    sent = relay(
        state,
        {**BASE, "choices": [text], "usage": None},
        {**BASE, "choices": [finish], "usage": None},
        {**BASE, "choices": [], "usage": usage},
    )
    assert [[text], "t1", [finish]] == [
        signature.decode(c["choices"][0]["delta"]["content"]) if i == 1 else c["choices"]
        for i, c in enumerate(sent)
    ]
    assert all("usage" not in c for c in sent)
    (draft,) = state.finish(1, None)
    assert 5 == draft.metadata["usage"]["totalTokens"]


# ---- Anthropic and Responses: the same rule ----


def anthropic_events(text: str, stop_reason: str) -> bytes:
    events = [
        {"type": "message_start", "message": {"id": "msg_1", "model": "c", "usage": {}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": stop_reason}, "usage": {}},
        {"type": "message_stop"},
    ]
    return b"".join(encode_frame(json.dumps(e), e["type"]) for e in events)


@pytest.mark.parametrize(
    ("text", "stop_reason", "signed"),
    [
        ("All done.", "end_turn", True),
        ('{"a": 1}', "end_turn", False),
        ("```\ncode\n```", "end_turn", False),
        ("I can't help with that.", "refusal", False),
    ],
)
def test_anthropic_stream_signs_prose_only(text, stop_reason, signed):
    stream = anthropic_events(text, stop_reason)
    state = MessagesStreamState("c", signature.encode("t9"))
    out = b"".join(state.record_frame(f) for f in SSEFramer().feed(stream)) + state.drain()
    assert signed == (out != stream)
    if signed:
        deltas = [json.loads(f.data or "") for f in SSEFramer().feed(out)]
        assert "t9" == signature.decode(deltas[3]["delta"]["text"])
        assert "content_block_stop" == deltas[4]["type"]


def responses_answer(*output: dict) -> dict:
    return {"id": "resp_1", "model": "m", "status": "completed", "output": list(output)}


def message(*parts: dict) -> dict:
    return {"type": "message", "role": "assistant", "content": list(parts)}


@pytest.mark.parametrize(
    ("answer", "signed"),
    [
        (responses_answer(message({"type": "output_text", "text": "Hi. Bye."})), True),
        (responses_answer(message({"type": "output_text", "text": "[1, 2]"})), False),
        (responses_answer(message({"type": "refusal", "refusal": "No."})), False),
        (
            responses_answer(
                message({"type": "output_text", "text": "Checking."}),
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            ),
            False,
        ),
    ],
)
def test_responses_whole_answer_signs_prose_only(answer, signed):
    sign = signature.encode("t3")
    assert signed == RESPONSES.inject_signature({"model": "m"}, answer, sign)
    if signed:
        assert "t3" == signature.decode(answer["output"][-1]["content"][-1]["text"])


def test_signatures_are_stripped_from_every_role_and_tool_result():
    signed = "answer" + signature.encode("t4")
    chat = {"messages": [{"role": "user", "content": signed}, {"role": "tool", "content": signed}]}
    claude = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": signed}]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t", "content": signed}],
            },
        ]
    }
    responses = {
        "input": [
            {"role": "user", "content": signed},
            {"type": "function_call_output", "call_id": "c", "output": signed},
        ]
    }
    for route, body in ((CHAT, chat), (MESSAGES, claude), (RESPONSES, responses)):
        assert route.strip_signatures(body)
        assert signature.START not in json.dumps(body, ensure_ascii=False)


# ---- stripping: one rule for every route, read back from assistant turns only ----

SIGNED = "quoted" + signature.encode("t5")
ROLES = st.sampled_from(["user", "assistant", "system", "developer", "tool"])
TEXTS = st.sampled_from([SIGNED, [{"type": "text", "text": SIGNED}]])


def tool_output(route: RouteSpec, text: object) -> dict:
    """An item answering a tool, in ``route``'s shape, holding ``text``."""
    if route is MESSAGES:
        block = {"type": "tool_result", "tool_use_id": "t", "content": text}
        return {"role": "user", "content": [block]}
    if route is RESPONSES:
        return {"type": "function_call_output", "call_id": "c", "output": text}
    return {"role": "tool", "tool_call_id": "c", "content": text}


@settings(max_examples=150)
@given(
    route=st.sampled_from([CHAT, MESSAGES, RESPONSES]),
    turns=st.lists(st.tuples(ROLES, TEXTS, st.booleans()), min_size=1, max_size=5),
)
def test_every_route_strips_every_role_and_reads_back_assistant_turns_only(route, turns):
    items = [
        tool_output(route, text) if as_tool else {"role": role, "content": text}
        for role, text, as_tool in turns
    ]
    body = {route.items_key: items}
    from_assistant = any(role == "assistant" and not as_tool for role, _, as_tool in turns)
    assert ("t5" if from_assistant else None) == route.find_trace_id(body)
    assert route.strip_signatures(body)
    assert signature.START not in json.dumps(body, ensure_ascii=False)
    assert route.find_trace_id(body) is None


@pytest.mark.parametrize(
    ("route", "calls", "expected"),
    [
        (CHAT, None, ""),  # OpenAI refuses an empty part list
        (CHAT, [{"id": "c1", "type": "function"}], None),  # beside tool calls: no text
        (MESSAGES, None, []),  # Anthropic refuses empty content of any kind: left as stripped
        (RESPONSES, None, []),
    ],
)
def test_text_that_held_only_a_signature(route, calls, expected):
    item = {"role": "assistant", "content": [{"type": "text", "text": signature.encode("t6")}]}
    if calls:
        item["tool_calls"] = calls
    body = {route.items_key: [{"role": "user", "content": "hi"}, item]}
    assert route.strip_signatures(body)
    assert expected == body[route.items_key][1]["content"]


def test_a_responses_input_string_is_one_user_turn_and_is_stripped():
    body = {"input": SIGNED}
    assert RESPONSES.find_trace_id(body) is None  # a user's text: never read back
    assert RESPONSES.strip_signatures(body)
    assert {"input": "quoted"} == body
