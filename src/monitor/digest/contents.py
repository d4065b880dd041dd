"""What one recipient's digest reports: a read over the journal window and the read models.

News comes from the window of the journal the digest covers (``after < position <=
until``): status changes with their rationale and evidence, newly accepted evidence, new
proposals. Standing matters come from the state now: proposals waiting for review,
commitments with no evidence for N days, deadlines near or passed, sources failing for more
than a day, and this recipient's own digests that could not be delivered. Its footer carries
the journal's head at the window's end (signed when heads are signed): every mailbox that
keeps a digest is a witness `monitor verify --head` can call on.

Every text that came from a feed or a person is made safe here first: control and
bidirectional-override characters removed, white space collapsed, length bounded. HTML
escaping is the templates' job (autoescape).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote
from uuid import UUID

from monitor.digest.config import DigestSettings, Recipient, scope_matches
from monitor.domain.commitment import CommitmentState
from monitor.domain.digest_schedule import Claim
from monitor.events import Status
from monitor.projections import CommitmentView, proposal_queries
from monitor.sources.disclosure import error_class
from monitor.sources.text import visible
from monitor.store.heads import Head, published
from monitor.timestamps import format_timestamp, parse_timestamp

if TYPE_CHECKING:
    from monitor.application.context import Context
    from monitor.projections import SourceView


class CommitmentReads(Protocol):
    """What a digest reads of the commitments (the commitments capability)."""

    def list_commitments(
        self, status: str | None = None, topic: str | None = None, include_retired: bool = False
    ) -> list[CommitmentView]: ...

    def load(self, commitment_id: str) -> CommitmentState: ...


@dataclass(frozen=True, slots=True)
class Reads:
    """Everything a digest's contents are read from: the context and the peers it names."""

    context: Context
    commitments: CommitmentReads
    #: bring the review queue's read model up to date
    waiting: Callable[[], object]
    #: the sources with their health
    sources: Callable[[], list[SourceView]]


#: statuses that need no more evidence
CLOSED = {
    Status.FULFILLED.value,
    Status.NOT_FULFILLED.value,
    Status.SUPERSEDED.value,
    Status.WITHDRAWN.value,
}
TOP_WAITING = 5
SOURCE_FAILING_FOR = timedelta(days=1)
WINDOW_TYPES = (
    "StatusAssessed",
    "AssessmentCorrected",
    "AssessmentWithdrawn",
    "EvidenceAccepted",
    "EvidenceProposed",
)
TITLE = 300
LONG = 1_000
#: most status changes / accepted evidence / lost digests one message lists (the newest):
#: a catch-up after weeks, or a window that grows while every send fails, must not grow
#: into a message the server refuses as too large (552), which would only grow further
MAX_LISTED = 100
MAX_UNDELIVERED = 14


def clean(value: object, limit: int = TITLE) -> str:
    """One line of safe, bounded text (for titles, names, rationales, headers): what
    every display shows (:func:`monitor.sources.text.visible`: no bidirectional control,
    zero-width or control character), on one line."""
    text = " ".join(visible(" ".join(str(value or "").split())).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def header_text(value: object, limit: int) -> str:
    """:func:`clean` text fit for a mail header (a subject, a display name): also without
    an RFC 2047 encoded word.

    The email package decodes an encoded word in a header value it is given, so the text
    ``=?utf-8?q?=0d=0aBcc:evil@example.org?=`` (a feed title, a recipient's name) would
    come out as a line break and a Bcc header (CVE-2024-6923, on the Python in use). No
    encoded word begins without ``=?``: ``= ?`` reads the same to a person and is never
    decoded, and no ``=?`` can form again once white space separates every ``=`` and ``?``.
    """
    return clean(str(value or "").replace("=?", "= ?"), limit)


def safe_url(value: object) -> str | None:
    """An http(s) URL fit for a link, or None (no javascript:, no spaces or quotes)."""
    text = str(value or "").strip()
    if not re.match(r"^https?://[^\s<>\"'\x00-\x1f\x7f]+$", text) or len(text) > 2000:
        return None
    return text


@dataclass(frozen=True, slots=True)
class Link:
    title: str
    url: str | None


@dataclass(frozen=True, slots=True)
class StatusChange:
    """An assessment, correction or withdrawal recorded in the window."""

    commitment_id: str
    commitment_title: str
    kind: str  # "assessed", "corrected", "withdrawn"
    previous: str | None
    status: str | None
    rationale: str
    effective_at: datetime | None
    by: str
    evidence: tuple[Link, ...]
    link: str | None


@dataclass(frozen=True, slots=True)
class NewEvidence:
    commitment_id: str
    commitment_title: str
    title: str
    url: str | None
    accepted_by: str
    retracted: bool
    link: str | None


@dataclass(frozen=True, slots=True)
class Waiting:
    """A proposal waiting for review, with a link into the review queue."""

    commitment_id: str
    title: str
    url: str | None
    source: str
    score: float
    review_link: str | None


@dataclass(frozen=True, slots=True)
class Stale:
    commitment_id: str
    title: str
    status: str
    last_evidence_at: datetime | None
    days: int
    link: str | None


@dataclass(frozen=True, slots=True)
class Deadline:
    commitment_id: str
    title: str
    deadline: date
    days_left: int
    status: str
    link: str | None

    @property
    def passed(self) -> bool:
        return self.days_left < 0


@dataclass(frozen=True, slots=True)
class FailingSource:
    name: str
    failing_since: datetime
    failures: int
    error: str


@dataclass(frozen=True, slots=True)
class Undelivered:
    """One of this recipient's earlier digests that did not arrive."""

    local_day: date
    error: str
    permanent: bool


@dataclass(slots=True)
class Contents:
    """Everything one digest says, in the recipient's terms."""

    recipient: Recipient
    local_day: date
    covers_from: datetime | None
    covers_until: datetime
    catch_up: bool
    changes: list[StatusChange] = field(default_factory=list)
    evidence: list[NewEvidence] = field(default_factory=list)
    new_proposals: int = 0
    waiting_count: int = 0
    waiting: list[Waiting] = field(default_factory=list)
    stale: list[Stale] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)
    failing_sources: list[FailingSource] = field(default_factory=list)
    undelivered: list[Undelivered] = field(default_factory=list)
    queue_link: str | None = None
    stale_days: int = 30
    #: how many earlier ones were left out of ``changes``, ``evidence``, ``undelivered``
    more_changes: int = 0
    more_evidence: int = 0
    more_undelivered: int = 0
    #: the journal's head where the window ends (None for an empty journal): published in
    #: the footer so that each recipient's mailbox witnesses the journal
    head: Head | None = None

    @property
    def quiet(self) -> bool:
        """Nothing new to report: no status change, evidence, proposal or lost digest."""
        return not (self.changes or self.evidence or self.new_proposals or self.undelivered)

    def bound(self) -> None:
        """Keep the newest :data:`MAX_LISTED` of each list; count the rest."""
        self.more_changes += max(0, len(self.changes) - MAX_LISTED)
        self.more_evidence += max(0, len(self.evidence) - MAX_LISTED)
        self.more_undelivered += max(0, len(self.undelivered) - MAX_UNDELIVERED)
        self.changes = self.changes[-MAX_LISTED:]
        self.evidence = self.evidence[-MAX_LISTED:]
        self.undelivered = self.undelivered[-MAX_UNDELIVERED:]

    @property
    def passed_deadlines(self) -> list[Deadline]:
        return [d for d in self.deadlines if d.passed]

    @property
    def summary(self) -> str:
        """The one line that opens the digest (and its subject)."""
        parts = []
        if self.changes:
            parts.append(_count(len(self.changes) + self.more_changes, "status change"))
        if self.evidence:
            parts.append(
                _count(len(self.evidence) + self.more_evidence, "new evidence", "new evidence")
            )
        if self.new_proposals:
            parts.append(_count(self.new_proposals, "new proposal"))
        parts.append(f"{self.waiting_count} waiting for review")
        passed = len(self.passed_deadlines)
        if passed:
            parts.append(_count(passed, "deadline passed", "deadlines passed"))
        if self.failing_sources:
            parts.append(_count(len(self.failing_sources), "source failing", "sources failing"))
        if self.undelivered:
            lost = len(self.undelivered) + self.more_undelivered
            parts.append(_count(lost, "digest undelivered", "digests undelivered"))
        head = "nothing new" if self.quiet else ""
        return "; ".join([head, *parts] if head else parts)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


@dataclass(frozen=True, slots=True)
class Window:
    """The part of the journal a digest reports, and the moments it spans."""

    after_position: int
    until_position: int
    covers_from: datetime | None
    covers_until: datetime


def gather(
    reads: Reads,
    recipient: Recipient,
    window: Window,
    *,
    local_day: date,
    now: datetime,
    undelivered: Sequence[Claim] = (),
    catch_up: bool = False,
) -> Contents:
    """Read what the digest of ``local_day`` for ``recipient`` reports."""
    digest = reads.context.settings.digest
    links = _Links(digest)
    views = {v.commitment_id: v for v in reads.commitments.list_commitments()}
    followed = {
        cid: v for cid, v in views.items() if scope_matches(recipient, cid, json.loads(v.topics))
    }
    states = {cid: reads.commitments.load(cid) for cid in followed}
    contents = Contents(
        recipient=recipient,
        local_day=local_day,
        covers_from=window.covers_from,
        covers_until=window.covers_until,
        catch_up=catch_up,
        queue_link=links.queue(None),
        stale_days=digest.stale_days,
    )
    events = reads.context.store.read_window(
        window.after_position, window.until_position, WINDOW_TYPES
    )
    for event in events:
        cid = str(event.data.get("commitment_id", ""))
        if cid not in followed:
            continue
        title = clean(followed[cid].title)
        if event.event_type == "EvidenceProposed":
            contents.new_proposals += 1
        elif event.event_type == "EvidenceAccepted":
            found = states[cid].evidence.get(UUID(event.data["evidence_id"]))
            contents.evidence.append(
                NewEvidence(
                    cid,
                    title,
                    clean(event.data.get("title") or event.data["url"]),
                    safe_url(event.data["url"]),
                    clean(event.data["accepted_by"], 100),
                    found is not None and found.retracted,
                    links.commitment(cid),
                )
            )
        else:
            contents.changes.append(
                _change(event.event_type, event.data, title, states[cid], links)
            )
    _waiting(reads, contents, set(followed), links)
    _standing(contents, followed, states, now, digest, links)
    contents.failing_sources = _failing_sources(reads, now)
    contents.undelivered = [_undelivered(c) for c in undelivered]
    contents.head = _head(reads.context, window.until_position)
    contents.bound()
    return contents


def _head(context: Context, position: int) -> Head | None:
    """The head at ``position``, as published: the same for every send of one claim, so a
    digest sent again says what it said the first time."""
    if position <= 0:
        return None
    return published(context.store.head(at=position), context.settings.head_signing_key)


def _change(
    event_type: str,
    data: dict[str, Any],
    title: str,
    state: CommitmentState,
    links: _Links,
) -> StatusChange:
    cid = state.commitment_id
    evidence: list[Link] = []
    for raw in data.get("evidence_ids") or ():
        found = state.evidence.get(UUID(str(raw)))
        if found is not None:
            evidence.append(Link(clean(found.title or found.url), safe_url(found.url)))
    effective = data.get("effective_at")
    if event_type == "StatusAssessed":
        return StatusChange(
            cid,
            title,
            "assessed",
            str(data["previous_status"]),
            str(data["status"]),
            clean(data["rationale"], LONG),
            parse_timestamp(str(effective)) if effective else None,
            clean(data["assessor"], 100),
            tuple(evidence),
            links.commitment(cid),
        )
    if event_type == "AssessmentCorrected":
        return StatusChange(
            cid,
            title,
            "corrected",
            None,
            str(data["status"]),
            clean(f"{data['rationale']} (correction: {data['reason']})", LONG),
            parse_timestamp(str(effective)) if effective else None,
            clean(data["corrected_by"], 100),
            tuple(evidence),
            links.commitment(cid),
        )
    return StatusChange(
        cid,
        title,
        "withdrawn",
        None,
        state.status().value,
        clean(data["reason"], LONG),
        None,
        clean(data["withdrawn_by"], 100),
        (),
        links.commitment(cid),
    )


def _waiting(reads: Reads, contents: Contents, followed: set[str], links: _Links) -> None:
    reads.waiting()
    now = format_timestamp(reads.context.clock.now())
    found = proposal_queries.waiting_about(reads.context.engine, now, followed, TOP_WAITING)
    contents.waiting_count = found.count
    contents.waiting = [
        Waiting(
            p.commitment_id,
            clean(p.title),
            safe_url(p.url),
            clean(p.source, 100),
            p.score,
            links.queue(p.commitment_id),
        )
        for p in found.top
    ]


def _standing(
    contents: Contents,
    followed: dict[str, CommitmentView],
    states: dict[str, CommitmentState],
    now: datetime,
    digest: DigestSettings,
    links: _Links,
) -> None:
    today = now.astimezone(contents.recipient.timezone).date()
    for cid, view in sorted(followed.items()):
        state = states[cid]
        if view.retired or state.registration is None:
            continue
        status = state.status().value
        if status not in CLOSED:
            live = [e.recorded_at for e in state.live_evidence()]
            last = max(live) if live else None
            since = last or datetime.combine(state.registration.made_on, time(0), tzinfo=UTC)
            days = (now - since).days
            if days >= digest.stale_days:
                contents.stale.append(
                    Stale(cid, clean(view.title), status, last, days, links.commitment(cid))
                )
        deadline = state.registration.deadline
        if deadline is None:
            continue
        left = (deadline - today).days
        if (0 <= left <= digest.deadline_days) or (left < 0 and status not in CLOSED):
            contents.deadlines.append(
                Deadline(cid, clean(view.title), deadline, left, status, links.commitment(cid))
            )
    contents.stale.sort(key=lambda s: (-s.days, s.commitment_id))
    contents.deadlines.sort(key=lambda d: (d.deadline, d.commitment_id))


def _failing_sources(reads: Reads, now: datetime) -> list[FailingSource]:
    failing = []
    for view in reads.sources():
        if not view.failing_since:
            continue
        since = parse_timestamp(view.failing_since)
        if now - since >= SOURCE_FAILING_FOR:
            failing.append(
                FailingSource(
                    clean(view.name, 100),
                    since,
                    view.consecutive_failures,
                    # the kind of failure only: the recorded text may map internal hosts
                    # and ports, and a recipient need not be an admin (docs/security.md)
                    error_class(view.last_error) or "failed",
                )
            )
    return failing


def _undelivered(claim: Claim) -> Undelivered:
    failure = claim.failure
    if failure is None:
        return Undelivered(claim.local_day, "interrupted before the send was recorded", False)
    return Undelivered(claim.local_day, clean(failure.error, 200), failure.permanent)


class _Links:
    """Links into the web UI, when its address (digest.base_url) is known."""

    def __init__(self, digest: DigestSettings) -> None:
        self.base = digest.base_url

    def commitment(self, cid: str) -> str | None:
        return f"{self.base}/commitments/{quote(cid, safe='')}" if self.base else None

    def queue(self, cid: str | None) -> str | None:
        if not self.base:
            return None
        return f"{self.base}/queue" + (f"?commitment={quote(cid, safe='')}" if cid else "")
