"""Two clocks: the status in effect on a date, and what monitor showed on that date."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from monitor import FixedClock, Monitor, load_settings

EVIDENCE = "https://www.meti.go.jp/english/press/2024/0411_001.html"


def test_effective_and_recorded_clocks_answer_differently(project: Path) -> None:
    clock = FixedClock(datetime(2023, 12, 1, tzinfo=UTC))
    settings = load_settings(project / "config" / "monitor.toml", env={})
    with Monitor.open(settings, clock) as monitor:
        monitor.init()
        clock.set(datetime(2024, 5, 1, tzinfo=UTC))
        monitor.set_status(
            "EPCC23-SEMI-01",
            "in_progress",
            rationale="JUCIP release",
            by="alice",
            effective_at=datetime(2024, 4, 10, tzinfo=UTC),
            evidence=[EVIDENCE],
        )
        # Learned in August that it was fulfilled on 1 June.
        clock.set(datetime(2024, 8, 1, tzinfo=UTC))
        monitor.set_status(
            "EPCC23-SEMI-01",
            "fulfilled",
            rationale="joint statement on legacy chips",
            by="bob",
            effective_at=datetime(2024, 6, 1, tzinfo=UTC),
            evidence=["https://www.commerce.gov/news/x"],
        )
        june_30 = datetime(2024, 6, 30, 23, 59, tzinfo=UTC)
        in_effect = monitor.history("EPCC23-SEMI-01", june_30, "effective")
        shown = monitor.history("EPCC23-SEMI-01", june_30, "recorded")
        assert in_effect.status.value == "fulfilled"
        assert shown.status.value == "in_progress"
        assert [e.event_type for e, _ in shown.events] == [
            "CommitmentRegistered",
            "EvidenceAccepted",
            "StatusAssessed",
        ]
        march = datetime(2024, 3, 1, tzinfo=UTC)
        assert monitor.history("EPCC23-SEMI-01", march).status.value == "not_yet_assessed"
        # Before anything was recorded at all, the commitment was not in monitor either.
        before = monitor.history("EPCC23-SEMI-01", datetime(2023, 11, 20, tzinfo=UTC), "recorded")
        assert before.events == []
