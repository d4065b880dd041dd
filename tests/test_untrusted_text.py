"""Text from outside shown as it reads: bidirectional controls and zero-width characters
are taken out wherever a feed's title or a summary is shown (web pages, the command line,
the Atom feed, the digest), while the journal keeps what was published; and evidence links
are http(s) however they arrive (issue 14)."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher

from monitor import CommandRejected, IntegrityViolation, Monitor, load_settings
from monitor.application.accounts import Accounts
from monitor.digest.contents import clean
from monitor.domain import review as review_rules
from monitor.events import EvidenceProposed
from monitor.sources.text import visible
from monitor.web import create_app

from .conftest import NOW
from .feedserver import FeedServer
from .test_journal import _forge
from .test_poll import LIMITS, item, rss, write_sources
from .webserver import PASSWORD, LiveServer

#: every character that must never reach a reader
UNSEEN = (
    "\u202a\u202b\u202c\u202d\u202e"  # embeddings, overrides, the pop
    "\u2066\u2067\u2068\u2069"  # isolates
    "\u200e\u200f\u061c"  # marks
    "\u200b\u200c\u200d\u2060\ufeff"  # zero-width
)
#: a title that reads "...agree on exe.png" but is a .exe, with a word split unseen
TITLE = (
    "Legacy chips: Japan and the U.S. agree on \u202egnp.exe\u202c pay\u200bment "
    "\u2066plan\u2069\u061c\u200e\u200f\u200c\u200d\u2060\ufeff\u202a\u202b\u202d\u2067\u2068"
)
RATIONALE = "legacy chip \u202ekrow\u202c be\u200bgan"


def unseen(text: str) -> list[str]:
    return sorted(f"U+{ord(c):04X}" for c in set(text) & set(UNSEEN))


def test_visible_takes_out_what_reorders_or_hides_text() -> None:
    assert unseen(TITLE) == sorted(f"U+{ord(c):04X}" for c in UNSEEN)  # the test is whole
    for char in UNSEEN:
        assert visible(f"a{char}b") == "ab", f"U+{ord(char):04X}"
    assert visible("tab\tand\nnewline") == "tab\tand\nnewline"
    # a carriage return or an escape sequence would rewrite a terminal's line
    assert visible("paid\rnot paid\x1b[2K") == "paidnot paid[2K"
    assert visible("日本と米国") == "日本と米国"
    assert unseen(visible(TITLE)) == []
    # the digest's one-line form is the same function's
    assert clean("pay\u200bment \u061cplan\ufeff\u202e") == "payment plan"


@pytest.fixture
def spoofed(monitor: Monitor, feed_server: FeedServer) -> Iterator[tuple[Monitor, httpx.Client]]:
    """A polled feed whose one item has :data:`TITLE`, a reviewer and the web UI."""
    name = f"spoof{uuid.uuid4().hex[:8]}"
    monitor.accounts = Accounts(monitor, PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    monitor.accounts.add("rita", "reviewer", PASSWORD)
    feed_server.set_body(name, rss(item("1", TITLE, link="https://example.org/spoof")))
    write_sources(monitor.settings.base_dir, {name: feed_server.url(f"/feeds/{name}")})
    monitor.sources.sync()
    monitor.sources.poll(monitor.sources.due(), limits=LIMITS)
    with (
        LiveServer(create_app(monitor, secret_key="test-key")) as server,
        httpx.Client(base_url=server.url(""), follow_redirects=False) as client,
    ):
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert csrf
        form = {"name": "rita", "password": PASSWORD, "csrf": csrf.group(1)}
        assert client.post("/login", data=form).status_code == 303
        yield monitor, client


def accept(monitor: Monitor) -> str:
    waiting = monitor.review.queue()[0]  # (the item may be proposed for several)
    monitor.review.decide(
        waiting.proposal_id,
        "accept",
        by="rita",
        status="in_progress",
        rationale=RATIONALE,
        effective_at=datetime(2026, 1, 5, tzinfo=UTC),
    )
    return waiting.commitment_id


def test_the_journal_keeps_the_title_and_pages_and_the_feed_show_it_cleaned(
    spoofed: tuple[Monitor, httpx.Client],
) -> None:
    monitor, client = spoofed
    [recorded] = monitor.store.read_recent(5, event_type="ItemDiscovered")
    assert recorded.data["title"] == TITLE  # what was published, as it was
    queue = client.get("/queue").text
    assert "gnp.exe" in queue
    assert "payment" in queue
    assert unseen(queue) == []
    commitment = accept(monitor)
    page = html.unescape(client.get(f"/commitments/{commitment}").text)
    assert "agree on gnp.exe payment plan" in page  # the evidence's title
    assert "legacy chip krow began" in page  # the rationale
    assert unseen(page) == []
    assert unseen(client.get("/").text) == []
    token = monitor.accounts.create_token("rita", "reader", scope="feed")
    feed = client.get("/feed/status.atom", params={"token": token})
    assert feed.status_code == 200
    assert "<summary>legacy chip krow began</summary>" in feed.text
    assert unseen(feed.text) == []


def run(project: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["COLUMNS"] = "200"
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=project,
        env=env,
        capture_output=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return proc.stdout


def test_the_command_line_shows_it_cleaned(spoofed: tuple[Monitor, httpx.Client]) -> None:
    monitor, _client = spoofed
    project = monitor.settings.base_dir
    queue = run(project, "queue")
    assert "gnp.exe payment plan" in queue
    assert unseen(queue) == []
    commitment = accept(monitor)
    shown = run(project, "show", commitment)
    assert "gnp.exe payment plan" in shown
    assert "legacy chip krow began" in shown
    assert unseen(shown) == []
    history = run(project, "history", commitment, "--as-of", "2026-01-10")
    assert "legacy chip krow began" in history
    assert unseen(history) == []


# -- evidence links -----------------------------------------------------------------------


def _accepted(url: str, also: list[str]) -> dict:
    return {
        "position": 1,
        "event_id": "00000000-0000-4000-8000-000000000001",
        "stream_id": "commitment-X-1",
        "stream_version": 1,
        "event_type": "EvidenceAccepted",
        "schema_version": 2,
        "data": {
            "commitment_id": "X-1",
            "evidence_id": "00000000-0000-4000-8000-000000000002",
            "url": url,
            "title": "t",
            "accepted_by": "a",
            "also_urls": also,
        },
        "metadata": {},
        "recorded_at": "2026-01-01T00:00:00.000000Z",
    }


@pytest.mark.parametrize(
    ("url", "also"),
    [
        ("javascript:alert(1)", []),
        ("https://example.org/a", ["javascript:alert(1)"]),
        ("https://example.org/a", ["https://example.org/b", "data:text/html,<script>x</script>"]),
    ],
    ids=["url", "also-url", "a-later-also-url"],
)
def test_a_journal_whose_evidence_is_no_web_link_is_refused_on_import(
    tmp_path: Path, url: str, also: list[str]
) -> None:
    path = _forge(tmp_path, [_accepted(url, also)])
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "monitor.toml").write_text("")
    with Monitor.open(load_settings(tmp_path / "config" / "monitor.toml", env={})) as copy:
        with pytest.raises(IntegrityViolation, match="EvidenceAccepted v2 payload invalid"):
            copy.import_journal(path)
        assert copy.last_position() == 0
        # and the same lines with web links import
        good = _forge(tmp_path, [_accepted("https://example.org/a", ["HTTP://example.org/b"])])
        assert copy.import_journal(good).events == 1


def test_evidence_on_entry_is_a_web_link_too(monitor: Monitor) -> None:
    with pytest.raises(CommandRejected, match="is not an http\\(s\\) URL"):
        monitor.set_status(
            "EPCC23-SEMI-01",
            "in_progress",
            rationale="r",
            by="ana",
            effective_at=datetime(2026, 1, 5, tzinfo=UTC),
            evidence=["javascript:alert(1)"],
        )
    # A proposal from an imported journal may carry any link: accepting it is refused in
    # words, and other members' links that are not web links are left out.
    commitment = monitor.load("EPCC23-SEMI-01")

    def proposal(url: str) -> review_rules.ProposalState:
        return review_rules.ProposalState(
            proposal=EvidenceProposed(
                proposal_id=uuid.uuid4(),
                commitment_id="EPCC23-SEMI-01",
                item_id=uuid.uuid4(),
                url=url,
                title="legacy chips",
                source="imported",
                score=0.9,
                matched_terms=("legacy chips",),
                matcher_version="1",
            )
        )

    with pytest.raises(CommandRejected, match="is not an http\\(s\\) URL: reject it"):
        review_rules.accept(
            proposal("javascript:alert(1)"), commitment, reviewer="ana", now=NOW, zone=UTC
        )
    _on_proposal, [evidence] = review_rules.accept(
        proposal("https://example.org/a"),
        commitment,
        reviewer="ana",
        now=NOW,
        zone=UTC,
        also_urls=["javascript:alert(2)", "https://example.org/b", "ftp://example.org/c"],
    )
    assert evidence.also_urls == ("https://example.org/b",)
