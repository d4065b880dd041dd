"""The domain's event types: immutable, versioned, past tense.

Each type is a frozen pydantic model with a ``event_type`` name and a ``schema_version``.
Stored payloads of older versions are upcast on read (never rewritten in place) by the
functions registered in :data:`REGISTRY`. The JSON Schema of every type and version lives in
``events/schemas/`` and is generated from these classes (``python -m monitor.schemas``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from importlib import resources
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    model_validator,
)

from monitor.errors import UnknownEventType
from monitor.ids import uuid7
from monitor.status import Status as Status  # re-exported: events name their statuses
from monitor.store.records import NewEvent, RecordedEvent
from monitor.streams import (  # re-exported: where the event types are, their streams' names
    commitment_stream as commitment_stream,
)
from monitor.streams import digest_stream as digest_stream
from monitor.streams import item_stream as item_stream
from monitor.streams import proposal_stream as proposal_stream
from monitor.streams import source_stream as source_stream
from monitor.streams import user_stream as user_stream

Provenance = Literal["verbatim", "fragment", "readout", "retro", "analysis", "official"]
NonEmpty = Field(min_length=1)
#: who did something: a user name or a service name
Actor = Annotated[str, Field(min_length=1, max_length=200)]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


def _refuse_nul(value: Any) -> None:
    # repr() shows a NUL as \x00 and runs in C: only a hit there needs the exact walk.
    if "\\x00" in repr(value) and _has_nul(value):
        raise ValueError("text must not contain NUL characters")


class DomainEvent(BaseModel):
    """Base of every event payload."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        # PostgreSQL text cannot hold NUL, and no legitimate text needs it.
        _refuse_nul(data)
        return data


class AmbiguousTerm(BaseModel):
    """A term that counts only when one of ``requires_any`` occurs in the same item."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    term: str = NonEmpty
    requires_any: tuple[str, ...] = Field(min_length=1)


class Concept(BaseModel):
    """One idea and the ways it is written: any variant found means the concept is there."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    en: tuple[str, ...] = ()
    ja: tuple[str, ...] = ()


#: how close the concepts of a rule's ``near`` must stand: a number of words, or one sentence
Within = int | Literal["sentence"]


class MatchRule(BaseModel):
    """One clause of a commitment's query, as an analyst writes a media-monitoring query.

    The rule fires when every concept of ``all_of`` is present, at least one of ``any_of``
    (when given), none of ``none_of``, and the concepts of ``near`` stand within ``within``
    words of each other (or in one sentence). ``weight`` is what the rule alone is worth.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    name: str = NonEmpty
    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()
    near: tuple[str, ...] = ()
    within: Within = "sentence"
    weight: float = Field(default=1.0, gt=0, le=1)


class MatchRules(BaseModel):
    """How news items are matched to a commitment (used by the matcher).

    The concept form (``concepts`` and ``rules``) is the current one. The term lists are the
    first form, still read for commitments recorded before it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    terms_en: tuple[str, ...] = ()
    terms_ja: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    ambiguous: tuple[AmbiguousTerm, ...] = ()
    concepts: dict[str, Concept] = Field(default_factory=dict)
    rules: tuple[MatchRule, ...] = ()


class CommitmentRegistered(DomainEvent):
    """A commitment entered the catalogue, with its source words and provenance."""

    event_type: ClassVar[str] = "CommitmentRegistered"
    schema_version: ClassVar[int] = 2
    commitment_id: str = NonEmpty
    statement_id: str = NonEmpty
    title: str = NonEmpty
    source_words: str = NonEmpty
    provenance: Provenance
    source_document: str = NonEmpty
    locator: str = NonEmpty
    source_urls: tuple[HttpUrl, ...] = Field(min_length=1)
    parties: tuple[str, ...] = Field(min_length=1)
    topics: tuple[str, ...] = Field(min_length=1)
    made_on: date
    deadline: date | None = None
    deadline_text: str | None = None
    match: MatchRules = MatchRules()
    statement_match: MatchRules = MatchRules()


class FieldChange(BaseModel):
    """One field's value before and after a revision."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    old: Any
    new: Any


class CommitmentRevised(DomainEvent):
    """Catalogue fields changed; ``changes`` says which, ``reason`` says why."""

    event_type: ClassVar[str] = "CommitmentRevised"
    commitment_id: str = NonEmpty
    changes: dict[str, FieldChange] = Field(min_length=1)
    reason: str = NonEmpty


class CommitmentRetired(DomainEvent):
    """The commitment left the catalogue; its history stays."""

    event_type: ClassVar[str] = "CommitmentRetired"
    commitment_id: str = NonEmpty
    reason: str = NonEmpty


class CommitmentReinstated(DomainEvent):
    """A retired commitment came back into the catalogue."""

    event_type: ClassVar[str] = "CommitmentReinstated"
    commitment_id: str = NonEmpty
    reason: str = NonEmpty


#: an http(s) address kept as it was given (``HttpUrl`` would normalise it): evidence is
#: linked on pages and in digests, so a journal that says "javascript:..." is refused on
#: import as on entry (the members of a story are http(s) by then: see sources/parse.py)
WebUrl = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://")]


class EvidenceAccepted(DomainEvent):
    """A person accepted a document as evidence about a commitment.

    ``also_urls``: where else the same story was told (the other members of a story group
    accepted with one decision); ``url`` is the one chosen to stand for it.
    """

    event_type: ClassVar[str] = "EvidenceAccepted"
    schema_version: ClassVar[int] = 2
    commitment_id: str = NonEmpty
    evidence_id: UUID
    url: HttpUrl
    title: str | None = Field(default=None, max_length=1000)
    proposal_id: UUID | None = None
    accepted_by: Actor
    also_urls: tuple[WebUrl, ...] = Field(default=(), max_length=200)


class EvidenceRetracted(DomainEvent):
    """Accepted evidence was withdrawn (it stays in the history, marked retracted)."""

    event_type: ClassVar[str] = "EvidenceRetracted"
    commitment_id: str = NonEmpty
    evidence_id: UUID
    reason: str = NonEmpty
    retracted_by: Actor


class StatusAssessed(DomainEvent):
    """A person assessed the commitment's status as of a date in the world."""

    event_type: ClassVar[str] = "StatusAssessed"
    commitment_id: str = NonEmpty
    assessment_id: UUID
    status: Status
    previous_status: Status
    rationale: str = NonEmpty
    assessor: Actor
    effective_at: AwareDatetime
    evidence_ids: tuple[UUID, ...] = ()
    note: str | None = None


class AssessmentCorrected(DomainEvent):
    """An earlier assessment was wrong; this replaces its status, date and rationale."""

    event_type: ClassVar[str] = "AssessmentCorrected"
    commitment_id: str = NonEmpty
    assessment_id: UUID
    status: Status
    rationale: str = NonEmpty
    effective_at: AwareDatetime
    evidence_ids: tuple[UUID, ...] = ()
    corrected_by: Actor
    reason: str = NonEmpty


class AssessmentWithdrawn(DomainEvent):
    """An assessment should never have been made: the status folds as if it were not."""

    event_type: ClassVar[str] = "AssessmentWithdrawn"
    commitment_id: str = NonEmpty
    assessment_id: UUID
    reason: str = NonEmpty
    withdrawn_by: Actor


class NoteAdded(DomainEvent):
    """A free-text note on a commitment."""

    event_type: ClassVar[str] = "NoteAdded"
    commitment_id: str = NonEmpty
    note_id: UUID
    text: str = Field(min_length=1, max_length=20_000)
    author: Actor


class DeadlinePassed(DomainEvent):
    """The commitment's deadline went by (noticed by the daily check of `monitor serve`).

    Recorded once per deadline date: a revised deadline can pass again.
    """

    event_type: ClassVar[str] = "DeadlinePassed"
    commitment_id: str = NonEmpty
    deadline: date
    noticed_at: AwareDatetime


# -- sources, items, proposals ------------------------------------------------------------

SourceKind = Literal["feed", "news-search"]
Url = Annotated[str, Field(min_length=1, max_length=2000)]
ShortText = Annotated[str, Field(max_length=500)]
#: an item's identity within its source: "guid:...", "link:..." or "hash:..."
ItemKey = Annotated[str, Field(min_length=1, max_length=2100)]


class SourceRegistered(DomainEvent):
    """A feed or news search to poll."""

    event_type: ClassVar[str] = "SourceRegistered"
    name: str = Field(min_length=1, max_length=100)
    url: Url
    kind: SourceKind
    interval_seconds: int = Field(ge=60, le=30 * 86_400)
    language: str | None = Field(default=None, max_length=20)
    note: str | None = Field(default=None, max_length=1000)
    origin: Literal["config", "cli", "opml"] = "config"


class SourceRevised(DomainEvent):
    """A source's settings changed."""

    event_type: ClassVar[str] = "SourceRevised"
    name: str = NonEmpty
    changes: dict[str, FieldChange] = Field(min_length=1)
    reason: str = NonEmpty


class SourceRemoved(DomainEvent):
    """A source is no longer polled (its history stays)."""

    event_type: ClassVar[str] = "SourceRemoved"
    name: str = NonEmpty
    reason: str = NonEmpty


class SourceChecked(DomainEvent):
    """One poll of a source: what came back, and when to look again."""

    event_type: ClassVar[str] = "SourceChecked"
    name: str = NonEmpty
    outcome: Literal["ok", "not_modified", "failed"]
    checked_at: AwareDatetime
    next_check_at: AwareDatetime
    http_status: int | None = None
    error: ShortText | None = None
    etag: ShortText | None = None
    last_modified: ShortText | None = None
    items_in_feed: int = 0
    items_new: int = 0
    items_revised: int = 0
    proposals: int = 0
    consecutive_failures: int = 0
    duration_ms: int = 0


class ItemDiscovered(DomainEvent):
    """A news item or release seen for the first time."""

    event_type: ClassVar[str] = "ItemDiscovered"
    item_id: UUID
    source: str = NonEmpty
    key: ItemKey
    url: Url | None = None
    canonical_url: Url | None = None
    title: Annotated[str, Field(max_length=500)]
    summary: Annotated[str, Field(max_length=1000)] = ""
    text: Annotated[str, Field(max_length=20_000)] = ""
    published_at: AwareDatetime | None = None
    first_seen_at: AwareDatetime
    outlet: str | None = Field(default=None, max_length=200)
    outlet_url: Url | None = None
    content_hash: str = Field(min_length=64, max_length=64)


class ItemRevised(DomainEvent):
    """The publisher changed an item (same identity, new content)."""

    event_type: ClassVar[str] = "ItemRevised"
    item_id: UUID
    source: str = NonEmpty
    key: ItemKey
    url: Url | None = None
    canonical_url: Url | None = None
    title: Annotated[str, Field(max_length=500)]
    summary: Annotated[str, Field(max_length=1000)] = ""
    text: Annotated[str, Field(max_length=20_000)] = ""
    published_at: AwareDatetime | None = None
    seen_at: AwareDatetime
    content_hash: str = Field(min_length=64, max_length=64)


class ItemAlsoSeen(DomainEvent):
    """Another source carried the same story (same canonical URL)."""

    event_type: ClassVar[str] = "ItemAlsoSeen"
    item_id: UUID
    source: str = NonEmpty
    key: ItemKey
    url: Url | None = None
    content_hash: str | None = Field(default=None, min_length=64, max_length=64)


class MatchReason(BaseModel):
    """One part of a proposal's score: a rule that fired, or a weight learned from review."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    kind: Literal["rule", "title", "learned"]
    name: str = Field(min_length=1, max_length=200)
    #: the words of the item that made it fire, as written there
    words: tuple[Annotated[str, Field(max_length=200)], ...] = ()
    weight: float


class EvidenceProposed(DomainEvent):
    """The matcher thinks an item may be evidence about a commitment: a person decides."""

    event_type: ClassVar[str] = "EvidenceProposed"
    schema_version: ClassVar[int] = 2
    proposal_id: UUID
    commitment_id: str = NonEmpty
    item_id: UUID
    url: Url | None = None
    title: Annotated[str, Field(max_length=500)]
    source: str = NonEmpty
    published_at: AwareDatetime | None = None
    score: float = Field(ge=0, le=1)
    matched_terms: tuple[str, ...] = Field(min_length=1)
    matcher_version: str = NonEmpty
    #: why: the rules that fired with the words they fired on, and what review taught
    explanation: tuple[MatchReason, ...] = ()


# -- review -------------------------------------------------------------------------------

RejectReason = Literal["irrelevant", "duplicate", "unreliable", "before-commitment", "other"]


class ProposalAccepted(DomainEvent):
    """A reviewer accepted a proposal; the commitment's EvidenceAccepted names the evidence."""

    event_type: ClassVar[str] = "ProposalAccepted"
    proposal_id: UUID
    commitment_id: str = NonEmpty
    evidence_id: UUID
    reviewer: Actor


class EvidenceRejected(DomainEvent):
    """A reviewer decided a proposed item is not evidence about the commitment."""

    event_type: ClassVar[str] = "EvidenceRejected"
    proposal_id: UUID
    commitment_id: str = NonEmpty
    reason: RejectReason
    note: str | None = Field(default=None, max_length=2000)
    reviewer: Actor


class ProposalSnoozed(DomainEvent):
    """A reviewer put a proposal aside until a date."""

    event_type: ClassVar[str] = "ProposalSnoozed"
    proposal_id: UUID
    commitment_id: str = NonEmpty
    until: AwareDatetime
    reviewer: Actor


class ProposalReopened(DomainEvent):
    """A review decision was undone: the proposal waits for review again."""

    event_type: ClassVar[str] = "ProposalReopened"
    proposal_id: UUID
    commitment_id: str = NonEmpty
    undone_event_id: UUID
    rationale: str = NonEmpty
    reviewer: Actor


class UserChanged(DomainEvent):
    """An account was added, changed, disabled or enabled again (no secrets are ever
    journalled)."""

    event_type: ClassVar[str] = "UserChanged"
    name: str = Field(min_length=1, max_length=100)
    change: Literal[
        "added", "role changed", "disabled", "enabled", "token created", "token revoked"
    ]
    role: str | None = None
    by: Actor


# -- digests ------------------------------------------------------------------------------

#: a recipient's e-mail address as configured (short enough to name a stream)
Address = Annotated[str, Field(min_length=3, max_length=190)]
DigestTrigger = Literal["schedule", "catch-up", "manual", "recovery", "retry"]


class DigestClaimed(DomainEvent):
    """A process took on sending one recipient's digest for one local day (before sending).

    Appended at the stream's expected version, so of two processes only one can claim; the
    window (positions after ``after_position`` up to ``until_position``) is what it reports.
    """

    event_type: ClassVar[str] = "DigestClaimed"
    recipient: Address
    local_day: date
    message_id: str = Field(min_length=5, max_length=250)
    trigger: DigestTrigger
    attempt: int = Field(ge=1)
    after_position: int = Field(ge=0)
    until_position: int = Field(ge=0)
    covers_from: AwareDatetime | None = None
    covers_until: AwareDatetime
    claimed_at: AwareDatetime


class DigestSent(DomainEvent):
    """The claimed digest was handed to the SMTP server (or written to the outbox)."""

    event_type: ClassVar[str] = "DigestSent"
    recipient: Address
    local_day: date
    message_id: str = Field(min_length=5, max_length=250)
    claim_id: UUID
    sent_at: AwareDatetime
    transport: Literal["smtp", "outbox"]
    destination: ShortText
    attempts: int = Field(ge=1)


class DigestSkipped(DomainEvent):
    """The claimed digest had nothing to report and the recipient wants no note then."""

    event_type: ClassVar[str] = "DigestSkipped"
    recipient: Address
    local_day: date
    claim_id: UUID
    skipped_at: AwareDatetime


class DigestFailed(DomainEvent):
    """The claimed digest could not be delivered.

    Permanent failures (an SMTP 5xx, a refused login) are not retried for that day;
    transient ones (4xx, a refused or dropped connection) are tried again from ``retry_at``.
    """

    event_type: ClassVar[str] = "DigestFailed"
    recipient: Address
    local_day: date
    message_id: str = Field(min_length=5, max_length=250)
    claim_id: UUID
    failed_at: AwareDatetime
    permanent: bool
    error: ShortText = Field(min_length=1)
    smtp_code: int | None = None
    attempts: int = Field(ge=1)
    retry_at: AwareDatetime | None = None


def describe_validation(exc: ValidationError) -> str:
    """The first problem of a validation error, as ``field: message``."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "input"
    return f"{where}: {first['msg']}"


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class EventRegistry:
    """Maps stored (type, version) to the current class, upcasting old payloads on read."""

    def __init__(self) -> None:
        self._types: dict[str, type[DomainEvent]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._retired: dict[str, dict[int, dict[str, Any]]] = {}

    def register(self, cls: type[DomainEvent]) -> type[DomainEvent]:
        """Add an event class (its current version)."""
        self._types[cls.event_type] = cls
        return cls

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator: turn a payload of ``from_version`` into ``from_version + 1``."""

        def decorate(fn: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = fn
            return fn

        return decorate

    def add_old_schema(self, event_type: str, version: int, schema: dict[str, Any]) -> None:
        """Keep the JSON Schema of a superseded version (for events/schemas/)."""
        self._retired.setdefault(event_type, {})[version] = schema

    @property
    def types(self) -> dict[str, type[DomainEvent]]:
        return dict(self._types)

    def old_schemas(self) -> dict[str, dict[int, dict[str, Any]]]:
        return {k: dict(v) for k, v in self._retired.items()}

    def upcast(self, event_type: str, schema_version: int, data: dict[str, Any]) -> dict[str, Any]:
        """The payload brought to the current version of its type."""
        cls = self._types.get(event_type)
        if cls is None:
            raise UnknownEventType(f"unknown event type {event_type!r}")
        if schema_version > cls.schema_version:
            raise UnknownEventType(
                f"{event_type} v{schema_version} is newer than this code (v{cls.schema_version}):"
                " upgrade monitor"
            )
        version = schema_version
        while version < cls.schema_version:
            step = self._upcasters.get((event_type, version))
            if step is None:
                raise UnknownEventType(f"no upcaster for {event_type} v{version}")
            data = step(data)
            version += 1
        return data

    def decode(self, event: RecordedEvent) -> DomainEvent:
        """The typed payload of a stored event, upcast to the current version."""
        cls = self._types.get(event.event_type)
        if cls is None:
            raise UnknownEventType(f"unknown event type {event.event_type!r}")
        data = self.upcast(event.event_type, event.schema_version, event.data)
        return cls.model_validate(data)


REGISTRY = EventRegistry()
for _cls in (
    CommitmentRegistered,
    CommitmentRevised,
    CommitmentRetired,
    CommitmentReinstated,
    EvidenceAccepted,
    EvidenceRetracted,
    StatusAssessed,
    AssessmentCorrected,
    AssessmentWithdrawn,
    NoteAdded,
    DeadlinePassed,
    SourceRegistered,
    SourceRevised,
    SourceRemoved,
    SourceChecked,
    ItemDiscovered,
    ItemRevised,
    ItemAlsoSeen,
    EvidenceProposed,
    ProposalAccepted,
    EvidenceRejected,
    ProposalSnoozed,
    ProposalReopened,
    UserChanged,
    DigestClaimed,
    DigestSent,
    DigestSkipped,
    DigestFailed,
):
    REGISTRY.register(_cls)


def _keep_old_schemas() -> None:
    folder = resources.files("monitor") / "old_schemas"
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".schema.json"):
            event_type, version = name.removesuffix(".schema.json").rsplit(".v", 1)
            schema = json.loads(entry.read_text(encoding="utf-8"))
            for key in ("$schema", "$id"):
                schema.pop(key, None)
            REGISTRY.add_old_schema(event_type, int(version), schema)


_keep_old_schemas()


# v2 added the concept form of match rules (optional: a v1 payload is a valid v2 one).
@REGISTRY.upcaster("CommitmentRegistered", 1)
def _registered_v1(data: dict[str, Any]) -> dict[str, Any]:
    return data


# v2 added the explanation (a v1 proposal has none: its matched terms say what fired).
@REGISTRY.upcaster("EvidenceProposed", 1)
def _proposed_v1(data: dict[str, Any]) -> dict[str, Any]:
    return data


# v2 added also_urls (a v1 acceptance was of one item, told at one URL).
@REGISTRY.upcaster("EvidenceAccepted", 1)
def _accepted_v1(data: dict[str, Any]) -> dict[str, Any]:
    return data


def to_new_event(
    event: DomainEvent, metadata: dict[str, Any] | None = None, event_id: UUID | None = None
) -> NewEvent:
    """Wrap a domain event for the store (a fresh UUID unless one is given)."""
    return NewEvent(
        event_id=event_id or uuid7(),
        event_type=event.event_type,
        schema_version=event.schema_version,
        data=event.model_dump(mode="json"),
        metadata=metadata or {},
    )
