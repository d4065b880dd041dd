"""Reviewing proposals: accept (with a status), reject, snooze, bulk; two reviewers race."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from monitor import CommandRejected, FixedClock, Monitor, NotFound, load_settings
from monitor.domain import review as review_rules
from monitor.events import DomainEvent, commitment_stream, proposal_stream
from monitor.writes import COMMITMENT, PROPOSAL

from .conftest import NOW
from .feedserver import FeedServer
from .test_poll import LIMITS, events_of, item, rss, write_sources

CHIPS = "Legacy chips: Japan and the U.S. agree"


@pytest.fixture
def reviewed(project: Path, feed_server: FeedServer) -> Iterator[tuple[Monitor, FixedClock]]:
    """A monitor with a few proposals waiting."""
    name = f"r{uuid.uuid4().hex[:8]}"
    feed_server.set_body(
        name,
        rss(
            item("1", CHIPS, link="https://example.org/1"),
            item("2", "IPEF ministers meet", link="https://example.org/2"),
        ),
    )
    write_sources(project, {name: feed_server.url(f"/feeds/{name}")})
    clock = FixedClock(NOW)
    with Monitor.open(load_settings(project / "config" / "monitor.toml", env={}), clock) as m:
        m.init()
        m.sources.poll(m.sources.due(), limits=LIMITS)
        yield m, clock


def proposal(monitor: Monitor, commitment: str) -> str:
    [p] = monitor.review.queue(commitment=commitment)
    return p.proposal_id


def test_accept_with_a_status_in_one_step(reviewed) -> None:  # type: ignore[no-untyped-def]
    monitor, _clock = reviewed
    pid = proposal(monitor, "EPCC23-SEMI-01")
    events = monitor.review.decide(
        pid[:8],
        "accept",
        by="alice",
        status="in_progress",
        rationale="legacy chip work",
        effective_at=datetime(2026, 1, 5, tzinfo=UTC),
    )
    assert [e.event_type for e in events] == [
        "ProposalAccepted",
        "EvidenceAccepted",
        "StatusAssessed",
    ]
    state = monitor.load("EPCC23-SEMI-01")
    assert state.status().value == "in_progress"
    [evidence] = state.evidence.values()
    assert (evidence.url, evidence.accepted_by) == ("https://example.org/1", "alice")
    assert pid not in {p.proposal_id for p in monitor.review.queue()}
    assert monitor.list_commitments(status="in_progress")[0].evidence_count == 1
    with pytest.raises(CommandRejected, match="alice already accepted"):
        monitor.review.decide(pid, "reject", by="bob", reason="irrelevant")


def test_reject_and_snooze(reviewed) -> None:  # type: ignore[no-untyped-def]
    monitor, clock = reviewed
    pid = proposal(monitor, "EPCC23-SEMI-02")
    with pytest.raises(CommandRejected, match="reason must be one of"):
        monitor.review.decide(pid, "reject", by="bob", reason="boring")
    monitor.review.decide(pid, "reject", by="bob", reason="duplicate", note="same as SEMI-01")
    assert events_of(monitor, "EvidenceRejected")[0]["reason"] == "duplicate"
    other = proposal(monitor, "EPCC23-ORD-03")
    with pytest.raises(CommandRejected, match="future"):
        monitor.review.decide(other, "snooze", by="bob", until=NOW - timedelta(days=1))
    monitor.review.decide(other, "snooze", by="bob", until=NOW + timedelta(days=7))
    assert other not in {p.proposal_id for p in monitor.review.queue()}
    clock.advance(timedelta(days=8))
    assert other in {p.proposal_id for p in monitor.review.queue()}  # back when it is due
    monitor.item_views.rebuild()
    assert pid not in {p.proposal_id for p in monitor.review.queue()}


def test_two_reviewers_on_one_proposal(reviewed, project: Path) -> None:  # type: ignore[no-untyped-def]
    monitor, _clock = reviewed
    pid = proposal(monitor, "EPCC23-SEMI-01")
    outcomes: dict[str, str] = {}

    def act(name: str) -> None:
        settings = load_settings(project / "config" / "monitor.toml", env={})
        with Monitor.open(settings, FixedClock(NOW)) as own:
            try:
                own.review.decide(pid, "accept", by=name)
                outcomes[name] = "accepted"
            except CommandRejected as exc:
                outcomes[name] = str(exc)

    threads = [threading.Thread(target=act, args=(n,)) for n in ("ana", "ben")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes.values())[0] == "accepted"
    winner = next(n for n, o in outcomes.items() if o == "accepted")
    loser = next(n for n in outcomes if n != winner)
    assert outcomes[loser].startswith(f"{winner} already accepted this proposal")
    assert len(monitor.load("EPCC23-SEMI-01").evidence) == 1  # nothing overwritten or doubled


def test_a_review_racing_another_host_is_decided_again(reviewed, project: Path) -> None:  # type: ignore[no-untyped-def]
    """A real conflict on the two-stream write (proposal and commitment): another Monitor
    (as another host) accepts between this one's decision and its append; this one decides
    again on what is there now and the rules refuse a second accept."""
    monitor, _clock = reviewed
    pid = proposal(monitor, "EPCC23-SEMI-01")
    settings = load_settings(project / "config" / "monitor.toml", env={})
    streams = [
        (proposal_stream(UUID(pid)), PROPOSAL),
        (commitment_stream("EPCC23-SEMI-01"), COMMITMENT),
    ]
    decisions: list[str] = []
    with Monitor.open(settings, FixedClock(NOW)) as elsewhere:

        def decide(states: list[Any]) -> list[list[DomainEvent]]:
            state, commitment = states
            decisions.append(state.state)
            if len(decisions) == 1:
                elsewhere.review.decide(pid, "accept", by="ben")  # first, for real
            on_proposal, on_commitment = review_rules.accept(
                state, commitment, reviewer="ana", now=NOW, zone=UTC
            )
            return [on_proposal, on_commitment]

        with pytest.raises(CommandRejected, match="ben already accepted this proposal"):
            monitor.writer.execute_many(streams, decide, {"actor": "ana"}, what="proposal")
    assert decisions == ["pending", "accepted"]
    assert monitor.writer.conflicts == 1
    assert len(monitor.load("EPCC23-SEMI-01").evidence) == 1


def test_bulk_selection_by_filter(reviewed) -> None:  # type: ignore[no-untyped-def]
    monitor, _clock = reviewed
    chosen = monitor.review.select_proposals("score<0.6 age>=0")
    assert chosen
    assert all(p.score < 0.6 for p in chosen)
    assert monitor.review.select_proposals("commitment=EPCC23-SEMI-01")[0].commitment_id == (
        "EPCC23-SEMI-01"
    )
    with pytest.raises(CommandRejected, match="not understood"):
        monitor.review.select_proposals("score~1")
    with pytest.raises(CommandRejected, match="at least 6"):
        monitor.review.find_proposal("ab")


def test_undo_is_a_compensating_event(reviewed) -> None:  # type: ignore[no-untyped-def]
    monitor, _clock = reviewed
    pid = proposal(monitor, "EPCC23-SEMI-01")
    accepted, _evidence, assessed = monitor.review.decide(
        pid,
        "accept",
        by="alice",
        status="in_progress",
        rationale="legacy chip work",
        effective_at=datetime(2026, 1, 5, tzinfo=UTC),
    )
    before = monitor.last_position()
    undone = monitor.review.undo(assessed.event_id, by="carol", rationale="too early")
    assert [e.event_type for e in undone] == ["AssessmentWithdrawn"]
    assert monitor.load("EPCC23-SEMI-01").status().value == "not_yet_assessed"
    with pytest.raises(CommandRejected, match="no assessment"):
        monitor.review.undo(assessed.event_id, by="carol", rationale="twice")
    undone = monitor.review.undo(accepted.event_id, by="carol", rationale="wrong story")
    assert sorted(e.event_type for e in undone) == ["EvidenceRetracted", "ProposalReopened"]
    assert pid in {p.proposal_id for p in monitor.review.queue()}  # waiting again
    assert monitor.load("EPCC23-SEMI-01").live_evidence() == []
    with pytest.raises(CommandRejected, match="undone already"):
        monitor.review.undo(accepted.event_id, by="carol", rationale="again")
    with pytest.raises(CommandRejected, match="cannot be undone"):
        monitor.review.undo(monitor.store.read_all(0, 1)[0].event_id, by="c", rationale="r")
    assert monitor.last_position() == before + 3  # every undo is new events; nothing deleted
    other = proposal(monitor, "EPCC23-SEMI-02")
    [rejected] = monitor.review.decide(other, "reject", by="bob", reason="other")
    monitor.review.undo(rejected.event_id, by="bob", rationale="misclick")
    assert other in {p.proposal_id for p in monitor.review.queue()}
    assert monitor.verify().ok


def test_queue_filters_from_the_command_line(reviewed) -> None:  # type: ignore[no-untyped-def]
    monitor, _clock = reviewed
    everything = monitor.review.queue()
    source = everything[0].source
    assert monitor.review.select_proposals(f"source={source}") == everything
    # names are compared without regard to case; a typo is named, never an empty queue
    assert monitor.review.select_proposals(f"source={source.upper()}") == everything
    semi = monitor.review.select_proposals("commitment=epcc23-semi-01")
    assert {p.commitment_id for p in semi} == {"EPCC23-SEMI-01"}
    with pytest.raises(NotFound, match=f"unknown source '{source}x': did you mean '{source}'"):
        monitor.review.select_proposals(f"source={source}x")
    with pytest.raises(NotFound, match=r"unknown commitment 'EPCC23-SEMI-1'.*'EPCC23-SEMI-01'"):
        monitor.review.stories.page(commitment="EPCC23-SEMI-1")
    with pytest.raises(NotFound, match="unknown source 'elsewhere'"):
        monitor.review.stories.page(source="elsewhere")
    assert monitor.review.select_proposals("age>1") == []  # all proposed just now


def test_undo_of_an_accept_with_status_and_of_a_stale_decision(reviewed) -> None:  # type: ignore[no-untyped-def]
    monitor, clock = reviewed
    pid = proposal(monitor, "EPCC23-SEMI-01")
    accepted, _evidence, _assessed = monitor.review.decide(
        pid,
        "accept",
        by="alice",
        status="in_progress",
        rationale="legacy chip work",
        effective_at=datetime(2026, 1, 5, tzinfo=UTC),
    )
    undone = monitor.review.undo(accepted.event_id, by="carol", rationale="wrong story")
    # The assessment rested on this evidence alone: it goes with it.
    assert sorted(e.event_type for e in undone) == [
        "AssessmentWithdrawn",
        "EvidenceRetracted",
        "ProposalReopened",
    ]
    assert monitor.load("EPCC23-SEMI-01").status().value == "not_yet_assessed"
    # An old snooze undone after a later accept must not reopen the proposal.
    other = proposal(monitor, "EPCC23-SEMI-02")
    [snoozed] = monitor.review.decide(other, "snooze", by="bob", until=NOW + timedelta(days=1))
    clock.advance(timedelta(days=2))
    monitor.review.decide(other, "accept", by="bob")
    with pytest.raises(CommandRejected, match="decided again since"):
        monitor.review.undo(snoozed.event_id, by="bob", rationale="stale")
    assert len(monitor.load("EPCC23-SEMI-02").live_evidence()) == 1


def test_waiting_count_matches_the_queue(reviewed) -> None:  # type: ignore[no-untyped-def]
    monitor, clock = reviewed
    assert monitor.review.waiting_count() == len(monitor.review.queue())
    pid = proposal(monitor, "EPCC23-SEMI-01")
    monitor.review.decide(pid, "snooze", by="bob", until=NOW + timedelta(days=1))
    assert monitor.review.waiting_count() == len(monitor.review.queue())
    clock.advance(timedelta(days=2))
    assert monitor.review.waiting_count() == len(monitor.review.queue())
    # Accepted, rejected and reopened by an undo: the kept count follows every change,
    # and a rebuild of the read models gives the same count.
    accepted = monitor.review.decide(pid, "accept", by="bob")
    other = proposal(monitor, "EPCC23-SEMI-02")
    monitor.review.decide(other, "reject", by="bob", reason="irrelevant")
    assert monitor.review.waiting_count() == len(monitor.review.queue())
    monitor.review.undo(accepted[0].event_id, by="bob", rationale="too early")
    live = monitor.review.waiting_count()
    assert live == len(monitor.review.queue())
    monitor.item_views.rebuild()
    assert monitor.review.waiting_count() == live


def test_an_id_prefix_is_taken_literally(reviewed) -> None:  # type: ignore[no-untyped-def]
    """`%%%%%%ec4c8` once snoozed a proposal: `%` and `_` were LIKE wildcards."""
    from monitor.projections import proposal_queries
    from monitor.projections import queue as story_reads

    monitor, _clock = reviewed
    pid = proposal(monitor, "EPCC23-SEMI-01")
    # the read models match a prefix as it is written, whatever reaches them
    assert proposal_queries.proposals_starting(monitor.engine, "%" * 6) == []
    assert proposal_queries.proposals_starting(monitor.engine, "_" * 8) == []
    assert story_reads.by_prefix(monitor.engine, "%" + pid[1:8]) == ([], False)
    # and what is not an id is refused before any look-up, saying what an id is
    for ref in ("%%%%%%" + pid[-5:], "______" + pid[-5:], "x" * 8, pid[:8] + "\x00"):
        with pytest.raises(CommandRejected, match=r"is not an id: .* hexadecimal digits"):
            monitor.review.decide(ref, "snooze", by="alice", until=NOW + timedelta(days=7))
    with pytest.raises(CommandRejected, match="is not an id"):
        monitor.matching.find_item("%%%%%%%%")
    with pytest.raises(CommandRejected, match="is not an id"):
        monitor.review.find_event("%%%%%%%%")
    assert pid in {p.proposal_id for p in monitor.review.queue()}  # still waiting
    # a whole id in capitals is still an id
    assert monitor.review.find_proposal(pid.upper()).proposal_id == pid
