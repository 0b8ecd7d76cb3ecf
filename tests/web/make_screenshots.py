"""Screenshots of the web page's main views, from a real demo run, into docs/screenshots/.

    python tests/web/make_screenshots.py

Starts a server on a temporary SQLite file with the model simulator, runs the example
support agent against it (as `whyops demo` does), then drives Debian's Chromium.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "docs" / "screenshots"
sys.path[:0] = [str(REPO), str(Path(__file__).parent)]

from webdata import CHROMIUM, CHROMIUM_ARGS  # noqa: E402


def capture(base_url: str, key: str, turns: list[Any]) -> None:
    from playwright.sync_api import sync_playwright

    carol = next(t for t in turns if t.user_id.startswith("carol"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 860})
        page.goto(f"{base_url}/#/traces&key={key}")
        page.wait_for_selector("tbody tr")
        shot(page, "traces")
        page.goto(f"{base_url}/#/traces?errors=1")  # the turn whose parcel tracking timed out
        page.locator("tbody tr a").first.click()
        page.wait_for_selector(".span-row[data-span-id]")
        rows = page.locator(".span-row[data-span-id]")
        errors = page.locator(".span-row.is-error")
        (errors.first if errors.count() else rows.first).click()
        shot(page, "trace")
        rows.filter(has_text="anthropic").first.click()
        shot(page, "span-thinking")
        page.goto(f"{base_url}/#/thread/{carol.thread_id}")
        page.wait_for_selector("li.turn .turn-span")
        shot(page, "thread")
        page.goto(f"{base_url}/#/agents")
        page.wait_for_selector("tbody tr")
        shot(page, "agents")
        page.locator("tbody tr a").first.click()
        page.wait_for_selector(".version")
        shot(page, "agent")
        post_week(base_url, key)
        page.goto(f"{base_url}/#/dashboard?range=7d")
        page.wait_for_selector(".dashboard-section:not([aria-busy]) .chart-grid")
        busy = page.locator(".chart-latency circle.point").nth(-40).get_attribute("data-i")
        page.locator(f".chart-latency rect.hit[data-i='{busy}']").hover()
        shot(page, "dashboard")
        browser.close()


def shot(page: Any, name: str) -> None:
    page.wait_for_timeout(400)
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"wrote {path.relative_to(REPO)}")


def post_week(base_url: str, key: str) -> None:
    """A week of earlier turns (busier by day), so the dashboard has trends to draw."""
    import math
    import random
    from datetime import datetime, timedelta, timezone

    from dashdata import agent_turn
    from webdata import post_events, trace_events

    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    events = []
    for hour in range(7 * 24, 0, -1):
        load = 3 + 2 * math.sin((hour % 24) / 24 * 2 * math.pi)
        for _ in range(rng.randint(0, round(load))):
            start = now - timedelta(hours=hour, minutes=rng.randint(0, 59))
            model = rng.choice([("gpt-4o-mini", "openai"), ("claude-sonnet-4-5", "anthropic")])
            turn = agent_turn(
                rng.choice(["support-agent", "billing-agent"]),
                start,
                user=f"customer-{rng.randint(1, 40)}",
                tool=rng.choice(["lookup_order", "track_shipment", "issue_refund"]),
                tool_ms=rng.uniform(40, 900),
                fail=rng.random() < 0.08,
                model=model[0],
                provider=model[1],
                llm_ms=(rng.lognormvariate(6.2, 0.5), rng.lognormvariate(6.6, 0.6)),
            )
            events += trace_events(turn)
    post_events(base_url, key, events)


PREVIOUS_PROMPT = (
    "You are Sam, the customer support agent of Northwind Outfitters.\n"
    "Look orders up before answering questions about them, and track parcels\n"
    "when asked where they are.\n"
    "Be brief."
)


def register_previous_version(base_url: str, key: str, example: Any) -> None:
    """An older configuration of the agent (no refunds), so the agent page has changes to show."""
    import httpx2

    tools = sys.modules[f"{example.__name__}.tools"].agent_metadata_tools()
    metadata = {
        "systemPrompt": PREVIOUS_PROMPT,
        "tools": [t for t in tools if t["name"] != "issue_refund"],
    }
    response = httpx2.post(
        f"{base_url}/api/entities/init",
        json={"agentName": example.AGENT_NAME, "metadata": metadata},
        headers={"Authorization": f"Bearer {key}"},
    )
    response.raise_for_status()


def main() -> int:
    from whyops.cli import demo
    from whyops.server.run import start_in_thread
    from whyops.server.settings import ServerSettings

    OUT.mkdir(parents=True, exist_ok=True)
    example = demo.load_example()
    with tempfile.TemporaryDirectory() as folder:
        settings = ServerSettings(
            host="127.0.0.1",
            port=0,
            db_path=f"{folder}/shots.db",
            simulate=True,
            log_level="warning",
        )
        with start_in_thread(settings) as server:
            register_previous_version(server.base_url, server.api_key, example)
            turns = demo.run_example(example, server.base_url, server.api_key)
            for turn in turns:
                demo.wait_for_spans(demo.ReadClient(server.base_url, server.api_key), turn.trace_id)
            capture(server.base_url, server.api_key, turns)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
