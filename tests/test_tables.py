"""Tables that fit the terminal (issue 13): at 80, 120 and 200 columns every listing shows
the id a user types next whole (a short unique prefix for generated ids), no line is wider
than the terminal, and the short ids it shows are taken back by the commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.ids import short_ids

from .feedserver import FeedServer
from .test_cli import run as run_monitor
from .test_cli import workdir as workdir  # the fixture

WIDTHS = (80, 120, 200)

LONG = (
    "Japan and the United States hold working-level talks on legacy chips supply chains, "
    "critical minerals and the Japan-U.S. Industrial Cooperation Program (JUCIP)"
)

RECIPIENT = """
[digest]
sender = "monitor@example.org"

[[digest.recipients]]
address = "analyst-with-a-long-address@policy-institute.example.org"
name = "Ana"
timezone = "Asia/Tokyo"
send_time = "07:30"
"""


def run(folder: Path, *args: str, width: int = 200, code: int = 0) -> str:
    return run_monitor(folder, *args, width=width, code=code).stdout


@pytest.fixture
def busy(workdir: Path, feed_server: FeedServer) -> Path:
    """A store with stories waiting, a long source name, an assessment and a recipient."""
    items = b"".join(
        f"<item><title>{title}</title><guid>t-{n}</guid>"
        f"<link>https://example.org/{n}/{'very-long-path-segment/' * 4}</link>"
        f"<pubDate>Mon, 0{n} Jan 2026 09:00:00 GMT</pubDate></item>".encode()
        for n, title in enumerate(
            [LONG, "Legacy chips: Japan and the U.S. agree", "IPA and NIST sign AI safety MoU"],
            start=1,
        )
    )
    channel = b'<rss version="2.0"><channel><title>x</title>' + items + b"</channel></rss>"
    feed_server.set_body("tables", channel)
    with (workdir / "config" / "monitor.toml").open("a", encoding="utf-8") as config:
        config.write(RECIPIENT)
    run(workdir, "init")
    name = "a-source-with-a-rather-long-name-for-a-table"
    run(workdir, "sources", "add", feed_server.url("/feeds/tables"), "--name", name)
    run(workdir, "poll")
    stories = json.loads(run(workdir, "queue", "--json"))
    assert len(stories) >= 2
    first = stories[0]
    run(
        workdir, "review", first["story_id"][:8], "accept",
        "--commitment", first["commitments"][0]["commitment_id"], "--status", "in_progress",
        "--rationale", "working-level talks began", "--effective", "2026-01-05", "--by", "ana",
    )  # fmt: skip
    return workdir


def _fits(text: str, width: int) -> None:
    """The table is no wider than the terminal (its rule under the headings is as wide as
    the table); prose lines are the terminal's to wrap."""
    rules = [line for line in text.splitlines() if line.strip() and set(line.strip()) == {"─"}]
    assert all(len(rule) <= width for rule in rules), text


@pytest.mark.parametrize("width", WIDTHS)
def test_every_table_shows_its_ids_whole_and_fits(busy: Path, width: int) -> None:
    stories = json.loads(run(busy, "queue", "--json"))
    shown = run(busy, "queue", width=width)
    _fits(shown, width)
    for short in short_ids(s["story_id"] for s in stories).values():
        assert short in shown, (short, shown)

    sources = json.loads(run(busy, "sources", "--json"))
    shown = run(busy, "sources", width=width)
    _fits(shown, width)
    for source in sources:
        assert source["name"] in shown

    commitments = json.loads(run(busy, "list", "--json"))
    shown = run(busy, "list", width=width)
    _fits(shown, width)
    for commitment in commitments:
        assert commitment["commitment_id"] in shown

    assessed = next(c["commitment_id"] for c in commitments if c["status"] == "in_progress")
    history = json.loads(run(busy, "history", assessed, "--as-of", "2026-12-31", "--json"))
    shown = run(busy, "history", assessed, "--as-of", "2026-12-31", width=width)
    _fits(shown, width)
    for short in short_ids(e["event_id"] for e in history["events"]).values():
        assert short in shown

    shown = run(busy, "digest", "status", width=width)
    _fits(shown, width)
    assert "analyst-with-a-long-address@policy-institute.example.org" in shown


def test_the_short_ids_shown_are_taken_back(busy: Path) -> None:
    commitments = json.loads(run(busy, "list", "--json"))
    assessed = next(c["commitment_id"] for c in commitments if c["status"] == "in_progress")
    history = json.loads(run(busy, "history", assessed, "--as-of", "2026-12-31", "--json"))
    accepted = next(e for e in history["events"] if e["event_type"] == "StatusAssessed")
    table = run(busy, "history", assessed, "--as-of", "2026-12-31", width=80)
    # the id as shown: unique in the whole journal (events made in one millisecond share
    # their first 13 characters, proposals' and items' events included), so undo takes it
    [short] = [line.split()[0] for line in table.splitlines() if "StatusAssessed" in line]
    assert accepted["event_id"].startswith(short)
    assert len(short) >= 8
    undone = run(busy, "undo", short, "--rationale", "too early", "--by", "ana")
    assert "AssessmentWithdrawn" in undone
    # too short, or naming no event: one line, exit 2
    assert "at least 8 characters" in _error(busy, "undo", short[:6])
    assert "no event" in _error(busy, "undo", "ffffffff")


def _error(folder: Path, *args: str) -> str:
    return run_monitor(folder, *args, "--rationale", "r", "--by", "b", code=2).stderr
