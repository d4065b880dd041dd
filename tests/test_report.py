"""The scorecard (issue 15): statuses and scores as of a date by either clock, what moved
since another date, and the same report as HTML, Markdown, CSV and JSON, naming the journal
head it was made from."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import FixedClock, Monitor, load_settings
from monitor.application.report import Entry, Report, csv_text, markdown
from monitor.errors import CommandRejected
from monitor.shapes import report_json
from monitor.web.report import render_html

from .test_cli import run

HOSTILE = '<script>alert("x")</script><img src="https://evil.example/p.png">'
E1 = "https://www.meti.go.jp/english/press/2024/0411_001.html"
E2 = "https://www.commerce.gov/news/x"
E3 = "https://www.mofa.go.jp/policy/order.html"
JUNE_30 = datetime(2024, 6, 30, 14, 59, 59, tzinfo=UTC)  # end of that day in Tokyo
MARCH_31 = datetime(2024, 3, 31, 14, 59, 59, tzinfo=UTC)


@pytest.fixture
def seeded(project: Path) -> Iterator[Monitor]:
    """SEMI-01 in progress from 10 April, learned in August to be fulfilled from 1 June;
    ORD-01 assessed not fulfilled from 20 April, corrected in August to partially."""
    clock = FixedClock(datetime(2023, 12, 1, tzinfo=UTC))
    settings = load_settings(project / "config" / "monitor.toml", env={})
    with Monitor.open(settings, clock) as monitor:
        monitor.init()
        clock.set(datetime(2024, 5, 1, tzinfo=UTC))
        monitor.set_status(
            "EPCC23-SEMI-01",
            "in_progress",
            rationale=HOSTILE,
            by="alice",
            effective_at=datetime(2024, 4, 10, tzinfo=UTC),
            evidence=[E1],
        )
        recorded = monitor.set_status(
            "EPCC23-ORD-01",
            "not_fulfilled",
            rationale="no dialogue held",
            by="alice",
            effective_at=datetime(2024, 4, 20, tzinfo=UTC),
            evidence=[E3],
        )
        clock.set(datetime(2024, 8, 1, tzinfo=UTC))
        monitor.set_status(
            "EPCC23-SEMI-01",
            "fulfilled",
            rationale="joint statement on legacy chips",
            by="bob",
            effective_at=datetime(2024, 6, 1, tzinfo=UTC),
            evidence=[E2],
        )
        assessment = next(e for e in recorded if e.event_type == "StatusAssessed")
        monitor.correct_assessment(
            "EPCC23-ORD-01",
            assessment.data["assessment_id"],
            "partially_fulfilled",
            rationale="one dialogue held in April",
            reason="the April meeting was missed",
            by="bob",
        )
        clock.set(datetime(2024, 9, 1, tzinfo=UTC))
        yield monitor


def entry(report: Report, commitment_id: str) -> Entry:
    return next(e for e in report.entries if e.commitment_id == commitment_id)


def test_statuses_and_scores_as_of_two_dates(seeded: Monitor) -> None:
    total = len(seeded.list_commitments())
    june = seeded.report(JUNE_30)
    assert len(june.entries) == total
    semi, order = entry(june, "EPCC23-SEMI-01"), entry(june, "EPCC23-ORD-01")
    assert (semi.status.value, semi.score, semi.assessor) == ("fulfilled", 1, "bob")
    assert (order.status.value, order.score) == ("partially_fulfilled", 0)
    assert order.rationale == "one dialogue held in April"
    # evidence live on 30 June (E1), and what the status in force rests on as known now
    # (E2, recorded in August); as recorded then, only E1
    assert [link.url for link in semi.evidence] == [E1, E2]
    shown = entry(seeded.report(JUNE_30, clock="recorded"), "EPCC23-SEMI-01")
    assert [link.url for link in shown.evidence] == [E1]
    assert june.overall.scored == 2
    assert june.overall.average == 0.5
    assert june.overall.counts["not_yet_assessed"] == total - 2
    regional = june.by_topic["regional-order"]
    assert regional.counts["partially_fulfilled"] == 1
    assert regional.average == 0.0
    assert june.by_topic["semiconductors"].average == 1.0
    # the history up to the date: the later assessment took effect on 1 June, so it is in
    assert [d.status for d in semi.history if d.status] == ["in_progress", "fulfilled"]

    march = seeded.report(MARCH_31)
    assert {e.status.value for e in march.entries} == {"not_yet_assessed"}
    assert march.overall.scored == 0
    assert march.overall.average is None


def test_recorded_shows_what_monitor_showed_before_the_correction(seeded: Monitor) -> None:
    effective = seeded.report(JUNE_30)
    recorded = seeded.report(JUNE_30, clock="recorded")
    # the corrected assessment: in effect (as known now) partially, shown then not fulfilled
    assert entry(effective, "EPCC23-ORD-01").status.value == "partially_fulfilled"
    shown = entry(recorded, "EPCC23-ORD-01")
    assert (shown.status.value, shown.score, shown.rationale) == (
        "not_fulfilled",
        -1,
        "no dialogue held",
    )
    assert entry(recorded, "EPCC23-SEMI-01").status.value == "in_progress"
    assert recorded.overall.average == -0.5
    assert effective.overall.average == 0.5


def test_since_lists_what_moved_and_on_what_evidence(seeded: Monitor) -> None:
    report = seeded.report(JUNE_30, since=MARCH_31)
    assert report.changes is not None
    moved = {c.commitment_id: c for c in report.changes}
    assert set(moved) == {"EPCC23-SEMI-01", "EPCC23-ORD-01"}
    semi = moved["EPCC23-SEMI-01"]
    assert (semi.before.value, semi.after.value) == ("not_yet_assessed", "fulfilled")
    # the evidence the change rests on: what the assessment in force cites
    assert [link.url for link in semi.evidence] == [E2]
    assert [link.url for link in moved["EPCC23-ORD-01"].evidence] == [E3]
    # as recorded then, SEMI-01 moved to in progress on E1
    then = seeded.report(JUNE_30, clock="recorded", since=MARCH_31).changes
    assert then is not None
    semi_then = next(c for c in then if c.commitment_id == "EPCC23-SEMI-01")
    assert semi_then.after.value == "in_progress"
    assert [link.url for link in semi_then.evidence] == [E1]
    # between two dates after both took effect, nothing moved
    with pytest.raises(CommandRejected, match="--since must come before"):
        seeded.report(MARCH_31, since=JUNE_30)
    later = seeded.report(datetime(2024, 8, 31, tzinfo=UTC), since=JUNE_30)
    assert later.changes == []
    assert seeded.report(JUNE_30).changes is None


def test_the_html_is_self_contained_and_escapes_feed_text(seeded: Monitor) -> None:
    # as recorded on 30 June, SEMI-01's rationale in force is the hostile one
    report = seeded.report(JUNE_30, clock="recorded", since=MARCH_31)
    page = render_html(report)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert 'src="https://evil.example' not in page
    # the chart ends at the as-of date's month
    labels = re.findall(r"<text[^>]*>(\d{4}-\d{2})</text>", page)
    assert labels[-1] == "2024-06"
    assert "<svg" in page
    assert "<rect" in page
    assert "<link" not in page
    assert "@import" not in page
    assert "url(" not in page
    # the only external URLs are links a reader follows: evidence and sources
    assert re.findall(r'\bsrc="', page) == []
    for href in re.findall(r'href="([^"]*)"', page):
        assert href.startswith("https://")
    assert E1 in page
    assert f"{report.head.position}:{report.head.hash}" in page
    assert "per-party" in page


def test_csv_markdown_and_json(seeded: Monitor) -> None:
    report = seeded.report(JUNE_30)
    rows = list(csv.DictReader(io.StringIO(csv_text(report))))
    assert len(rows) == len(report.entries)
    semi = next(r for r in rows if r["id"] == "EPCC23-SEMI-01")
    assert semi["status"] == "fulfilled"
    assert semi["score"] == "1"
    assert semi["effective_date"] == "2024-06-01"
    assert semi["evidence_urls"] == f"{E1} {E2}"
    assert next(r for r in rows if r["id"] == "EPCC23-ORD-02")["score"] == ""

    md = markdown(report)
    assert "<script>" not in md
    assert f"monitor verify --head {report.head}" in md
    assert "## Method" in md
    assert "`stalled`: " in md

    data = json.loads(json.dumps(report_json(report)))
    assert set(data) == {
        "as_of", "day", "clock", "since", "made_at", "head", "method", "scores", "changes",
        "commitments",
    }  # fmt: skip
    assert data["head"]["hash"] == report.head.hash
    assert data["scores"]["overall"]["average"] == 0.5
    scale = {s["status"]: s["score"] for s in data["method"]["scale"]}
    assert scale == {
        "not_yet_assessed": None, "in_progress": 0, "stalled": None, "fulfilled": 1,
        "partially_fulfilled": 0, "not_fulfilled": -1, "superseded": None, "withdrawn": None,
    }  # fmt: skip
    first = next(c for c in data["commitments"] if c["commitment_id"] == "EPCC23-SEMI-01")
    assert [e["url"] for e in first["evidence"]] == [E1, E2]
    assert next(h["event_type"] for h in first["history"]) == "CommitmentRegistered"
    assert first["rationale"] == "joint statement on legacy chips"


def test_the_command_writes_the_file_and_names_the_head(seeded: Monitor, project: Path) -> None:
    head = seeded.journal.head()
    target = project / "scorecard.html"
    done = run(
        project, "report", "--as-of", "2024-06-30", "--since", "2024-03-31", "--out", str(target)
    )
    assert f"{head.position}:{head.hash}" in done.stderr
    page = target.read_text(encoding="utf-8")
    assert f"{head.position}:{head.hash}" in page
    assert "EPCC23-SEMI-01" in page
    run(project, "verify", "--head", f"{head.position}:{head.hash}")

    shown = json.loads(
        run(project, "report", "--as-of", "2024-06-30", "--recorded", "--format", "json").stdout
    )
    assert shown["clock"] == "recorded"
    order = next(c for c in shown["commitments"] if c["commitment_id"] == "EPCC23-ORD-01")
    assert order["status"] == "not_fulfilled"
    rows = list(
        csv.reader(
            io.StringIO(run(project, "report", "--as-of", "2024-06-30", "--format", "csv").stdout)
        )
    )
    assert rows[0][0] == "id"
    refused = run(project, "report", "--out", str(project / "r.pdf"), code=2)
    assert "--format" in refused.stderr


def test_html_is_refused_on_a_terminal(project: Path) -> None:
    """Without --out, HTML would fill the terminal with markup: refused, with what to do."""
    parent, child = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "monitor", "report", "--format", "html"],
            cwd=project,
            env=env,
            stdout=child,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(child)
        os.close(parent)
    assert proc.returncode == 2
    assert "give --out FILE.html" in proc.stderr
