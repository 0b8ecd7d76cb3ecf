"""Ambient context: nesting, concurrency without cross-talk, threads and thread pools."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import pytest
from core_helpers import Sink, acall, call, make, run_python

import whyops
from whyops import _internal_errors
from whyops._span import Span
from whyops._threads import thread_pools_patched
from whyops._tracer import TRACER
from whyops.wire.records import ExceptionInfo, SpanKind, Status, ThinkingBlock, TokenUsage


def _tree(memory: Any) -> dict[str, list[str]]:
    """Child names per parent name, in start order."""
    spans = sorted(memory.spans(), key=lambda s: s.start_time_ns)
    by_id = {s.span_id: s for s in spans}
    tree: dict[str, list[str]] = {}
    for s in spans:
        parent = by_id[s.parent_span_id].name if s.parent_span_id else "<root>"
        tree.setdefault(parent, []).append(s.name)
    return tree


def test_spans_nest_under_the_current_span_across_await(memory: Any, flavor: str) -> None:
    leaf_fn = whyops.tool(name="leaf")(make(flavor, lambda x: x))

    @whyops.tool(name="middle")
    async def middle(x: int) -> int:
        await asyncio.sleep(0)
        return await acall(leaf_fn, x) + await acall(leaf_fn, x)

    @whyops.agent(name="root")
    async def root() -> int:
        assert whyops.current_span() is not None
        return await middle(1)

    assert call(root) == 2
    assert _tree(memory) == {"<root>": ["root"], "root": ["middle"], "middle": ["leaf", "leaf"]}
    trace_ids = {s.trace_id for s in memory.spans()}
    assert len(trace_ids) == 1 and len(trace_ids.pop()) == 32
    assert whyops.current_span() is None and whyops.current_trace_id() is None


def test_agent_starts_a_trace_and_names_it(memory: Any) -> None:
    seen = {}

    @whyops.agent(name="planner")
    def planner() -> None:
        seen["trace"] = whyops.current_trace()
        seen["id"] = whyops.current_trace_id()

    planner()
    planner()
    first, second = memory.spans()
    assert first.trace_id != second.trace_id
    assert seen["trace"].agent_name == "planner" and seen["id"] == second.trace_id
    assert first.agent_name == "planner" and first.parent_span_id is None


def test_many_concurrent_agent_runs_have_no_cross_talk(memory: Any) -> None:
    @whyops.tool
    async def step(run: int, i: int) -> int:
        await asyncio.sleep(0.001 * ((run * 7 + i) % 3))
        return run

    @whyops.agent
    async def run_agent(run: int) -> list[int]:
        return [await step(run, i) for i in range(3)]

    async def main() -> list[list[int]]:
        return await asyncio.gather(*(run_agent(r) for r in range(50)))

    assert asyncio.run(main()) == [[r] * 3 for r in range(50)]
    spans = memory.spans()
    assert len(spans) == 200
    roots = {s.span_id: s for s in spans if s.kind is SpanKind.AGENT}
    assert len({s.trace_id for s in roots.values()}) == 50
    for s in spans:
        if s.kind is SpanKind.TOOL:
            root = roots[s.parent_span_id]
            assert root.trace_id == s.trace_id and root.inputs["run"] == s.inputs["run"]


def test_trace_context_sets_ids_for_a_block(memory: Any, flavor: str) -> None:
    bot_fn = whyops.agent(name="bot")(make(flavor, whyops.current_trace))
    with whyops.trace_context(trace_id="conv-1", thread_id="t-9", external_user_id="u-1"):
        trace = call(bot_fn)
        assert whyops.current_trace_id() == "conv-1"
    assert trace == whyops.TraceContext("conv-1", "t-9", "u-1", "bot")
    (span,) = memory.spans()
    assert (span.trace_id, span.thread_id, span.external_user_id) == ("conv-1", "t-9", "u-1")
    assert whyops.current_trace() is None


def test_a_new_trace_id_inside_a_span_starts_a_new_tree(memory: Any) -> None:
    with whyops.span("outer"), whyops.trace_context(trace_id="other"), whyops.span("inner"):
        pass
    inner, _ = memory.spans()
    assert inner.trace_id == "other" and inner.parent_span_id is None
    with whyops.span("outer2") as o, whyops.trace_context(thread_id="th"), whyops.span("in2") as i:
        assert i.parent_span_id == o.span_id and i.trace_id == o.trace_id


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("trace_id", "x" * 129),
        ("trace_id", "a b"),
        ("trace_id", ""),
        ("thread_id", "tab\there"),
        ("trace_id", 7),
        ("external_user_id", "line\nbreak"),
        ("agent_name", "x" * 256),
    ],
)
def test_trace_context_rejects_bad_ids_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"trace_context: {field} must be"):
        with whyops.trace_context(**{field: value}):
            pass


def test_trace_context_accepts_printable_ids_and_names_with_spaces() -> None:
    with whyops.trace_context(trace_id="x" * 128, agent_name="Support Bot") as ctx:
        assert ctx.trace_id == "x" * 128 and ctx.agent_name == "Support Bot"


def test_thread_pool_work_keeps_the_trace(memory: Any) -> None:
    @whyops.tool
    def work(i: int) -> str:
        return threading.current_thread().name

    @whyops.agent
    def fan_out() -> list[str]:
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(work, i) for i in range(4)]
            mapped = list(pool.map(work, range(4, 8)))
        return [f.result() for f in futures] + mapped

    assert thread_pools_patched()
    fan_out()
    spans = memory.spans()
    root = next(s for s in spans if s.kind is SpanKind.AGENT)
    tools = [s for s in spans if s.kind is SpanKind.TOOL]
    assert len(tools) == 8
    assert all(s.parent_span_id == root.span_id and s.trace_id == root.trace_id for s in tools)


def test_thread_pool_propagation_can_be_turned_off() -> None:
    from whyops.export.memory import InMemoryExporter

    tracer = TRACER
    exporter = InMemoryExporter()
    saved = tracer.config
    tracer.configure(exporter=exporter, propagate_to_threads=False)
    try:
        assert not thread_pools_patched()
        with whyops.span("outer"), ThreadPoolExecutor(1) as pool:
            assert pool.submit(whyops.current_span).result() is None
    finally:
        tracer.shutdown(1)
        tracer.config = saved
    assert not thread_pools_patched()


def test_plain_threads_use_propagate(memory: Any) -> None:
    seen: list[Any] = []

    @whyops.tool
    def in_thread() -> None:
        seen.append(whyops.current_trace_id())

    with whyops.span("parent") as parent:
        threads = [threading.Thread(target=whyops.propagate(in_thread)) for _ in range(3)]
        threads.append(threading.Thread(target=in_thread))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    propagated = [s for s in memory.spans() if s.parent_span_id == parent.span_id]
    assert len(propagated) == 3
    assert seen.count(parent.trace_id) == 3 and len(seen) == 4


def test_thinking_helper_records_on_the_current_span(memory: Any) -> None:
    whyops.thinking("outside a span: ignored")
    with whyops.span("think"):
        whyops.thinking("step 1", signature="sig")
        whyops.thinking(redacted_data="blob")
    (span,) = memory.spans()
    assert [(b.text, b.signature, b.redacted) for b in span.thinking] == [
        ("step 1", "sig", False),
        (None, None, True),
    ]


def test_a_remote_parent_makes_root_spans_its_children(memory: Any) -> None:
    with whyops.trace_context(trace_id="remote-trace", parent_span_id="00000000000000ab"):
        with whyops.span("handler") as handler, whyops.span("child") as child:
            pass
    assert handler.parent_span_id == "00000000000000ab"
    assert child.parent_span_id == handler.span_id
    with pytest.raises(ValueError, match="parent_span_id must be 16"):
        with whyops.trace_context(parent_span_id="xyz"):
            pass
    with whyops.trace_context(trace_id="a", parent_span_id="00000000000000ab"):
        with whyops.trace_context(trace_id="b"), whyops.span("other") as other:
            pass
    assert other.parent_span_id is None


def test_a_root_span_in_an_unnamed_trace_takes_the_configured_agent_name(memory: Any) -> None:
    tracer = TRACER
    saved = tracer.config
    tracer.config = attrs.evolve(saved, agent_name="configured-agent")
    try:
        with whyops.trace_context(trace_id="bare"), whyops.span("turn"), whyops.span("inner"):
            pass
        with whyops.trace_context(trace_id="named"):
            whyops.agent(name="bot")(lambda: None)()
    finally:
        tracer.config = saved
    spans = {s.name: s for s in memory.spans()}
    assert spans["turn"].agent_name == spans["inner"].agent_name == "configured-agent"
    assert spans["bot"].agent_name == "bot"


def test_the_first_agent_below_an_unnamed_root_names_the_trace(memory: Any) -> None:
    """A request span leaves its trace unnamed; the agent the handler calls names it."""
    lookup = whyops.tool(name="lookup")(lambda: None)
    support = whyops.agent(name="support")(lambda: lookup())
    with whyops.trace_context(trace_id="req"), whyops.span("GET /chat") as request:
        whyops.tool(name="auth")(lambda: None)()
        assert request._trace.agent_name is None
        support()
        assert request._trace.agent_name == "support"
        whyops.agent(name="other")(lambda: None)()
        whyops.tool(name="after")(lambda: None)()
    assert whyops.current_trace() is None
    names = {s.name: s.agent_name for s in memory.spans()}
    # "auth" ended before any agent ran: it keeps the unnamed trace ("default" on the wire).
    assert names == {
        "auth": None,
        "lookup": "support",
        "support": "support",
        "other": "support",
        "after": "support",
        "GET /chat": "support",
    }


def test_an_agent_in_a_new_trace_context_does_not_name_the_outer_trace(memory: Any) -> None:
    with whyops.span("outer") as outer:
        with whyops.trace_context(trace_id="elsewhere"):
            whyops.agent(name="bot")(lambda: None)()
    assert outer._trace.agent_name is None
    assert {s.name: s.agent_name for s in memory.spans()} == {"bot": "bot", "outer": None}


def test_a_span_entered_again_keeps_its_id_and_its_children(
    memory: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A span starts once: entering it again neither re-draws its id nor ends it early."""
    monkeypatch.setattr(_internal_errors, "_seen", set())
    child = whyops.tool(name="child")(lambda: whyops.current_span())
    with caplog.at_level(logging.WARNING, logger="whyops"):
        with whyops.span("outer") as outer:
            child()
            first_id = outer.span_id
            with outer as again, whyops.current_span():  # type: ignore[union-attr]
                assert again is outer and outer.span_id == first_id
                child()
            assert whyops.current_span() is outer  # the inner blocks did not end it
            child()
        with outer:  # ended: stays ended, is not sent again
            assert whyops.current_span() is None
    records = memory.spans()
    (sent,) = [r for r in records if r.name == "outer"]
    assert sent.span_id == first_id
    assert [r.parent_span_id for r in records if r.name == "child"] == [first_id] * 3
    warnings = [r.getMessage() for r in caplog.records if "started again" in r.getMessage()]
    assert warnings == ["whyops: span 'outer' was started again; a span starts once (ignored)"]


def test_span_shows_only_what_the_docs_describe() -> None:
    """The public surface of ``Span`` is the one docs/core.md documents; the rest is private."""
    with whyops.span("s") as span:
        public = {name for name in dir(span) if not name.startswith("_")}
    assert public == {
        "approx_bytes",
        "kind",
        "name",
        "parent_span_id",
        "record_thinking",
        "record_usage",
        "set_attribute",
        "set_model",
        "set_output",
        "set_status",
        "span_id",
        "trace_id",
        "update_name",
    }
    assert isinstance(span, Span)


def test_a_span_freezes_every_field_into_its_own_record_field(memory: Any) -> None:
    """Every value the span holds lands in its own SpanRecord field."""
    with whyops.trace_context(
        trace_id="tr", thread_id="th", external_user_id="user", agent_name="agent"
    ):
        with whyops.span("outer"), whyops.span("inner", kind="llm", inputs={"q": 1}) as span:
            span.set_output("out")
            span.record_thinking("hmm")
            span.record_usage(TokenUsage(1, 2, 3))
            span.set_model("model-x", "provider-y")
            span.set_attribute("k", "v")
            span.set_status("error", "bad", error_type="Oops")
    inner, outer = memory.spans()
    assert attrs.asdict(inner, recurse=False) == {
        "trace_id": "tr",
        "span_id": span.span_id,
        "parent_span_id": outer.span_id,
        "name": "inner",
        "kind": SpanKind.LLM,
        "start_time_ns": span._start_ns,
        "end_time_ns": span._end_ns,
        "duration_ns": span._duration_ns,
        "status": Status.ERROR,
        "agent_name": "agent",
        "thread_id": "th",
        "external_user_id": "user",
        "inputs": {"q": 1},
        "output": "out",
        "has_output": True,
        "exception": ExceptionInfo("Oops", "bad", ""),
        "thinking": (ThinkingBlock("hmm"),),
        "usage": TokenUsage(1, 2, 3),
        "model": "model-x",
        "provider": "provider-y",
        "attributes": {"k": "v"},
    }
    assert inner.end_time_ns - inner.start_time_ns == inner.duration_ns > 0


def test_the_record_builder_refuses_a_table_that_misses_a_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The table the record is built from names every SpanRecord field, or import fails."""
    from whyops import _span

    fields = dict(_span._RECORD_FIELDS)
    del fields["provider"]
    monkeypatch.setattr(_span, "_RECORD_FIELDS", fields)
    with pytest.raises(RuntimeError, match="does not match SpanRecord's fields"):
        _span._make_record_builder()


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_span_open_across_fork_is_ended_and_sent_by_the_parent_only(sink: Sink) -> None:
    code = (
        "import os, whyops\n"
        f"whyops.configure(api_key='k', analyse_url={sink.url!r}, flush_interval=60)\n"
        "with whyops.span('open-across-fork'):\n"
        "    with whyops.span('also-open'):\n"
        "        pid = os.fork()\n"
        "        if pid == 0:\n"
        "            with whyops.span('child-own'):\n"
        "                pass\n"
        "    if pid == 0:\n"
        "        report = whyops.flush(5)\n"
        "        print('child', report.delivered, flush=True)\n"
        "        os._exit(0)\n"
        "    os.waitpid(pid, 0)\n"
        "print('parent', whyops.flush(5).delivered, flush=True)\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "child 1" in result.stdout and "parent 2" in result.stdout
    spans = Counter((e["spanName"], e["spanId"]) for e in sink.events)
    assert sorted(name for name, _ in spans) == ["also-open", "child-own", "open-across-fork"]
    assert set(spans.values()) == {2}  # request and response: each span sent once
