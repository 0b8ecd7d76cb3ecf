"""The dashboard's chart and query modules run in the real browser on generated inputs."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from webdata import open_page

pytestmark = pytest.mark.browser
FUZZ = settings(max_examples=60, deadline=None, derandomize=True)
HASHES = itertools.count()


@pytest.fixture(scope="module")
def module_page(browser: Any, server: Any) -> Iterator[Any]:
    """One page for many generated examples (a page per example would be slow)."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_page(page, server, "/agents")
    page.wait_for_selector("h1")
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def run(page: Any, module: str, body: str, arg: Any = None) -> Any:
    script = f"async (arg) => {{ const m = await import('/{module}'); {body} }}"
    return page.evaluate(script, arg)


finite = st.floats(min_value=-1e12, max_value=1e15, allow_nan=False)


@FUZZ
@given(top=st.one_of(finite, st.just(0.0), st.floats(min_value=1e-9, max_value=1e-3)))
def test_ticks_are_round_even_steps_from_zero_past_the_top(module_page: Any, top: float) -> None:
    ticks = run(module_page, "charts.js", "return m.niceTicks(arg);", top)
    assert ticks[0] == 0
    if top <= 0:
        assert ticks == [0, 1]
        return
    assert ticks[-1] >= top * (1 - 1e-9)
    assert 2 <= len(ticks) <= 6
    steps = {round(b - a, 9 - int(math.log10(ticks[1]))) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1
    mantissa = ticks[1] / 10 ** math.floor(math.log10(ticks[1]))
    assert any(math.isclose(mantissa, f) for f in (1, 2, 2.5, 5, 10))


values = st.one_of(st.none(), st.just(0), finite, st.integers(0, 10**9))


@FUZZ
@given(
    kind=st.sampled_from(["bars", "stacked", "lines"]),
    series=st.integers(1, 5).flatmap(
        lambda width: st.lists(
            st.lists(values, min_size=width, max_size=width), min_size=1, max_size=80
        )
    ),
    label=st.text(max_size=30),
)
def test_a_chart_draws_one_mark_per_value_and_no_broken_numbers(
    module_page: Any, kind: str, series: list[list[Any]], label: str
) -> None:
    columns = [list(column) for column in zip(*series)]
    spec = {
        "buckets": [f"2026-12-01T{i // 60:02d}:{i % 60:02d}:00Z" for i in range(len(series))],
        "series": [
            {"key": f"k{s}", "label": label, "values": col} for s, col in enumerate(columns)
        ],
    }
    body = """
      const spec = { ...arg, id: "fuzz", title: "Fuzz", kind: arg.kind, bucketSeconds: 60,
                     format: (v) => String(v), missing: "none" };
      const figure = document.body.appendChild(m.chart(spec));
      const details = figure.querySelector("details");
      const opened = new Promise((done) =>
        details.addEventListener("toggle", done, { once: true }));
      details.open = true;  // the values table is built when first opened
      await opened;
      figure.remove();
      const attrs = [...figure.querySelectorAll("svg *")].flatMap((el) =>
        [...el.attributes].map((a) => a.value));
      return {
        cols: figure.querySelectorAll("rect.col").length,
        points: figure.querySelectorAll("circle.point").length,
        lines: figure.querySelectorAll("path.line").length,
        hits: figure.querySelectorAll("rect.hit").length,
        rows: figure.querySelectorAll("tbody tr").length,
        broken: attrs.filter((v) => /NaN|Infinity|undefined/.test(v)).length,
        legend: [...figure.querySelectorAll(".legend-item")].map((e) => e.textContent),
        elements: figure.querySelectorAll("figcaption *:not(span)").length,
      };
    """
    drawn = run(module_page, "charts.js", body, {**spec, "kind": kind})
    flat = [v for column in columns for v in column]
    assert drawn["hits"] == drawn["rows"] == len(series)
    assert drawn["broken"] == 0
    if kind == "lines":
        assert drawn["lines"] == len(columns)
        assert drawn["points"] == sum(v is not None for v in flat)
    else:
        assert drawn["cols"] == sum(v is not None and v > 0 for v in flat)
    if len(columns) > 1:
        assert drawn["legend"] == [label] * len(columns)  # labels stay text
    assert drawn["elements"] == 0


@FUZZ
@given(
    st.dictionaries(st.sampled_from(["range", "from", "to", "agent", "x"]), st.text(max_size=40))
)
def test_any_url_query_gives_a_range_the_api_can_be_asked_for(
    module_page: Any, params: dict[str, str]
) -> None:
    body = """
      const q = m.readQuery(new URLSearchParams(arg));
      return { q, bounds: m.boundsOf(q, Date.parse("2026-12-06T00:00:00Z")) };
    """
    answer = run(module_page, "dashboard.js", body, params)
    query, bounds = answer["q"], answer["bounds"]
    assert query["agent"] == params.get("agent", "")
    if params.get("from") and params.get("to"):
        assert query["range"] == "custom"
    else:
        seconds = {"24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}[query["range"]]
        asked = params.get("range")
        assert query["range"] == (asked if asked in ("7d", "30d", "24h") else "24h")
        start, end = (
            datetime.fromisoformat(bounds[k].replace("Z", "+00:00")) for k in ("from", "to")
        )
        assert bounds["to"] == "2026-12-06T00:00:00.000Z"
        assert (end - start).total_seconds() == seconds


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "UTC", "Asia/Tokyo"])
def test_a_day_bucket_is_labelled_with_its_utc_date_in_any_time_zone(
    browser: Any, server: Any, zone: str
) -> None:
    # Day buckets start at midnight UTC: west of UTC that instant is the evening before.
    context = browser.new_context(timezone_id=zone, locale="en-US")
    try:
        page = context.new_page()
        open_page(page, server, "/agents")
        page.wait_for_selector("h1")
        body = "return [86400, 3600].map((s) => m.bucketLabel(arg, s, true));"
        day, hour = run(page, "charts.js", body, "2031-03-04T00:00:00.000000Z")
    finally:
        context.close()
    assert day == "Mar 4"
    assert hour == {"UTC": "Mar 4 00:00", "Asia/Tokyo": "Mar 4 09:00"}.get(zone, "Mar 3 16:00")


def test_amounts_and_rates_read_as_worked_by_hand(module_page: Any) -> None:
    cases = [
        ("usd", None, "no price"),
        ("usd", 0, "$0.00"),
        ("usd", 1.234, "$1.23"),
        ("usd", 12.5, "$12.50"),
        ("usd", 0.42, "$0.42"),
        ("usd", 0.00066, "$0.00066"),  # two significant digits below a cent
        ("usd", 0.00004, "<$0.0001"),  # a tiny amount is never shown as zero
        ("percent", 0.2, "20.0%"),
        ("percent", 1 / 3, "33.3%"),
        ("count", 1234567, "1,234,567"),
        ("ms", 250, "250ms"),
        ("ms", 1500, "1.50s"),
    ]
    body = "return arg.map(([name, value]) => m.fmt[name](value));"
    shown = run(module_page, "charts.js", body, [[name, value] for name, value, _ in cases])
    assert shown == [text for _, _, text in cases]


@settings(max_examples=20, deadline=None, derandomize=True)
@given(agent=st.text(min_size=1, max_size=30))
def test_any_agent_in_the_url_gives_a_page_not_a_crash(module_page: Any, agent: str) -> None:
    from urllib.parse import quote

    span = "from=2001-01-01T00:00:00Z&to=2001-01-02T00:00:00Z"
    route = f"#/dashboard?{span}&agent={quote(agent)}&n={next(HASHES)}"  # always a new hash
    # The previous example's section goes first, so only this example's answer is waited for.
    script = """(hash) => {
      document.querySelector(".dashboard-section")?.remove();
      location.hash = hash;
    }"""
    module_page.evaluate(script, route)
    module_page.wait_for_selector(".dashboard-section:not([aria-busy])")
    outcome = module_page.locator(".dashboard-empty, .error-box")
    assert outcome.count() == 1
    injected = "document.querySelectorAll('main script, main img, main iframe').length"
    assert module_page.evaluate(injected) == 0
