"""The web UI in a real browser (Debian's Chromium, driven by Playwright).

Skipped locally with a visible reason when no Chromium is installed; `.ci/run` installs
Debian's chromium, and with CI=true a missing browser fails instead of skipping.
"""

from __future__ import annotations

import html
import json
import os
import shutil
from collections.abc import Iterator

import pytest

from monitor import Monitor
from monitor.web import create_app

from .feedserver import FeedServer
from .webserver import PASSWORD, LiveServer, seed_review_site

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is missing in CI: .ci/run installs Debian's chromium")
        pytest.skip("browser tests skipped: no Chromium found (apt-get install chromium)")
    return path


@pytest.fixture
def served(monitor: Monitor, feed_server: FeedServer) -> Iterator[tuple[Monitor, LiveServer]]:
    seed_review_site(
        monitor,
        feed_server,
        f"browser{id(monitor)}",
        html.escape(html.escape(HOSTILE)) + " IPEF ministers meet",
        {"rita": "reviewer"},
    )
    with LiveServer(create_app(monitor, secret_key="browser-key")) as server:
        yield monitor, server


@pytest.mark.slow
def test_log_in_accept_with_a_status_and_see_the_timeline(served) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    monitor, server = served
    executable = chromium()
    dialogs: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(server.url("/queue"))
            assert page.url.endswith("/login")
            page.fill("input[name=name]", "rita")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.goto(server.url("/queue"))
            # The hostile title is shown as text, and nothing in it ran.
            assert page.get_by_text(HOSTILE, exact=False).count() >= 1
            # One row per story; each commitment proposed for it has its own form.
            row = page.locator("tr[data-story]", has_text="Legacy chips: Japan and the U.S. agree")
            row = row.locator("div.commitment[data-commitment=EPCC23-SEMI-01]")
            row.locator("summary").click()
            row.locator("select[name=status]").select_option("in_progress")
            row.locator("input[name=rationale]").fill("Joint work on legacy chips announced")
            row.locator("button[value=accept-status]").click()
            page.wait_for_url("**/queue?notice=accepted")
            page.goto(server.url("/commitments/EPCC23-SEMI-01"))
            assert "in_progress" in page.locator("p", has_text="Status").inner_text()
            assert page.get_by_text("not_yet_assessed → in_progress").count() == 1
            assert dialogs == []
            # Keyboard: the first story is selected; "r" rejects its first commitment.
            page.goto(server.url("/queue"))
            waiting = page.locator("tr[data-story] div.commitment").count()
            page.keyboard.press("r")
            page.wait_for_url("**/queue?notice=rejected")
            assert page.locator("tr[data-story] div.commitment").count() == waiting - 1
        finally:
            browser.close()
    assert monitor.load("EPCC23-SEMI-01").status().value == "in_progress"


@pytest.mark.slow
def test_api_docs_render_from_local_files_under_the_csp(served) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    _monitor, server = served
    executable = chromium()
    problems: list[str] = []
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("request", lambda request: requested.append(request.url))
            page.goto(server.url("/api/docs"))
            # Swagger UI built the operation list from /api/openapi.json.
            page.locator(".opblock-summary-path", has_text="/api/commitments").first.wait_for()
        finally:
            browser.close()
    assert problems == [], requested  # no CSP violation, no script error
    assert all(url.startswith(server.url("")) for url in requested)  # nothing from a CDN


@pytest.mark.slow
def test_a_story_told_by_several_outlets_is_one_row_accepted_once(served) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    from .test_stories import seed_queue

    monitor, server = served
    ids = seed_queue(monitor)
    executable = chromium()
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(server.url("/login"))
            page.fill("input[name=name]", "rita")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.goto(server.url("/queue"))
            row = page.locator(f"tr[data-story='{ids['kyodo']}']")
            assert row.count() == 1
            row.locator("details.members summary").click()
            assert row.locator("details.members li").count() == 4
            assert row.locator("div.commitment").count() == 2
            # The words that fired are marked in the title and named with their rule.
            assert row.locator("mark", has_text="chip").count() >= 1
            assert "chips-and-supply" in row.locator("small.why").first.inner_text()
            semi01 = row.locator("div.commitment[data-commitment=EPCC23-SEMI-01]")
            semi01.locator("button[value=accept]").click()
            page.wait_for_url("**/queue?notice=accepted")
            row = page.locator(f"tr[data-story='{ids['kyodo']}']")
            assert row.locator("div.commitment").count() == 1  # SEMI-02 still waits
            # Keyboard: j selects the next story.
            page.keyboard.press("j")
            assert page.locator("tr[data-story].selected").count() == 1
        finally:
            browser.close()
    assert problems == []
    [evidence] = monitor.load("EPCC23-SEMI-01").evidence.values()
    assert evidence.url.startswith("https://www.japantimes.co.jp/")
    [accepted] = [r for r in monitor.store.iter_rows() if r[4] == "EvidenceAccepted"]
    assert len(json.loads(accepted[6])["also_urls"]) == 3
