"""The dashboard in a real headless Chromium, against the real /api/stats routes of a server."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from dashdata import (
    TOKEN_KINDS,
    WATCH_SCRIPT,
    Window,
    agent_turn,
    buckets_of,
    get_stats,
    post_turns,
)
from webdata import Span, Trace, open_page, unique

pytestmark = pytest.mark.browser
expect: Any = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def dash(page: Any) -> Iterator[Any]:
    """The page, failing the test on any console error or Content-Security-Policy violation."""
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.add_init_script(WATCH_SCRIPT)
    yield page
    assert page.evaluate("window.__csp ?? []") == []
    assert console == []


def loaded(page: Any) -> Any:
    section = page.locator(".dashboard-section:not([aria-busy])")
    expect(section).to_be_visible()
    return section


def fmt(page: Any, name: str, value: Any) -> str:
    """The page's own formatter (charts.js `fmt`) applied to a value from the API."""
    script = "async ([n, v]) => (await import('/charts.js')).fmt[n](v)"
    return str(page.evaluate(script, [name, value]))


def seed(server: Any, window: Window, agent: str) -> list[Any]:
    """Five turns: two in one 5-minute bucket, one failing, an unpriced model, three users."""
    return post_turns(
        server,
        [
            agent_turn(agent, window.at(30), user="alice@example.com"),
            agent_turn(agent, window.at(70), user="bob@example.com", fail=True, tool="refund"),
            agent_turn(agent, window.at(120), user="alice@example.com", tool_ms=2400),
            agent_turn(agent, window.at(121), user="carol@example.com"),
            agent_turn(agent, window.at(270), model="acme-private-7b", provider="acme"),
        ],
    )


def test_charts_draw_every_bucket_and_show_the_apis_numbers(server: Any, dash: Any) -> None:
    window, agent = Window(), unique("dash")
    seed(server, window, agent)
    stats = get_stats(server, **window.query(agent))
    buckets = buckets_of(stats)
    totals = stats["totals"]
    # Hand-checked: what was posted.
    assert (totals["traces"], totals["errors"], totals["llmCalls"]) == (5, 1, 10)
    assert totals["tokens"]["input"] == 10 * 1200
    assert sum(1 for b in buckets if b["traces"]) == 4

    open_page(dash, server, window.route(agent))
    section = loaded(dash)
    active = [b for b in buckets if b["traces"]]
    expect(section.locator(".chart-traces rect.hit")).to_have_count(len(buckets))
    expect(section.locator(".chart-traces rect.col")).to_have_count(len(active))
    expect(section.locator(".chart-errors circle.point")).to_have_count(len(active))
    expect(section.locator(".chart-latency path.line")).to_have_count(3)
    with_latency = sum(1 for b in buckets if b["latencyMs"])
    expect(section.locator(".chart-latency circle.point")).to_have_count(3 * with_latency)
    segments = sum(1 for b in buckets for kind in TOKEN_KINDS if b["tokens"][kind] > 0)
    expect(section.locator(".chart-tokens rect.col")).to_have_count(segments)
    priced = sum(1 for b in buckets if b["costUsd"])
    expect(section.locator(".chart-cost rect.col")).to_have_count(priced)

    chips = section.locator(".totals")
    expect(chips.locator("[data-total=traces] .chip-value")).to_have_text("5")
    errors = f"1 ({fmt(dash, 'percent', totals['errorRate'])})"
    expect(chips.locator("[data-total=errors] .chip-value")).to_have_text(errors)
    expect(chips.locator("[data-total=llmCalls] .chip-value")).to_have_text("10")
    tokens = sum(totals["tokens"].values())
    expect(chips.locator("[data-total=tokens] .chip-value")).to_have_text(f"{tokens:,}")
    latency = " / ".join(fmt(dash, "ms", totals["latencyMs"][p]) for p in ("p50", "p95", "p99"))
    expect(chips.locator("[data-total=latency] .chip-value")).to_have_text(latency)
    cost = fmt(dash, "usd", totals["costUsd"])
    expect(chips.locator("[data-total=cost] .chip-value")).to_have_text(cost)
    assert totals["unpricedCalls"] == 2  # the two calls of the model without a price
    expect(chips.locator("[data-total=cost]")).to_contain_text("2 calls without a price")

    # The text alternative: one row per bucket with the API's values.
    table = section.locator(".chart-traces details.chart-data")
    table.locator("summary").click()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(len(buckets))
    starts = rows.locator("time").evaluate_all("els => els.map((e) => e.dateTime)")
    assert [parse(s) for s in starts] == [parse(b["start"]) for b in buckets]
    shown = rows.locator("td.num").all_inner_texts()
    assert shown == [f"{b['traces']:,}" for b in buckets]
    label = section.locator(".chart-traces svg").get_attribute("aria-label") or ""
    assert f"{len(buckets)} buckets" in label and "Traces peak 2" in label


def test_hovering_a_bucket_reads_out_its_values(server: Any, dash: Any) -> None:
    window, agent = Window(), unique("hover")
    seed(server, window, agent)
    buckets = buckets_of(get_stats(server, **window.query(agent)))
    busiest = max(range(len(buckets)), key=lambda i: buckets[i]["traces"])
    open_page(dash, server, window.route(agent))
    section = loaded(dash)
    section.locator(f".chart-tokens rect.hit[data-i='{busiest}']").hover()
    readout = section.locator(".chart-tokens .chart-readout")
    expect(readout).to_be_visible()
    expect(readout).to_contain_text(f"Input: {buckets[busiest]['tokens']['input']:,}")
    expect(readout).to_contain_text(f"Reasoning: {buckets[busiest]['tokens']['reasoning']:,}")
    dash.mouse.move(0, 0)
    expect(readout).to_be_hidden()


def test_top_tables_link_to_the_traces_behind_them(server: Any, dash: Any) -> None:
    window, agent = Window(), unique("tops")
    turns = seed(server, window, agent)
    open_page(dash, server, window.route(agent))
    section = loaded(dash)
    tops = {
        kind: get_stats(server, "/api/stats/top", kind=kind, **window.query(agent))["rows"]
        for kind in ("costliest_traces", "slowest_tools", "failing_tools", "heaviest_users")
    }
    slowest = section.locator(".top-slowest_tools tbody tr")
    expect(slowest).to_have_count(len(tops["slowest_tools"]))
    expect(slowest.first).to_contain_text("lookup_order")
    assert tops["slowest_tools"][0]["slowestTraceId"] == turns[2].trace_id
    failing = section.locator(".top-failing_tools tbody tr")
    expect(failing).to_have_count(1)
    expect(failing.first).to_contain_text("refund")
    users = section.locator(".top-heaviest_users tbody tr")
    expect(users).to_have_count(len(tops["heaviest_users"]))
    costliest = section.locator(".top-costliest_traces tbody tr")
    expect(costliest).to_have_count(len(tops["costliest_traces"]))

    failing.first.get_by_role("link").click()
    assert dash.url.endswith(f"#/trace/{turns[1].trace_id}")
    expect(dash.locator(".span-row.is-error")).to_contain_text("refund")
    dash.go_back()
    loaded(dash).locator(".top-slowest_tools tbody tr").first.locator("td").first.click()
    assert dash.url.endswith(f"#/trace/{turns[2].trace_id}")
    expect(dash.locator(".span-row[data-span-id]")).to_have_count(4)
    dash.go_back()
    users = loaded(dash).locator(".top-heaviest_users")
    users.get_by_role("link", name="alice@example.com").click()
    expect(dash.locator("select[name=agent]")).to_be_visible()  # the traces list, by user
    assert "user=alice%40example.com" in dash.url or "user=alice@example.com" in dash.url


def refetch(page: Any, action: Callable[[], Any]) -> str:
    """Do `action`, wait for the /api/stats request it causes and for the redrawn range."""
    with page.expect_request(lambda r: "/api/stats?" in r.url) as request:
        action()
    loaded(page)
    return str(request.value.url)


def test_range_and_agent_changes_fetch_again(server: Any, dash: Any) -> None:
    agent = unique("switch")
    post_turns(server, [agent_turn(agent, datetime.now(timezone.utc))])
    asked: list[str] = []
    dash.on("request", lambda r: asked.append(r.url) if "/api/stats?" in r.url else None)
    url = refetch(dash, lambda: open_page(dash, server, "/dashboard"))
    dash.evaluate("document.querySelector('.dashboard-controls').__kept = true")
    assert "agent=" not in url and 23.9 < span_hours(url) <= 24.1

    url = refetch(dash, dash.get_by_role("button", name="7 d").click)
    expect(dash.get_by_role("button", name="7 d")).to_have_attribute("aria-pressed", "true")
    assert dash.url.endswith("#/dashboard?range=7d")
    assert 7 * 24 - 0.1 < span_hours(url) <= 7 * 24 + 0.1

    url = refetch(dash, lambda: dash.select_option("select[name=agent]", agent))
    assert f"agent={agent}" in url
    expect(loaded(dash).locator("[data-total=traces] .chip-value")).to_have_text("1")

    url = refetch(dash, dash.get_by_role("button", name="Custom").click)
    expect(dash.locator("input[name=from]")).to_be_visible()
    assert 7 * 24 - 0.1 < span_hours(url) <= 7 * 24 + 0.1  # the same range, now editable
    end = datetime.fromisoformat(dash.locator("input[name=to]").input_value())
    twelve_days = (end - timedelta(days=12)).strftime("%Y-%m-%dT%H:%M")
    url = refetch(dash, lambda: dash.fill("input[name=from]", twelve_days))
    assert 12 * 24 - 0.1 < span_hours(url) <= 12 * 24 + 0.1
    assert "from=" in dash.url and f"agent={agent}" in dash.url
    assert len(asked) == 5  # one request per change, none twice
    # The controls were never rebuilt: each change only replaced what is under them.
    assert dash.evaluate("document.querySelector('.dashboard-controls').__kept") is True

    url = refetch(dash, dash.go_back)  # the custom range the button opened: the form follows
    assert span_hours(url) < 7 * 24 + 0.1
    expect(dash.locator("select[name=agent]")).to_have_value(agent)
    refetch(dash, dash.go_back)
    expect(dash.locator("input[name=from]")).to_be_hidden()
    expect(dash.get_by_role("button", name="7 d")).to_have_attribute("aria-pressed", "true")


def span_hours(url: str) -> float:
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(url).query)
    return (parse(query["to"][0]) - parse(query["from"][0])).total_seconds() / 3600


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_an_empty_range_says_so(server: Any, dash: Any) -> None:
    route = "/dashboard?from=2001-01-01T00:00:00Z&to=2001-01-02T00:00:00Z"
    open_page(dash, server, route)
    section = loaded(dash)
    expect(section.locator(".dashboard-empty")).to_contain_text("No traces between")
    expect(section.locator(".chart")).to_have_count(0)
    expect(section.locator(".top-table")).to_have_count(0)


def test_a_range_the_server_refuses_says_why(server: Any, page: Any) -> None:
    route = "/dashboard?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"
    open_page(page, server, route)
    expect(loaded(page).locator(".error-box")).to_contain_text("to: ")
    expect(page.locator(".chart")).to_have_count(0)


def test_unpriced_calls_show_no_price_never_zero(server: Any, dash: Any) -> None:
    window, agent = Window(), unique("unpriced")
    post_turns(server, [agent_turn(agent, window.at(40), model="acme-private-7b", provider="acme")])
    stats = get_stats(server, **window.query(agent))
    assert stats["totals"]["costUsd"] is None
    open_page(dash, server, window.route(agent))
    section = loaded(dash)
    expect(section.locator("[data-total=cost] .chip-value")).to_have_text("no price")
    expect(section.locator(".chart-cost rect.col")).to_have_count(0)
    table = section.locator(".chart-cost details.chart-data")
    table.locator("summary").click()
    cells = table.locator("tbody td.num").all_inner_texts()
    assert cells.count("no price") == 1 and not any(re.match(r"\$0(\.0+)?$", c) for c in cells)
    expect(section.locator(".top-costliest_traces tbody tr").first).to_contain_text("no price")


def test_a_range_without_llm_calls_has_no_cost_rather_than_no_price(server: Any, dash: Any) -> None:
    window, agent = Window(), unique("tools-only")
    root = Span("turn", "agent", 0, 200)
    root.children = [Span("lookup_order", "tool", 10, 150, inputs={"order": "A1"}, output="ok")]
    post_turns(server, [Trace(agent, root, start=window.at(40))])
    open_page(dash, server, window.route(agent))
    section = loaded(dash)
    expect(section.locator("[data-total=toolCalls] .chip-value")).to_have_text("1")
    expect(section.locator("[data-total=cost] .chip-value")).to_have_text("—")
    costliest = section.locator(".top-costliest_traces tbody tr").first
    expect(costliest.locator("td.num").first).to_have_text("—")


def test_markup_in_names_is_shown_as_text(server: Any, dash: Any) -> None:
    window = Window()
    agent = f"<script>window.__pwned='agent'</script><b>{unique('x')}</b>"
    tool = "<img src=x onerror=\"window.__pwned='tool'\">"
    user = "<iframe src=javascript:alert(1)></iframe>"
    post_turns(server, [agent_turn(agent, window.at(50), tool=tool, user=user, fail=True)])
    open_page(dash, server, window.route(agent))
    section = loaded(dash)
    expect(section.locator(".top-costliest_traces tbody tr").first).to_contain_text(agent)
    expect(section.locator(".top-failing_tools tbody tr").first).to_contain_text(tool)
    expect(section.locator(".top-heaviest_users tbody tr").first).to_contain_text(user)
    expect(dash.locator("select[name=agent]")).to_have_value(agent)
    assert dash.evaluate("window.__pwned") is None
    injected = "main script, main img, main iframe, main b"
    assert dash.evaluate(f"document.querySelectorAll('{injected}').length") == 0


def test_the_nav_link_opens_the_dashboard(server: Any, dash: Any) -> None:
    open_page(dash, server, "/traces")
    dash.get_by_role("link", name="Dashboard").click()
    loaded(dash)
    expect(dash.get_by_role("link", name="Dashboard")).to_have_class("active")
    expect(dash.get_by_role("button", name="24 h")).to_have_attribute("aria-pressed", "true")
