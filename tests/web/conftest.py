"""Fixtures for the web page tests: Debian's Chromium driven by Playwright, one page per test.

Playwright never downloads a browser here: it launches /usr/bin/chromium (installed by
the CI script). JavaScript errors on the page fail the test that caused them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from webdata import CHROMIUM, CHROMIUM_ARGS


# Per module, not per session: Playwright's sync API keeps its asyncio loop marked as running
# on the main thread while it is started, and an async test of another module run later in
# the same worker would then fail ("Runner.run() cannot be called from a running event loop").
# Tests of one module run together, so the browser is gone before any other module's tests.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (the CI script installs Debian's chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
