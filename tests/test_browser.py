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
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import FixedClock, Monitor
from monitor.web import create_app

from .conftest import ROOT
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
        {"rita": "reviewer", "vera": "viewer"},
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
            row.locator("input[name=effective]").fill("2026-01-05")
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


def log_in(page, server: LiveServer, name: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server.url("/login"))
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.url("/"))


@pytest.mark.slow
def test_the_commitment_page_does_what_the_cli_does(served) -> None:  # type: ignore[no-untyped-def]
    """Status, note, correction and withdrawal from a commitment's page, in the web's words;
    the effective date is asked for, never taken to be today."""
    from playwright.sync_api import sync_playwright

    monitor, server = served
    executable = chromium()
    problems: list[str] = []
    page_url = server.url("/commitments/EPCC23-SEMI-03")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda error: problems.append(str(error)))
            log_in(page, server, "rita")
            page.goto(page_url)
            form = page.locator("form[action$='/status']")
            page.locator("details.form summary", has_text="Set the status").click()
            # The date is empty and required: the browser does not send the form without it.
            assert form.locator("input[name=effective]").input_value() == ""
            form.locator("select[name=status]").select_option("fulfilled")
            form.locator("textarea[name=rationale]").fill("Roadmap published")
            form.locator("button").click()
            assert page.url == page_url
            missing = "e => e.validity.valueMissing"
            assert form.locator("input[name=effective]").evaluate(missing) is True
            # Refused by the core (fulfilled needs evidence): said in the web's words, and
            # what was typed is still there.
            form.locator("input[name=effective]").fill("2024-04-11")
            form.locator("button").click()
            alert = page.locator("p.error[role=alert]")
            assert "evidence is required" in alert.inner_text()
            assert "--" not in alert.inner_text()
            assert "Evidence field" in alert.inner_text()
            form = page.locator("form[action$='/status']")
            assert form.locator("textarea[name=rationale]").input_value() == "Roadmap published"
            assert form.locator("input[name=effective]").input_value() == "2024-04-11"
            # With a status that needs none, and a piece of evidence: recorded.
            form.locator("select[name=status]").select_option("in_progress")
            form.locator("textarea[name=evidence]").fill("https://www.meti.go.jp/english/press/")
            form.locator("button").click()
            page.wait_for_url("**/commitments/EPCC23-SEMI-03?notice=assessed")
            assert "in_progress" in page.locator("p", has_text="Status:").inner_text()
            [assessment] = monitor.load("EPCC23-SEMI-03").assessments.values()
            assert assessment.effective_at.date().isoformat() == "2024-04-11"
            assert assessment.assessor == "rita"
            # A note.
            page.locator("details.form summary", has_text="Add a note").click()
            page.locator("form[action$='/notes'] textarea").fill("Natcast roadmap due")
            page.locator("form[action$='/notes'] button").click()
            page.wait_for_url("**?notice=noted")
            assert page.get_by_text("Natcast roadmap due").count() >= 1
            # Correct it: the entry is marked corrected.
            item = page.locator("ul.assessments li").first
            item.locator("summary").click()
            correct = item.locator("form[action$='/correct']")
            correct.locator("select[name=status]").select_option("partially_fulfilled")
            correct.locator("input[name=rationale]").fill("Only the first part")
            correct.locator("input[name=reason]").fill("misread the release")
            correct.locator("button").click()
            page.wait_for_url("**?notice=corrected")
            item = page.locator("ul.assessments li").first
            assert item.locator("mark.corrected").count() == 1
            assert "partially_fulfilled" in item.inner_text()
            # Withdraw it: the status follows from the others (none).
            item.locator("summary").click()
            item.locator("form[action$='/withdraw'] input[name=reason]").fill("wrong item")
            item.locator("form[action$='/withdraw'] button").click()
            page.wait_for_url("**?notice=withdrawn")
            assert "not_yet_assessed" in page.locator("p", has_text="Status:").inner_text()
            # A viewer sees the page without any form.
            viewer = browser.new_page()
            log_in(viewer, server, "vera")
            viewer.goto(page_url)
            assert viewer.locator("main form[method=post]").count() == 0
        finally:
            browser.close()
    assert problems == []
    assert monitor.load("EPCC23-SEMI-03").status().value == "not_yet_assessed"


#: where the layout tests leave their screenshots (CI keeps them as artefacts)
SCREENS = Path(os.environ.get("MONITOR_TEST_ARTEFACTS", ROOT / "test-artefacts")) / "screens"
LONG_URL = "https://www.meti.go.jp/english/press/2024/0411_001_" + "x" * 120 + ".html"
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.mark.slow
def test_every_page_fits_a_phone_and_a_desktop(served) -> None:  # type: ignore[no-untyped-def]
    """No page scrolls sideways at 390 or 1280 px (tables stack, the chart scrolls in its
    own box, long URLs wrap); each page's screenshot is kept."""
    from playwright.sync_api import sync_playwright

    monitor, server = served
    monitor.set_status(
        "EPCC23-SEMI-01", "in_progress", rationale="JUCIP release " + LONG_URL, by="rita",
        effective_at=datetime(2024, 4, 11, tzinfo=UTC), evidence=[LONG_URL],
    )  # fmt: skip
    pages = {
        "dashboard": "/",
        "queue": "/queue",
        "sources": "/sources",
        "digests": "/digests",
        "audit": "/audit",
        "commitment": "/commitments/EPCC23-SEMI-01",
        "error": "/commitments/EPCC23-SEMI-1",
    }
    SCREENS.mkdir(parents=True, exist_ok=True)
    wide: dict[str, int] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            for width in (390, 1280):
                context = browser.new_context(viewport={"width": width, "height": 900})
                page = context.new_page()
                page.goto(server.url("/login"))
                page.screenshot(path=SCREENS / f"login-{width}.png", full_page=True)
                wide[f"login-{width}"] = page.evaluate(OVERFLOW)
                log_in(page, server, "rita")
                for name, path in pages.items():
                    page.goto(server.url(path))
                    page.screenshot(path=SCREENS / f"{name}-{width}.png", full_page=True)
                    wide[f"{name}-{width}"] = page.evaluate(OVERFLOW)
                # the menu stays on the bar: every link inside the header's box
                header = page.locator("header").bounding_box()
                assert header is not None
                for link in page.locator("header a").all():
                    box = link.bounding_box()
                    assert box is not None
                    assert box["x"] + box["width"] <= header["x"] + header["width"] + 1
                    assert box["y"] + box["height"] <= header["y"] + header["height"] + 1
                context.close()
        finally:
            browser.close()
    assert {name: px for name, px in wide.items() if px > 0} == {}


@pytest.mark.slow
def test_the_digest_fits_a_phone(project: Path, clock: FixedClock) -> None:
    """A digest with a long bare URL: no sideways scroll at 390 px."""
    from playwright.sync_api import sync_playwright

    from .digestkit import ANA, configure, open_monitor

    configure(project, [ANA])
    with open_monitor(project, clock) as monitor:
        monitor.set_status(
            "EPCC23-SEMI-03", "in_progress", rationale="see " + LONG_URL, by="rita",
            effective_at=clock.now(), evidence=[LONG_URL],
        )  # fmt: skip
        html_part = monitor.digests.preview("ana@example.org", clock.now()).rendered.html
    assert LONG_URL in html_part
    SCREENS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 900})
            page.set_content(html_part)
            page.screenshot(path=SCREENS / "digest-390.png", full_page=True)
            assert page.evaluate(OVERFLOW) == 0
        finally:
            browser.close()
