"""Deciding what one poll of one source records. Pure: no I/O, no clock of its own.

For each item of a response: a key never seen from this source is a new item (or, when its
canonical URL is known from another source, the same story seen again); a known key whose
content changed from what this source showed last is an edit; anything else is nothing.
New and edited items are matched against the catalogue, and every (commitment, item) pair
is proposed once, ever. The source's check closes the batch.

Event ids are derived from what they record, so a crash mid-round and the re-poll after it
write each fact once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from monitor.events import (
    DomainEvent,
    EvidenceProposed,
    ItemAlsoSeen,
    ItemDiscovered,
    ItemRevised,
    SourceChecked,
    item_stream,
    proposal_stream,
    source_stream,
    to_new_event,
)
from monitor.ids import uuid7
from monitor.matching import Match, MatchableItem, Matcher
from monitor.sources.identity import (
    canonical_url,
    content_hash,
    derived_id,
    item_id_for,
    item_key,
)
from monitor.sources.limits import FetchResult
from monitor.sources.parse import ParsedFeed, ParsedItem
from monitor.sources.schedule import next_check
from monitor.sources.text import clip
from monitor.store.records import StreamAppend

ERROR_LIMIT = 500


@dataclass(frozen=True, slots=True)
class PreparedItem:
    """A parsed item with what can be known of it without the store: who it is, what it is
    about. Computed next to the parse (in a worker process when there are many feeds)."""

    item: ParsedItem
    key: str
    canonical_url: str | None
    content_hash: str
    matches: tuple[Match, ...]


def prepare_items(parsed: ParsedFeed, matcher: Matcher, now: datetime) -> tuple[PreparedItem, ...]:
    """Identity, content hash and catalogue matches of every item (pure)."""
    prepared = []
    for item in parsed.items:
        published_at = item.published_at or now
        prepared.append(
            PreparedItem(
                item,
                item_key(item.guid, item.link, item.title, item.summary),
                canonical_url(item.link) if item.link else None,
                content_hash(item.title, item.summary, item.text, item.link),
                tuple(
                    matcher.match(
                        MatchableItem(item.title, item.text or item.summary, published_at)
                    )
                ),
            )
        )
    return tuple(prepared)


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the store knows of a source before this check."""

    name: str
    url: str
    interval_seconds: int
    version: int
    consecutive_failures: int = 0


@dataclass(slots=True)
class KnownItem:
    """An item already recorded (or recorded earlier in the same write)."""

    item_id: UUID
    origin: str
    content_hash: str
    version: int


@dataclass(slots=True)
class KnownKey:
    """One source's identity for an item, and the content that source last showed."""

    item: KnownItem
    content_hash: str


@dataclass(slots=True)
class Lookup:
    """Seen-state the planner consults and extends as it plans (shared across a write)."""

    keys: dict[tuple[str, str], KnownKey] = field(default_factory=dict)
    by_url: dict[str, KnownItem] = field(default_factory=dict)
    proposed: set[UUID] = field(default_factory=set)


@dataclass(slots=True)
class SourcePlan:
    """The events of one check, by stream, and what they amount to."""

    name: str
    appends: list[StreamAppend]
    outcome: str
    items_in_feed: int = 0
    items_new: int = 0
    items_revised: int = 0
    proposals: int = 0
    error: str | None = None


class _Streams:
    """Events per stream in order, with the version each stream was at before them."""

    def __init__(self, metadata: dict[str, str]) -> None:
        self.metadata = metadata
        self.order: list[str] = []
        self.expected: dict[str, int] = {}
        self.events: dict[str, list[tuple[DomainEvent, UUID]]] = {}

    def add(self, stream: str, expected: int, event: DomainEvent, event_id: UUID) -> None:
        if stream not in self.events:
            self.order.append(stream)
            self.expected[stream] = expected
            self.events[stream] = []
        self.events[stream].append((event, event_id))

    def appends(self) -> list[StreamAppend]:
        return [
            StreamAppend(
                stream,
                tuple(
                    to_new_event(event, self.metadata, event_id)
                    for event, event_id in self.events[stream]
                ),
                self.expected[stream],
            )
            for stream in self.order
        ]


def proposal_id_for(commitment_id: str, item_id: UUID) -> UUID:
    """The one proposal a (commitment, item) pair can ever have."""
    return derived_id("proposal", commitment_id, item_id)


def proposal_for(
    match: Match,
    item_id: UUID,
    *,
    url: str | None,
    title: str,
    source: str,
    published_at: datetime | None,
    matcher_version: str,
) -> EvidenceProposed:
    """The proposal event of one match (the poller's and rematch's alike)."""
    return EvidenceProposed(
        proposal_id=proposal_id_for(match.commitment_id, item_id),
        commitment_id=match.commitment_id,
        item_id=item_id,
        url=url,
        title=title or "(untitled)",
        source=source,
        published_at=published_at,
        score=match.score,
        matched_terms=match.terms,
        matcher_version=matcher_version,
        explanation=tuple(r.event() for r in match.explanation),
    )


def plan_check(
    source: SourceState,
    fetched: FetchResult,
    parsed: ParsedFeed | None,
    prepared: tuple[PreparedItem, ...],
    lookup: Lookup,
    matcher_version: str,
    *,
    now: datetime,
    duration_ms: int,
    rng: random.Random,
) -> SourcePlan:
    """All events one check of ``source`` records (``lookup`` is updated in place).

    ``prepared`` holds ``parsed``'s items with their identity and matches (prepare_items).
    """
    streams = _Streams({"actor": "poller", "source": source.name})
    plan = SourcePlan(source.name, [], fetched.outcome)
    error = fetched.error
    if fetched.outcome == "ok" and parsed is not None:
        if parsed.is_feed:
            plan.items_in_feed = len(parsed.items)
            _plan_items(source, prepared, lookup, matcher_version, streams, plan, now)
            error = parsed.problem  # readable, but something was wrong: shown in health
        else:
            plan.outcome = "failed"
            error = parsed.problem or "not a feed"
    failed = plan.outcome == "failed"
    failures = source.consecutive_failures + 1 if failed else 0
    plan.error = clip(error, ERROR_LIMIT) if error else None
    check = SourceChecked(
        name=source.name,
        outcome=plan.outcome,
        checked_at=now,
        next_check_at=next_check(
            now,
            interval=source.interval_seconds,
            failed=failed,
            failures=failures,
            retry_after=fetched.retry_after,
            max_age=fetched.max_age,
            rng=rng,
        ),
        http_status=fetched.status,
        error=plan.error,
        etag=clip(fetched.etag, ERROR_LIMIT) if fetched.etag else None,
        last_modified=clip(fetched.last_modified, ERROR_LIMIT) if fetched.last_modified else None,
        items_in_feed=plan.items_in_feed,
        items_new=plan.items_new,
        items_revised=plan.items_revised,
        proposals=plan.proposals,
        consecutive_failures=failures,
        duration_ms=duration_ms,
    )
    streams.add(source_stream(source.name), source.version, check, uuid7())
    plan.appends = streams.appends()
    return plan


def _plan_items(
    source: SourceState,
    prepared: tuple[PreparedItem, ...],
    lookup: Lookup,
    matcher_version: str,
    streams: _Streams,
    plan: SourcePlan,
    now: datetime,
) -> None:
    seen_here: set[str] = set()
    for ready in prepared:
        item, key, digest = ready.item, ready.key, ready.content_hash
        if key in seen_here:
            continue  # a duplicate guid inside one response: the first one wins
        seen_here.add(key)
        seen_key = lookup.keys.get((source.name, key))
        if seen_key is not None:
            # An edit is a change from what *this* source showed before: two sources
            # carrying different excerpts of one story do not flip-flop it.
            if seen_key.content_hash != digest:
                known = seen_key.item
                revised = ItemRevised(
                    item_id=known.item_id,
                    source=source.name,
                    key=key,
                    url=item.link,
                    canonical_url=ready.canonical_url,
                    title=item.title,
                    summary=item.summary,
                    text=item.text,
                    published_at=item.published_at,
                    seen_at=now,
                    content_hash=digest,
                )
                streams.add(
                    item_stream(known.item_id),
                    known.version,
                    revised,
                    derived_id("revised", known.item_id, known.version, digest),
                )
                known.version += 1
                known.content_hash = digest
                seen_key.content_hash = digest
                plan.items_revised += 1
                _propose(source, ready, known.item_id, lookup, matcher_version, streams, plan)
            continue
        canonical = ready.canonical_url
        other = lookup.by_url.get(canonical) if canonical else None
        # Another source's copy of the story collapses into it; this source's own items
        # are told apart by their keys (publishers reuse page addresses for new releases).
        reused = other is not None and other.origin == source.name
        if other is not None and not reused:
            seen = ItemAlsoSeen(
                item_id=other.item_id,
                source=source.name,
                key=key,
                url=item.link,
                content_hash=digest,
            )
            streams.add(
                item_stream(other.item_id),
                other.version,
                seen,
                derived_id("seen", other.item_id, source.name, key),
            )
            other.version += 1
            lookup.keys[(source.name, key)] = KnownKey(other, digest)
            continue
        item_id = item_id_for(source.name, key, None if reused else canonical)
        discovered = ItemDiscovered(
            item_id=item_id,
            source=source.name,
            key=key,
            url=item.link,
            canonical_url=canonical,
            title=item.title,
            summary=item.summary,
            text=item.text,
            published_at=item.published_at,
            first_seen_at=now,
            outlet=item.outlet,
            outlet_url=item.outlet_url,
            content_hash=digest,
        )
        streams.add(item_stream(item_id), 0, discovered, derived_id("discovered", item_id))
        known = KnownItem(item_id, source.name, digest, 1)
        lookup.keys[(source.name, key)] = KnownKey(known, digest)
        if canonical and not reused:
            lookup.by_url[canonical] = known
        plan.items_new += 1
        _propose(source, ready, item_id, lookup, matcher_version, streams, plan)


def _propose(
    source: SourceState,
    ready: PreparedItem,
    item_id: UUID,
    lookup: Lookup,
    matcher_version: str,
    streams: _Streams,
    plan: SourcePlan,
) -> None:
    item = ready.item
    for match in ready.matches:
        proposal_id = proposal_id_for(match.commitment_id, item_id)
        if proposal_id in lookup.proposed:
            continue
        lookup.proposed.add(proposal_id)
        proposal = proposal_for(
            match,
            item_id,
            url=item.link,
            title=item.title,
            source=source.name,
            published_at=item.published_at,
            matcher_version=matcher_version,
        )
        streams.add(proposal_stream(proposal_id), 0, proposal, derived_id("proposed", proposal_id))
        plan.proposals += 1
