"""Domain rules: given these events, this command, expect these events or this refusal."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from monitor.domain import commitment as rules
from monitor.domain.commitment import CommitmentState, EventContext
from monitor.errors import CommandRejected
from monitor.events import (
    AssessmentCorrected,
    CommitmentRegistered,
    CommitmentRetired,
    DomainEvent,
    EvidenceAccepted,
    NoteAdded,
    Status,
    StatusAssessed,
)

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
TOKYO = ZoneInfo("Asia/Tokyo")


def registered(deadline: date | None = None) -> CommitmentRegistered:
    return CommitmentRegistered(
        commitment_id="EPCC23-SEMI-03",
        statement_id="EPCC-2023",
        title="R&D roadmaps between NSTC and LSTC",
        source_words="cooperate on R&D roadmaps",
        provenance="analysis",
        source_document="JAPAN Forward analysis",
        locator="section on semiconductors",
        source_urls=("https://japan-forward.com/x/",),  # type: ignore[arg-type]
        parties=("Commerce", "METI"),
        topics=("S2", "semiconductors"),
        made_on=date(2023, 11, 14),
        deadline=deadline,
    )


def given(*events: DomainEvent) -> CommitmentState:
    return rules.fold(
        "EPCC23-SEMI-03",
        (
            (e, EventContext(uuid4(), n, NOW - timedelta(days=100 - n)))
            for n, e in enumerate(events, start=1)
        ),
    )


def assess(state: CommitmentState, **overrides: object) -> list[DomainEvent]:
    args: dict[str, object] = {
        "status": "in_progress",
        "rationale": "JUCIP release lists roadmap work",
        "assessor": "alice",
        "effective_at": datetime(2024, 4, 10, tzinfo=UTC),
        "now": NOW,
        "zone": UTC,
        "evidence_urls": ["https://www.meti.go.jp/english/press/2024/0411_001.html"],
    }
    args.update(overrides)
    return rules.assess_status(state, **args)  # type: ignore[arg-type]


def test_a_new_commitment_is_not_yet_assessed() -> None:
    assert given(registered()).status() is Status.NOT_YET_ASSESSED


def test_status_change_records_evidence_then_assessment() -> None:
    events = assess(given(registered()))
    accepted, assessed = events
    assert isinstance(accepted, EvidenceAccepted)
    assert isinstance(assessed, StatusAssessed)
    assert assessed.evidence_ids == (accepted.evidence_id,)
    assert (assessed.previous_status, assessed.status) == (
        Status.NOT_YET_ASSESSED,
        Status.IN_PROGRESS,
    )
    assert assessed.assessor == "alice"


def test_accepted_evidence_id_counts_as_evidence() -> None:
    evidence = EvidenceAccepted(
        commitment_id="EPCC23-SEMI-03",
        evidence_id=uuid4(),
        url="https://example.org/a",  # type: ignore[arg-type]
        accepted_by="bob",
    )
    events = assess(
        given(registered(), evidence), evidence_urls=[], evidence_ids=[evidence.evidence_id]
    )
    assert len(events) == 1
    assert events[0].evidence_ids == (evidence.evidence_id,)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rationale": "  "}, "a rationale is required"),
        ({"assessor": ""}, "the assessor is required"),
        ({"evidence_urls": []}, "evidence is required"),
        ({"evidence_urls": ["ftp://x"]}, "is not an http(s) URL"),
        ({"evidence_ids": [uuid4()]}, "is not accepted evidence"),
        ({"status": "done"}, "unknown status 'done'"),
        ({"status": "not_yet_assessed"}, "not_yet_assessed is the starting point"),
        ({"effective_at": NOW + timedelta(hours=1)}, "is in the future"),
        ({"effective_at": datetime(2023, 11, 13, tzinfo=UTC)}, "before the commitment was made"),
    ],
)
def test_status_change_refusals_name_what_is_missing(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(CommandRejected, match=message.replace("(", r"\(").replace(")", r"\)")):
        assess(given(registered()), **overrides)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(CommandRejected) as caught:
        assess(given(registered()), rationale="", assessor="", evidence_urls=[])
    text = str(caught.value)
    assert "rationale" in text
    assert "assessor" in text
    assert "evidence" in text


def test_the_made_on_rule_does_not_depend_on_who_looks() -> None:
    # 14 November begins at 2023-11-13 10:00 UTC in the earliest zone (UTC+14): from then on
    # an effect can be "on the day"; the viewer's display zone changes nothing.
    on_the_day_somewhere = datetime(2023, 11, 13, 10, 0, tzinfo=UTC)
    too_early = datetime(2023, 11, 13, 9, 59, tzinfo=UTC)
    for zone in (UTC, TOKYO, ZoneInfo("America/Los_Angeles")):
        assert assess(given(registered()), effective_at=on_the_day_somewhere, zone=zone)
        with pytest.raises(CommandRejected, match="before the commitment"):
            assess(given(registered()), effective_at=too_early, zone=zone)


@pytest.mark.parametrize(
    "url",
    ["https://localhost:99999/", "http://[::1/", "https://exa mple.org/", "mailto:a@b.c"],
)
def test_every_unusable_evidence_url_is_a_refusal_not_a_crash(url: str) -> None:
    with pytest.raises(CommandRejected, match="is not an http"):
        assess(given(registered()), evidence_urls=[url])


def test_long_or_nul_text_is_refused_by_the_event_itself() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="at most 200"):
        assess(given(registered()), assessor="x" * 201)
    with pytest.raises(ValidationError, match="NUL"):
        rules.add_note(given(registered()), text="a\x00b", author="dan")


def test_stalled_after_a_passed_deadline_may_rest_on_a_note() -> None:
    state = given(registered(deadline=date(2023, 11, 14)))
    events = assess(state, status="stalled", evidence_urls=[], note="import bans remain")
    assert events[0].status is Status.STALLED  # type: ignore[attr-defined]
    no_deadline = given(registered())
    with pytest.raises(CommandRejected, match="evidence is required"):
        assess(no_deadline, status="stalled", evidence_urls=[], note="nothing happened")


def test_retired_and_unknown_commitments_refuse_status_changes() -> None:
    retired = given(registered(), CommitmentRetired(commitment_id="EPCC23-SEMI-03", reason="x"))
    with pytest.raises(CommandRejected, match="retired"):
        assess(retired)
    with pytest.raises(CommandRejected, match="unknown commitment"):
        assess(CommitmentState("EPCC23-NOPE-01"))


def test_status_follows_the_latest_effective_date_not_the_latest_recorded() -> None:
    first, second = assess(given(registered())), None
    state = given(registered(), *first)
    second = assess(state, status="fulfilled", effective_at=datetime(2024, 1, 5, tzinfo=UTC))
    state = given(registered(), *first, *second)
    # fulfilled was recorded later but took effect earlier (January) than in_progress (April).
    assert state.status() is Status.IN_PROGRESS
    assert state.status(as_of=datetime(2024, 2, 1, tzinfo=UTC)) is Status.FULFILLED
    assert state.status(as_of=datetime(2023, 12, 1, tzinfo=UTC)) is Status.NOT_YET_ASSESSED


def test_correction_is_a_new_event_that_replaces_the_assessment() -> None:
    events = assess(given(registered()))
    assessment = events[1]
    assert isinstance(assessment, StatusAssessed)
    state = given(registered(), *events)
    correction = rules.correct_assessment(
        state,
        assessment_id=assessment.assessment_id,
        status="partially_fulfilled",
        rationale="roadmap published, task force not yet",
        effective_at=assessment.effective_at,
        corrected_by="carol",
        reason="misread the release",
        now=NOW,
        zone=UTC,
    )
    assert isinstance(correction[0], AssessmentCorrected)
    after = given(registered(), *events, *correction)
    assert after.status() is Status.PARTIALLY_FULFILLED
    assert after.latest_assessment().corrected  # type: ignore[union-attr]
    with pytest.raises(CommandRejected, match="no assessment"):
        rules.correct_assessment(
            state,
            assessment_id=uuid4(),
            status="fulfilled",
            rationale="r",
            effective_at=assessment.effective_at,
            corrected_by="c",
            reason="r",
            now=NOW,
            zone=UTC,
        )


def test_notes_and_retractions() -> None:
    events = assess(given(registered()))
    evidence = events[0]
    assert isinstance(evidence, EvidenceAccepted)
    state = given(registered(), *events)
    [added] = rules.add_note(state, text="  watch the JUCIP readout  ", author="dan")
    assert isinstance(added, NoteAdded)
    assert added.text == "watch the JUCIP readout"
    with pytest.raises(CommandRejected, match="the note is empty"):
        rules.add_note(state, text=" ", author="dan")
    [retracted] = rules.retract_evidence(
        state, evidence_id=evidence.evidence_id, reason="wrong release", by="dan"
    )
    after = given(registered(), *events, retracted)
    assert after.live_evidence() == []
    with pytest.raises(CommandRejected, match="was retracted"):
        assess(after, evidence_urls=[], evidence_ids=[evidence.evidence_id])


def test_a_correction_cannot_move_a_status_onto_retracted_evidence() -> None:
    events = assess(given(registered()))
    evidence, assessment = events
    assert isinstance(evidence, EvidenceAccepted)
    assert isinstance(assessment, StatusAssessed)
    state = given(registered(), *events)
    [retracted] = rules.retract_evidence(
        state, evidence_id=evidence.evidence_id, reason="wrong release", by="dan"
    )
    after = given(registered(), *events, retracted)
    correction = {
        "assessment_id": assessment.assessment_id,
        "rationale": "r",
        "effective_at": assessment.effective_at,
        "corrected_by": "c",
        "reason": "r",
        "now": NOW,
        "zone": UTC,
    }
    with pytest.raises(CommandRejected, match="evidence was retracted"):
        rules.correct_assessment(after, status="fulfilled", **correction)  # type: ignore[arg-type]
    # Undoing the assessment, or fixing its rationale only, needs no evidence.
    assert rules.correct_assessment(after, status="not_yet_assessed", **correction)  # type: ignore[arg-type]
    assert rules.correct_assessment(after, status="in_progress", **correction)  # type: ignore[arg-type]


def test_a_deadline_passes_once_its_day_is_over_in_the_users_zone() -> None:
    from monitor.events import DeadlinePassed

    state = given(registered(deadline=date(2026, 1, 15)))
    # 2026-01-15 12:00 UTC is 21:00 in Tokyo: the deadline day is not over yet.
    assert rules.check_deadline(state, NOW, TOKYO) == []
    later = NOW + timedelta(hours=3)  # 00:00 on the 16th in Tokyo
    [passed] = rules.check_deadline(state, later, TOKYO)
    assert passed == DeadlinePassed(
        commitment_id="EPCC23-SEMI-03", deadline=date(2026, 1, 15), noticed_at=later
    )
    # Recorded once: the same deadline never passes twice.
    assert rules.check_deadline(given(registered(date(2026, 1, 15)), passed), later, TOKYO) == []
    assert rules.check_deadline(given(registered()), later, TOKYO) == []  # no deadline
    retired = CommitmentRetired(commitment_id="EPCC23-SEMI-03", reason="merged")
    assert rules.check_deadline(given(registered(date(2026, 1, 1)), retired), later, TOKYO) == []
