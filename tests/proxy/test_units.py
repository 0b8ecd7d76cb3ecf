"""Pure parts of the proxy: signature codec, SSE framing, usage mapping, turns, events."""

from __future__ import annotations

import json
import time

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from whyops.server.proxy import signature
from whyops.server.proxy.anthropic import MESSAGES, MessagesStreamState
from whyops.server.proxy.events import CallInfo, Draft, build_events
from whyops.server.proxy.messages import new_turn, strip_content
from whyops.server.proxy.openai_chat import CHAT, ChatStreamState
from whyops.server.proxy.sse import SSEFramer, encode_frame
from whyops.server.proxy.tap import StreamTap


class TestSignature:
    def test_encoding_matches_whyops_bit_for_bit(self):
        """'A' is 0x41 = 01000001: ZWJ ZWNJ ZWJ ZWJ ZWJ ZWJ ZWJ ZWNJ between the markers."""
        assert "\u200b\u200d\u200c\u200d\u200d\u200d\u200d\u200d\u200c\u200e" == signature.encode(
            "A"
        )

    def test_thread_id_length(self):
        """A 23-char thread id gives 184 bit characters plus the two markers."""
        assert 186 == len(signature.encode("thread_ABCDEFGHIJKLMNOP"))

    @given(st.text(alphabet=st.characters(max_codepoint=255), min_size=1, max_size=128))
    def test_round_trip(self, trace_id):
        text = "Hello" + signature.encode(trace_id) + " world"
        assert trace_id == signature.decode(text)
        assert "Hello world" == signature.strip(text)

    def test_decode_takes_the_first_block_and_strip_removes_all(self):
        text = "a" + signature.encode("one") + "b" + signature.encode("two")
        assert "one" == signature.decode(text)
        assert "ab" == signature.strip(text)

    def test_no_signature(self):
        assert signature.decode("plain \u200b text") is None
        assert signature.decode("\u200b\u200c\u200c\u200e") is None  # not a multiple of 8 bits

    def test_only_latin1_ids_are_encodable(self):
        assert signature.encodable("thread_abc")
        assert not signature.encodable("trace-\u4e2d")


class TestFraming:
    def test_frames_split_across_chunks(self):
        framer = SSEFramer()
        assert [] == framer.feed(b"event: ping\nda")
        frames = framer.feed(b'ta: {"a":1}\n\ndata: [DONE]\n\n')
        assert [("ping", '{"a":1}'), (None, "[DONE]")] == [(f.event, f.data) for f in frames]
        assert b'event: ping\ndata: {"a":1}\n\n' == frames[0].raw

    def test_crlf_and_comments(self):
        frames = SSEFramer().feed(b": keepalive\r\n\r\ndata: x\r\ndata: y\r\n\r\n")
        assert [None, "x\ny"] == [f.data for f in frames]

    def test_pending_tail(self):
        framer = SSEFramer()
        framer.feed(b"data: 1\n\ndata: 2")
        assert b"data: 2" == framer.pending()


class TestUsage:
    def test_openai_counts_cached_inside_prompt(self):
        usage = {
            "prompt_tokens": 12,
            "completion_tokens": 5,
            "total_tokens": 17,
            "prompt_tokens_details": {"cached_tokens": 8},
            "completion_tokens_details": {"reasoning_tokens": 2},
        }
        assert {
            "promptTokens": 12,
            "completionTokens": 5,
            "totalTokens": 17,
            "cacheReadTokens": 8,
            "reasoningTokens": 2,
        } == CHAT.usage_wire(usage)

    def test_openai_responses_and_zero_cache_omitted(self):
        usage = {
            "input_tokens": 20,
            "output_tokens": 30,
            "total_tokens": 50,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        }
        assert {"promptTokens": 20, "completionTokens": 30, "totalTokens": 50} == CHAT.usage_wire(
            usage
        )

    def test_anthropic_total_adds_cache(self):
        usage = {
            "input_tokens": 10,
            "output_tokens": 7,
            "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 200,
            "cache_creation": {"ephemeral_5m_input_tokens": 60, "ephemeral_1h_input_tokens": 40},
        }
        assert {
            "promptTokens": 10,
            "completionTokens": 7,
            "totalTokens": 317,
            "cacheCreationTokens": 100,
            "cacheReadTokens": 200,
            "cacheWrite5mTokens": 60,
            "cacheWrite1hTokens": 40,
        } == MESSAGES.usage_wire(usage)

    def test_garbage(self):
        assert CHAT.usage_wire("nope") is None
        assert MESSAGES.usage_wire({"input_tokens": "x"}) is None  # no count at all: no usage


class TestTurns:
    def is_assistant(self, message):
        return message["role"] == "assistant"

    def test_first_call_keeps_everything(self):
        messages = [{"role": "system"}, {"role": "user"}]
        assert messages == new_turn(messages, self.is_assistant)

    def test_only_what_follows_the_last_answer(self):
        messages = [
            {"role": "user", "n": 1},
            {"role": "assistant"},
            {"role": "tool"},
            {"role": "user", "n": 2},
        ]
        assert messages[2:] == new_turn(messages, self.is_assistant)

    def test_prefill_belongs_to_the_new_turn(self):
        messages = [
            {"role": "user"},
            {"role": "assistant", "n": 1},
            {"role": "user"},
            {"role": "assistant", "n": 2},
        ]
        assert messages[2:] == new_turn(messages, self.is_assistant)

    def test_strip_drops_parts_that_only_held_a_signature(self):
        parts = [{"type": "text", "text": "hi"}, {"type": "text", "text": signature.encode("t")}]
        assert ([{"type": "text", "text": "hi"}], True) == strip_content(parts)
        assert (parts[:1], False) == strip_content(parts[:1])


class TestEvents:
    def test_common_fields(self):
        call = CallInfo(
            trace_id="t1",
            agent_name="a",
            span_id="s1",
            span_name="x.y",
            span_kind="llm",
            thread_id="th",
            parent_span_id="p1",
            external_user_id="u1",
        )
        events = build_events(call, [Draft("user_message", {"messages": []})], 0.5, 3)
        assert [
            {
                "eventType": "user_message",
                "traceId": "t1",
                "agentName": "a",
                "spanId": "s1",
                "timestamp": "1970-01-01T00:00:00.500000Z",
                "idempotencyKey": "s1:3",
                "content": {"messages": []},
                "metadata": {},
                "spanKind": "llm",
                "spanName": "x.y",
                "parentSpanId": "p1",
                "threadId": "th",
                "externalUserId": "u1",
            }
        ] == events


def _chat_frames(*chunks: dict) -> list[bytes]:
    return [encode_frame(json.dumps(c)) for c in chunks] + [b"data: [DONE]\n\n"]


class TestChatStream:
    def test_tool_call_answer_is_relayed_unsigned_and_rebuilt(self):
        state = ChatStreamState("m", signature.encode("t1"))
        base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
        frames = _chat_frames(
            {**base, "choices": [{"index": 0, "delta": {"content": "Hel"}}]},
            {
                **base,
                "choices": [
                    {
                        "index": 0,
                        "delta": {
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": "call_1",
                                    "function": {"name": "f", "arguments": '{"a"'},
                                }
                            ]
                        },
                    }
                ],
            },
            {
                **base,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]},
                        "finish_reason": "tool_calls",
                    }
                ],
            },
        )
        out = b"".join(state.record_frame(f) for f in SSEFramer().feed(b"".join(frames)))
        assert b"".join(frames) == out  # tool call ids carry the trace: no signature
        (draft,) = state.finish(5, None)
        assert {
            "content": "Hel",
            "finishReason": "tool_calls",
            "toolCalls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "f", "arguments": '{"a": 1}'},
                }
            ],
        } == draft.content

    def test_no_signature_for_structured_output(self):
        body = {"model": "m", "response_format": {"type": "json_schema", "json_schema": {}}}
        answer = {"choices": [{"message": {"content": "{}"}}]}
        assert not CHAT.inject_signature(body, answer, signature.encode("t"))
        assert CHAT.stream_state(body, signature.encode("t")).signature is None


class TestAnthropicStream:
    def events(self, *payloads: dict) -> bytes:
        return b"".join(encode_frame(json.dumps(p), p["type"]) for p in payloads)

    def test_signature_lands_in_the_last_text_block_before_tool_use(self):
        stream = self.events(
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "model": "c",
                    "usage": {"input_tokens": 3, "output_tokens": 1, "cache_read_input_tokens": 4},
                },
            },
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Hi"},
            },
            {"type": "content_block_stop", "index": 0},
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": "tu1", "name": "f", "input": {}},
            },
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"x": 2}'},
            },
            {"type": "content_block_stop", "index": 1},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": 9},
            },
            {"type": "message_stop"},
        )
        state = MessagesStreamState("c", signature.encode("t9"))
        out = b"".join(state.record_frame(f) for f in SSEFramer().feed(stream))
        sent = [json.loads(f.data) for f in SSEFramer().feed(out)]
        types = [e["type"] for e in sent]
        assert types[3:5] == ["content_block_delta", "content_block_stop"]
        assert "t9" == signature.decode(sent[3]["delta"]["text"])
        assert 10 == len(sent)
        (draft,) = state.finish(1, None)
        assert {
            "content": "Hi",
            "finishReason": "tool_use",
            "toolCalls": [
                {
                    "id": "tu1",
                    "type": "function",
                    "function": {"name": "f", "arguments": '{"x": 2}'},
                }
            ],
        } == draft.content
        assert {
            "promptTokens": 3,
            "completionTokens": 9,
            "totalTokens": 16,
            "cacheReadTokens": 4,
        } == draft.metadata["usage"]

    def test_signature_read_back_and_stripped_from_blocks(self):
        body = {
            "messages": [
                {"role": "user", "content": "q"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "a" + signature.encode("tr")},
                        {"type": "text", "text": signature.encode("tr")},
                    ],
                },
                {"role": "user", "content": "q2"},
            ]
        }
        route = MESSAGES
        assert "tr" == route.find_trace_id(body)
        assert route.strip_signatures(body)
        assert [{"type": "text", "text": "a"}] == body["messages"][1]["content"]


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([{"role": "user", "content": "x"}], "user_message"),
        ([{"role": "tool", "content": "x"}, {"role": "system", "content": "s"}], "tool_result"),
    ],
)
def test_chat_request_type(messages, expected):
    assert expected == CHAT.request_draft({"messages": messages}).event_type


class Exploding:
    """A stream state with a bug."""

    rewrites = True

    def record_frame(self, frame):
        raise RuntimeError("bug")

    def drain(self):
        raise RuntimeError("bug")

    def finish(self, latency_ms, aborted):
        raise RuntimeError("bug")


async def test_a_failing_stream_state_never_breaks_the_clients_stream():
    body = b"data: 1\n\ndata: 2\n\ndata: [DONE]\n\n"
    upstream = httpx2.Response(200, stream=httpx2.ByteStream(body))
    recorded: list = []
    tap = StreamTap(upstream, Exploding(), time.perf_counter(), recorded.append)
    assert body == b"".join([chunk async for chunk in tap.relay()])
    assert [[]] == recorded
    assert upstream.is_closed


class HoldsThenBreaks:
    """A stream state that holds a frame back (as Anthropic's holds ``content_block_stop``),
    then has a bug on the next frame."""

    rewrites = True

    def __init__(self):
        self.held = b""

    def record_frame(self, frame):
        if self.held:
            raise RuntimeError("bug")
        self.held = frame.raw
        return b""

    def drain(self):
        held, self.held = self.held, b""
        return held

    def finish(self, latency_ms, aborted):
        return []


async def test_a_stream_state_that_breaks_still_relays_the_frame_it_held():
    """Before: the held frame was dropped once the state failed, and the client's stream
    missed it (an Anthropic text block without its ``content_block_stop``)."""
    body = b"data: 1\n\ndata: 2\n\ndata: 3\n\n"
    upstream = httpx2.Response(200, stream=httpx2.ByteStream(body))
    tap = StreamTap(upstream, HoldsThenBreaks(), time.perf_counter(), lambda drafts: None)
    assert body == b"".join([chunk async for chunk in tap.relay()])
