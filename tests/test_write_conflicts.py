"""Every command meets a concurrency conflict the same way (issue 12, one write path).

The conflict is real: just before a command appends, another writer on the same database
(a second Monitor, as another process or host would be) appends to one of the same streams
an event that leaves the decision as it was (a note on the commitment, a poll's check of
the source, ...). The store refuses the command's append; the command decides again on
what is there now. Once, and it goes through; every time, and it gives up with one message.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor import CommandRejected, FixedClock, Monitor, MonitorError, load_settings
from monitor.events import (
    DigestFailed,
    DomainEvent,
    NoteAdded,
    ProposalReopened,
    SourceChecked,
    SourceRegistered,
    UserChanged,
    to_new_event,
)
from monitor.store.records import NewEvent, StreamAppend

from .conftest import NOW
from .digestkit import ANA, configure
from .feedserver import FeedServer
from .test_poll import LIMITS, item, rss, write_sources

CID = "EPCC23-SC-01"
WHEN = datetime(2026, 1, 5, tzinfo=UTC)
GIVE_UP = "kept changing while you edited it; try again"


@pytest.fixture
def pair(
    project: Path, feed_server: FeedServer
) -> Iterator[tuple[Monitor, Monitor, dict[str, str]]]:
    """A monitor with a source, proposals and a digest recipient; another on the same
    database; and the names the commands need."""
    name = f"c{uuid.uuid4().hex[:8]}"
    feed_server.set_body(
        name,
        rss(
            item("1", "Legacy chips: Japan and the U.S. agree", link="https://example.org/1"),
            item("2", "Japan, U.S. deepen legacy chip cooperation", link="https://example.org/2"),
        ),
    )
    write_sources(project, {name: feed_server.url(f"/feeds/{name}")})
    configure(project, [ANA])
    settings = load_settings(project / "config" / "monitor.toml", env={})
    with Monitor.open(settings, FixedClock(NOW)) as first, Monitor.open(settings) as second:
        first.init()
        first.sources.poll(first.sources.due(), limits=LIMITS)
        yield first, second, {"source": name}


def assess(m: Monitor) -> uuid.UUID:
    recorded = m.set_status(
        CID, "in_progress", rationale="r", by="a", effective_at=WHEN,
        evidence=["https://example.org/evidence"],
    )  # fmt: skip
    return uuid.UUID(recorded[-1].data["assessment_id"])


def accept(m: Monitor) -> Any:
    proposal = m.review.queue(commitment="EPCC23-SEMI-01")[0]
    return m.review.decide(proposal.proposal_id, "accept", by="a")


def _retitle(m: Monitor) -> None:
    """Change the first commitment's title in the catalogue file (sync then revises it)."""
    path = m.settings.catalogue
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines.index("[[commitment]]\n")
    first = next(i for i in range(start, len(lines)) if lines[i].startswith("title = "))
    lines[first] = 'title = "A title changed for the test"\n'
    path.write_text("".join(lines), encoding="utf-8")


def _resource(m: Monitor, names: dict[str, str]) -> None:
    write_sources(m.settings.base_dir, {names["source"]: "https://example.org/moved.xml"})


#: (name, set-up on the first monitor, the command) for every command that writes
COMMANDS: list[tuple[str, Callable[..., Any], Callable[..., Any]]] = [
    ("status set", lambda m, n: None, lambda m, n, s: assess(m)),
    (
        "status correct",
        lambda m, n: assess(m),
        lambda m, n, s: m.correct_assessment(
            CID, s, "in_progress", rationale="r2", reason="typo", by="a", effective_at=WHEN
        ),
    ),
    (
        "status withdraw",
        lambda m, n: assess(m),
        lambda m, n, s: m.withdraw_assessment(CID, s, reason="wrong", by="a"),
    ),
    ("note", lambda m, n: None, lambda m, n, s: m.add_note(CID, "a note", by="a")),
    (
        "evidence retract",
        lambda m, n: accept(m),
        lambda m, n, s: m.retract_evidence(
            "EPCC23-SEMI-01", uuid.UUID(s[1].data["evidence_id"]), reason="r", by="a"
        ),
    ),
    ("catalogue sync", lambda m, n: _retitle(m), lambda m, n, s: m.sync()),
    ("sources sync", lambda m, n: _resource(m, n), lambda m, n, s: m.sources.sync()),
    (
        "sources add",
        lambda m, n: None,
        lambda m, n, s: m.sources.add("https://example.org/other.xml", "other"),
    ),
    ("review", lambda m, n: None, lambda m, n, s: accept(m)),
    (
        "review a story",
        lambda m, n: None,
        lambda m, n, s: m.review.decide(
            m.review.queue(commitment="EPCC23-SEMI-01")[0].story_id,
            "reject",
            by="a",
            reason="irrelevant",
            commitments=["EPCC23-SEMI-01"],
        ),
    ),
    (
        "undo",
        lambda m, n: accept(m),
        lambda m, n, s: m.review.undo(s[0].event_id, by="a", rationale="too soon"),
    ),
    ("user add", lambda m, n: None, lambda m, n, s: m.accounts.add("zoe", "viewer", "x" * 12)),
    (
        "digest send",
        lambda m, n: None,
        lambda m, n, s: m.digests.send_now(NOW, ANA["address"]),
    ),
]


def harmless(stream: str, first: NewEvent) -> DomainEvent:
    """An event of ``stream``'s kind that leaves a decision on it as it was."""
    kind, _, key = stream.partition("-")
    if kind == "commitment":
        return NoteAdded(commitment_id=key, note_id=uuid.uuid4(), text="elsewhere", author="b")
    if kind == "proposal":  # a decision on a pending proposal: it stays pending
        return ProposalReopened(
            proposal_id=uuid.UUID(key), commitment_id=first.data["commitment_id"],
            undone_event_id=uuid.uuid4(), rationale="elsewhere", reviewer="b",
        )  # fmt: skip
    if kind == "source" and first.event_type == "SourceRegistered":
        return SourceRegistered(
            name=key, url="https://example.org/b.xml", kind="feed", interval_seconds=3600,
            origin="cli",
        )  # fmt: skip
    if kind == "source":
        return SourceChecked(name=key, outcome="not_modified", checked_at=NOW, next_check_at=NOW)
    if kind == "user":
        return UserChanged(name=key, change="role changed", role="viewer", by="b")
    assert kind == "digest", stream
    return DigestFailed(
        recipient=key, local_day=NOW.date(), message_id="<elsewhere@example.org>",
        claim_id=uuid.uuid4(), failed_at=NOW, permanent=False, error="elsewhere", attempts=1,
    )  # fmt: skip


def get_in_first(other: Monitor) -> Callable[[list[StreamAppend]], None]:
    """A hook that makes ``other`` write to one of the command's streams first (its
    commitment's when it writes to one)."""

    def hook(appends: list[StreamAppend]) -> None:
        target = next((a for a in appends if a.stream_id.startswith("commitment-")), appends[0])
        event = harmless(target.stream_id, target.events[0])
        other.store.append_batch(
            [
                StreamAppend(
                    target.stream_id,
                    (to_new_event(event, {"actor": "b"}),),
                    target.expected_version,
                )
            ]
        )

    return hook


@pytest.mark.parametrize(("name", "setup", "command"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_conflict_is_decided_again(pair, name, setup, command) -> None:  # type: ignore[no-untyped-def]
    first, second, names = pair
    state = setup(first, names)
    hook = get_in_first(second)
    calls: list[int] = []

    def once(appends: list[StreamAppend]) -> None:
        calls.append(len(appends))
        if len(calls) == 1:
            hook(appends)

    first.writer.before_append = once
    conflicts = first.writer.conflicts
    if name == "sources add":  # the other writer took the name: decided again, refused
        with pytest.raises(CommandRejected, match="a source named 'other' exists already"):
            command(first, names, state)
    else:
        command(first, names, state)  # goes through: decided again on what is there now
        # decided twice (a digest then records what became of it: a third write)
        assert len(calls) == (3 if name == "digest send" else 2), f"{name}: {len(calls)}"
    assert first.writer.conflicts == conflicts + 1, f"{name}: no conflict was met"
    assert calls, f"{name} did not go through the write path"


@pytest.mark.parametrize(("name", "setup", "command"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_stream_that_keeps_changing_gives_up_with_one_message(pair, name, setup, command) -> None:  # type: ignore[no-untyped-def]
    first, second, names = pair
    state = setup(first, names)
    first.writer.before_append = get_in_first(second)
    first.writer.retries = 3
    conflicts = first.writer.conflicts
    if name == "sources add":  # a name taken elsewhere is refused, not retried
        with pytest.raises(CommandRejected, match="exists already"):
            command(first, names, state)
        assert first.writer.conflicts == conflicts + 1
        return
    with pytest.raises(MonitorError, match=GIVE_UP):
        command(first, names, state)
    assert first.writer.conflicts == conflicts + 3
