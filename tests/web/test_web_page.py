"""The web page in a real headless Chromium, against a real server with a SQLite file."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from webdata import (
    Span,
    Trace,
    big_trace,
    init_agent,
    open_page,
    post_events,
    post_trace,
    support_trace,
    trace_events,
    unique,
)

pytestmark = pytest.mark.browser
expect: Any = pytest.importorskip("playwright.sync_api").expect


def trace_row(page: Any, trace_id: str) -> Any:
    return page.locator(f'tr[data-trace-id="{trace_id}"]')


def span_rows(page: Any) -> Any:
    return page.locator(".span-row[data-span-id]")


def test_a_trace_opens_as_a_tree_with_span_details(server: Any, page: Any) -> None:
    agent = unique("support")
    trace = post_trace(server.base_url, server.api_key, support_trace(agent))
    open_page(page, server, f"/traces?agent={agent}")

    row = trace_row(page, trace.trace_id)
    expect(row).to_contain_text(agent)
    expect(row).to_contain_text("960 in · 152 out")
    expect(row).to_contain_text("cache 256 read")
    row.locator("td").nth(4).click()  # anywhere on the row, not only its link

    expect(span_rows(page)).to_have_count(7)
    expect(page.locator(".detail-pane h2")).to_have_text("support-agent")
    page.locator(".span-row.is-error").click()
    detail = page.locator(".detail-pane")
    expect(detail).to_contain_text("CarrierTimeout: tracking API did not answer within 2.0s")
    expect(detail.locator("pre.stack")).to_contain_text("Traceback (most recent call last)")
    expect(detail.locator(".raw-event summary").first).to_contain_text("tool_call_request")

    span_rows(page).filter(has_text="messages claude-sonnet-4-5").click()
    expect(detail).to_contain_text("The customer asked about A1001; the tool says shipped.")
    expect(detail.locator(".usage")).to_contain_text("200")
    expect(detail).to_contain_text("The reply is accurate and friendly.")

    span_rows(page).filter(has_text="chat.completions").first.click()
    expect(detail.locator(".tool-calls")).to_contain_text("track_shipment")
    expect(detail.locator(".messages")).to_contain_text("Where is my order A1001?")


def test_a_span_folds_and_unfolds(server: Any, page: Any) -> None:
    trace = post_trace(server.base_url, server.api_key, support_trace(unique("fold")))
    open_page(page, server, f"/trace/{trace.trace_id}")
    review = span_rows(page).filter(has_text="review")
    expect(span_rows(page)).to_have_count(7)
    review.locator("button.toggle").click()
    expect(span_rows(page)).to_have_count(6)
    expect(review).to_contain_text("+1")
    review.locator("button.toggle").click()
    expect(span_rows(page)).to_have_count(7)
    span_rows(page).first.click()
    page.keyboard.press("ArrowDown")
    expect(page.locator(".detail-pane h2")).to_have_text("chat.completions gpt-4o-mini")
    page.keyboard.press("End")  # not a tree key: nothing changes
    for _ in range(4):
        page.keyboard.press("ArrowDown")
    expect(page.locator(".detail-pane h2")).to_have_text("review")
    page.keyboard.press("ArrowLeft")
    expect(span_rows(page)).to_have_count(6)
    page.keyboard.press("ArrowRight")
    expect(span_rows(page)).to_have_count(7)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(page.locator(".detail-pane h2")).to_have_text("support-agent")
    page.get_by_role("button", name="Collapse all").click()
    expect(span_rows(page)).to_have_count(1)
    page.get_by_role("button", name="Expand all").click()
    expect(span_rows(page)).to_have_count(7)


def test_older_traces_load_on_request(server: Any, page: Any) -> None:
    agent = unique("paged")
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    events = []
    for i in range(105):
        root = Span(f"turn-{i}", "agent", 0, 5)
        events += trace_events(Trace(agent, root, start=start + timedelta(seconds=i)))
    post_events(server.base_url, server.api_key, events)
    open_page(page, server, f"/traces?agent={agent}")
    expect(page.locator("tbody tr")).to_have_count(100)
    page.get_by_role("button", name="Show older traces").click()
    expect(page.locator("tbody tr")).to_have_count(105)
    expect(page.get_by_role("button", name="Show older traces")).to_be_hidden()


def test_find_and_next_error_in_a_trace(server: Any, page: Any) -> None:
    trace = post_trace(server.base_url, server.api_key, support_trace(unique("find")))
    open_page(page, server, f"/trace/{trace.trace_id}")
    expect(span_rows(page)).to_have_count(7)
    page.fill("input[aria-label='find spans']", "CLAUDE")
    expect(span_rows(page)).to_have_count(3)  # the match and its ancestors
    expect(span_rows(page).nth(2)).to_contain_text("messages claude-sonnet-4-5")
    page.fill("input[aria-label='find spans']", "")
    expect(span_rows(page)).to_have_count(7)
    page.get_by_role("button", name="Collapse all").click()
    page.get_by_role("button", name="Next error").click()
    expect(page.locator(".detail-pane h2")).to_have_text("track_shipment")
    expect(page.locator(".detail-pane .error-box")).to_contain_text("CarrierTimeout")
    expect(page.locator(".span-row.is-selected")).to_contain_text("track_shipment")


def test_filters_narrow_the_list(server: Any, page: Any) -> None:
    agent, other = unique("filter"), unique("other")
    carol, dave = unique("carol"), unique("dave")
    failing = post_trace(server.base_url, server.api_key, support_trace(agent, user_id=carol))
    passing = support_trace(agent, user_id=dave, fail=False)
    post_trace(server.base_url, server.api_key, passing)
    elsewhere = post_trace(server.base_url, server.api_key, support_trace(other))
    open_page(page, server, "/traces")
    expect(trace_row(page, elsewhere.trace_id)).to_be_visible()

    page.select_option("select[name=agent]", agent)
    expect(trace_row(page, failing.trace_id)).to_be_visible()
    expect(trace_row(page, passing.trace_id)).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(2)

    page.check("input[name=errors]")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(trace_row(page, failing.trace_id)).to_be_visible()

    page.get_by_role("button", name="Clear").click()
    page.fill("input[name=user]", dave)
    page.press("input[name=user]", "Enter")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(trace_row(page, passing.trace_id)).to_be_visible()

    page.fill("input[name=from]", "2099-01-01T00:00")
    page.press("input[name=from]", "Enter")
    expect(page.locator("tbody tr")).to_have_count(0)


def test_the_filter_form_keeps_typing_and_follows_links_and_back(server: Any, page: Any) -> None:
    agent, erin = unique("form"), unique("erin")
    failing = post_trace(server.base_url, server.api_key, support_trace(agent, user_id=erin))
    open_page(page, server, "/traces")
    page.check("input[name=errors]")
    # typed while the list for "Has errors" loads: the form stays, so neither change is lost
    page.fill("input[name=user]", erin)
    page.press("input[name=user]", "Enter")
    expect(page).to_have_url(re.compile(f"user={erin}&errors=1$"))
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(trace_row(page, failing.trace_id)).to_be_visible()

    trace_row(page, failing.trace_id).get_by_role("link", name=agent).click()
    expect(page.locator("select[name=agent]")).to_have_value(agent)
    expect(page.locator("input[name=user]")).to_have_value("")
    expect(page.locator("input[name=errors]")).not_to_be_checked()
    page.go_back()
    expect(page.locator("input[name=user]")).to_have_value(erin)
    expect(page.locator("input[name=errors]")).to_be_checked()
    expect(page.locator("select[name=agent]")).to_have_value("")
    expect(page.locator("tbody tr")).to_have_count(1)


def test_injected_html_is_shown_as_text_and_never_runs(server: Any, page: Any) -> None:
    agent = f"<script>window.__pwned='agent'</script><b>{unique('x')}</b>"
    question = "<img src=x onerror=\"window.__pwned='message'\"> where is A1001?"
    output = "<script>window.__pwned='tool'</script><iframe src=javascript:alert(1)>"
    prompt = "<script>window.__pwned='prompt'</script>You are Sam."
    init_agent(server.base_url, server.api_key, agent, {"systemPrompt": prompt, "tools": []})
    trace = support_trace(agent, question=question, tool_output=output, fail=False)
    post_trace(server.base_url, server.api_key, trace)

    def assert_inert() -> None:
        assert page.evaluate("window.__pwned") is None
        injected = "main script, main img, main iframe, main b"
        assert page.evaluate(f"document.querySelectorAll('{injected}').length") == 0

    open_page(page, server, "/traces")
    expect(trace_row(page, trace.trace_id)).to_contain_text(agent)
    assert_inert()
    trace_row(page, trace.trace_id).get_by_role("link").first.click()
    expect(page.locator(".chips")).to_contain_text(agent)
    span_rows(page).filter(has_text="chat.completions").first.click()
    expect(page.locator(".detail-pane .messages")).to_contain_text(question)
    span_rows(page).filter(has_text="track_shipment").click()
    expect(page.locator(".detail-pane")).to_contain_text(output)
    assert_inert()
    page.goto(f"{server.base_url}/#/agents")
    page.get_by_role("link", name=agent).click()
    expect(page.locator(".version pre.prompt")).to_have_text(prompt)
    assert_inert()


def test_new_traces_appear_while_the_page_is_open(server: Any, page: Any) -> None:
    agent = unique("live")
    first = post_trace(server.base_url, server.api_key, support_trace(agent))
    open_page(page, server, f"/traces?agent={agent}")
    expect(trace_row(page, first.trace_id)).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    second = post_trace(server.base_url, server.api_key, support_trace(agent, fail=False))
    expect(trace_row(page, second.trace_id)).to_be_visible(timeout=10_000)
    assert page.evaluate("window.__sameDocument") is True
    expect(page.locator("tbody tr").first).to_have_attribute("data-trace-id", second.trace_id)


def test_a_trace_with_thousands_of_events_stays_responsive(server: Any, page: Any) -> None:
    trace = big_trace(unique("loop"), iterations=50, steps=50)  # 2601 spans, 5202 events
    post_trace(server.base_url, server.api_key, trace)
    started = time.perf_counter()
    open_page(page, server, f"/trace/{trace.trace_id}")
    expect(page.locator(".tree-toolbar")).to_contain_text("2601 spans", timeout=30_000)
    shown = time.perf_counter() - started
    # Only the rows in view (plus a margin) exist in the DOM.
    assert span_rows(page).count() < 150
    page.evaluate("document.querySelector('.tree-scroll').scrollTop = 1e9")
    last = span_rows(page).filter(has_text="step_49_49")
    last.click()
    expect(page.locator(".detail-pane h2")).to_have_text("step_49_49")
    print(f"\n2601-span trace: tree shown {shown:.2f}s after navigation")


def test_a_running_span_is_drawn_open_ended(server: Any, page: Any) -> None:
    root = Span("still-running", "agent", 0, 500)
    root.children = [Span("slow_tool", "tool", 100, 400, inputs={"q": 1})]
    trace = Trace(unique("running"), root)
    events = trace_events(trace)
    unfinished = [
        e
        for e in events
        if e["spanId"] != root.children[0].span_id or e["eventType"] == "tool_call_request"
    ]
    post_events(server.base_url, server.api_key, unfinished)
    open_page(page, server, f"/trace/{trace.trace_id}")
    row = span_rows(page).filter(has_text="slow_tool")
    expect(row.locator(".bar")).to_have_class(re.compile(r"\bbar-open\b"))
    row.click()
    expect(page.locator(".detail-badges")).to_contain_text("unfinished")


def test_plain_whyops_events_show_as_a_flat_tree(server: Any, page: Any) -> None:
    """Events as the WhyOps 0.1.1 SDK sends them: no span kinds, names or parents."""
    trace_id, agent = unique("whyops011"), unique("legacy")
    common = {"traceId": trace_id, "agentName": agent}
    lookup = {"toolCalls": [{"name": "lookup", "arguments": {"id": 1}}]}
    events = [
        {"eventType": "user_message", "content": {"messages": [{"role": "user", "content": "hi"}]}},
        {
            "eventType": "tool_call_request",
            "spanId": "s1",
            "content": lookup,
            "metadata": {"tool": "lookup"},
        },
        {
            "eventType": "tool_call_response",
            "spanId": "s1",
            "content": {**lookup, "toolResults": {"status": "shipped"}},
            "metadata": {"tool": "lookup", "latencyMs": 40},
        },
        {
            "eventType": "llm_response",
            "content": {"content": "It shipped."},
            "metadata": {"model": "gpt-4o", "provider": "openai", "latencyMs": 300},
        },
        {"eventType": "error", "content": {"message": "boom", "stack": "Error: boom"}},
    ]
    post_events(server.base_url, server.api_key, [{**common, **e} for e in events])
    open_page(page, server, f"/trace/{trace_id}")
    expect(span_rows(page)).to_have_count(4)
    span_rows(page).filter(has_text="lookup").click()
    expect(page.locator(".detail-pane")).to_contain_text('"status": "shipped"')
    span_rows(page).filter(has_text="error").click()
    expect(page.locator(".detail-pane .error-box")).to_have_text("boom")


def test_the_list_says_when_the_server_is_unreachable(server: Any, page: Any) -> None:
    open_page(page, server, f"/traces?agent={unique('offline')}")
    live = page.locator(".live")
    expect(live).to_have_text("live")
    page.route("**/api/threads*", lambda route: route.abort())
    expect(live).to_have_text("reconnecting…")
    page.unroute("**/api/threads*")
    expect(live).to_have_text("live")


def test_thread_view_lists_the_turns_in_order(server: Any, page: Any) -> None:
    agent, thread = unique("threaded"), unique("thread")
    start = datetime.now(timezone.utc) - timedelta(minutes=5)
    for offset, question in ((0, "first question"), (60, "second question")):
        turn = support_trace(
            agent, question=question, thread_id=thread, start=start + timedelta(seconds=offset)
        )
        post_trace(server.base_url, server.api_key, turn)
    open_page(page, server, f"/thread/{thread}")
    turns = page.locator("li.turn")
    expect(turns).to_have_count(2)
    expect(turns.nth(0)).to_contain_text("first question")
    expect(turns.nth(1)).to_contain_text("second question")


def test_agent_versions_show_what_changed(server: Any, page: Any) -> None:
    name = unique("versioned")
    lookup = {
        "name": "get_order_status",
        "description": "Look up an order.",
        "inputSchema": "{}",
        "outputSchema": "{}",
    }
    refund = {
        "name": "issue_refund",
        "description": "Refund an order.",
        "inputSchema": "{}",
        "outputSchema": "{}",
    }
    first = {"systemPrompt": "You are Sam.\nBe brief.", "tools": [lookup]}
    changed = {**lookup, "description": "Look up an order by id."}
    second = {"systemPrompt": "You are Sam.\nBe brief and kind.", "tools": [changed, refund]}
    init_agent(server.base_url, server.api_key, name, first)
    init_agent(server.base_url, server.api_key, name, second)
    post_trace(server.base_url, server.api_key, support_trace(name))

    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    open_page(page, server, "/agents")
    row = page.locator("tr", has=page.get_by_role("link", name=name, exact=True))
    expect(row).to_contain_text("100% (1)")
    expect(row.locator("td").nth(1)).to_have_text("2")  # versions
    # one request for the whole list: the counts come with the agents
    assert [url.split("/api/")[1] for url in asked if "/api/" in url] == ["entities?count=100"]
    row.get_by_role("link", name=name, exact=True).click()
    expect(page.locator(".version")).to_have_count(2)
    changes = page.locator(".changes").first
    expect(changes).to_contain_text("Tool added: issue_refund")
    expect(changes).to_contain_text("Tool changed: get_order_status (description)")
    expect(changes.locator("pre.diff .diff-del")).to_have_text("- Be brief.")
    expect(changes.locator("pre.diff .diff-add")).to_contain_text("+ Be brief and kind.")


def test_the_page_asks_for_a_key_and_keeps_it(server: Any, page: Any) -> None:
    page.goto(f"{server.base_url}/#/traces")
    page.fill("input[name=key]", "whyops_not-a-key")
    page.click("button[type=submit]")
    expect(page.locator(".key-prompt")).to_contain_text("That key was not accepted.")
    page.fill("input[name=key]", server.api_key)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Traces")
    page.reload()
    expect(page.locator("h1")).to_have_text("Traces")


def test_a_trace_cut_at_the_servers_cap_says_so(page: Any, tmp_path: Any) -> None:
    from whyops.server.run import start_in_thread
    from whyops.server.settings import ServerSettings

    settings = ServerSettings(port=0, db_path=str(tmp_path / "cap.db"), max_trace_events=5)
    with start_in_thread(settings) as small:
        trace = support_trace(unique("capped"))
        events = trace_events(trace)
        assert len(events) > 5
        post_events(small.base_url, str(small.api_key), events)
        open_page(page, small, f"/trace/{trace.trace_id}")
        expect(page.locator(".trace-body")).to_contain_text(
            f"only the first 5 of {len(events)} events"
        )
