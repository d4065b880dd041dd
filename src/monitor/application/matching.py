"""Matching: the catalogue's rules compiled with what review taught, why an item matches
(``monitor match --explain``), how the rules score on a labelled set (``--evaluate``), and
re-running them over every stored item (``monitor rematch``).

A capability of the application layer: given a context, the commitments capability (whose
recorded registrations carry the rules) and the read models it reads (items, learning).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from monitor import files
from monitor.domain.catalogue import parse_catalogue
from monitor.domain.check_plan import proposal_for
from monitor.errors import CommandRejected, NotFound
from monitor.events import (
    REGISTRY,
    CommitmentRegistered,
    EvidenceProposed,
    MatchRules,
    item_stream,
    proposal_stream,
    to_new_event,
)
from monitor.ids import one_by_prefix
from monitor.matching import Match, MatchableItem, Matcher, RuleReport
from monitor.matching.evaluation import Evaluation, evaluate, load_labelled
from monitor.matching.learning import learned_factors
from monitor.projections import item_queries, proposal_queries
from monitor.sources.identity import derived_id
from monitor.store.records import StreamAppend
from monitor.timestamps import parse_timestamp

if TYPE_CHECKING:
    from monitor.application.commitments import Commitments
    from monitor.application.context import Context
    from monitor.projections.items import IntakeProjection
    from monitor.projections.learning import LearningProjection


@dataclass(frozen=True, slots=True)
class Explained:
    """An item, what the rules propose for it, and every rule's report."""

    item: dict[str, Any]
    matches: list[Match]
    rules: list[RuleReport]
    matcher_version: str


@dataclass(frozen=True, slots=True)
class Dropped:
    """A proposal waiting for review that the current rules would no longer make."""

    proposal_id: str
    commitment_id: str
    title: str
    score: float


#: how many new and dropped pairs a rematch keeps to show (it counts them all)
REMATCH_SAMPLE = 500


@dataclass(slots=True)
class Rematch:
    """What the current rules would propose that no proposal covers yet, and would drop.

    ``new`` and ``dropped`` hold the first :data:`REMATCH_SAMPLE` of each, so that memory
    stays bounded however many items are stored; the counts are complete.
    """

    matcher_version: str
    items: int
    new: list[EvidenceProposed]
    dropped: list[Dropped] = field(default_factory=list)
    new_count: int = 0
    dropped_count: int = 0


class Matching:
    """The rules and what they find."""

    def __init__(
        self,
        context: Context,
        commitments: Commitments,
        items: IntakeProjection,
        learning: LearningProjection,
    ) -> None:
        self.context = context
        self.commitments = commitments
        self.store = context.store
        self.items = items
        self.learning = learning
        self._matcher: tuple[tuple[Any, ...], Matcher] | None = None

    def registrations(self) -> list[CommitmentRegistered]:
        registrations: list[CommitmentRegistered] = []
        for v in self.commitments.list_commitments():
            state = self.commitments.load(v.commitment_id)
            if state.registration is not None:
                registrations.append(state.registration)
        return registrations

    def registered_rules(self) -> dict[str, MatchRules]:
        """Each recorded commitment's match rules (what news searches are built from)."""
        return {r.commitment_id: r.match for r in self.registrations()}

    def matcher(self) -> Matcher:
        """The catalogue's rules, compiled once per catalogue version, with the weights that
        reviewers' decisions have taught so far."""
        views = self.commitments.list_commitments()
        key = tuple((v.commitment_id, v.version) for v in views)
        if self._matcher is None or self._matcher[0] != key:
            self._matcher = (key, Matcher(self.registrations()))
        factors = learned_factors(self.learning.records())  # the read model caught up
        compiled = self._matcher[1]
        return compiled if factors == compiled.learned else compiled.with_learned(factors)

    def find_item(self, ref: str) -> dict[str, Any]:
        """An item's latest content by its id or a unique prefix of it (at least 6 characters)."""
        self.context.require_schema()
        self.items.catch_up()
        item_id = one_by_prefix(
            ref,
            "item",
            lambda prefix: item_queries.item_ids_starting(self.context.engine, prefix),
            where="item ids are in `monitor queue --json`",
            minimum=6,
        )
        item: dict[str, Any] = {}
        for row in self.store.read_streams(
            [item_stream(UUID(item_id))], ("ItemDiscovered", "ItemRevised")
        ):
            item.update(REGISTRY.upcast(row[4], row[5], json.loads(row[6])))
        return item

    def explain(self, ref: str, commitment: str | None = None) -> Explained:
        """Why the current rules (and what review taught) match an item, or do not."""
        item = self.find_item(ref)
        if commitment is not None:
            commitment = self.commitment_id(commitment)
        when = item.get("published_at") or item.get("first_seen_at")
        matchable = MatchableItem(
            item["title"],
            item.get("text") or item.get("summary", ""),
            parse_timestamp(when) if when else None,
        )
        matcher = self.matcher()
        matches = [
            m
            for m in matcher.match(matchable)
            if commitment is None or m.commitment_id == commitment
        ]
        return Explained(item, matches, matcher.explain(matchable, commitment), matcher.version)

    def commitment_id(self, ref: str) -> str:
        """A commitment id from the id, or a unique part of it ("SEMI-03")."""
        wanted = ref.strip().upper()
        known = [v.commitment_id for v in self.commitments.list_commitments()]
        if wanted in known:
            return wanted
        found = [c for c in known if c.startswith(wanted) or c.endswith(wanted)]
        if len(found) == 1:
            return found[0]
        if not found:
            raise NotFound(f"no commitment {ref!r}: see `monitor list`")
        raise CommandRejected(f"{ref!r} matches {', '.join(found)}: give more of the id")

    def evaluate(self, paths: list[Path]) -> Evaluation:
        """The catalogue file's rules scored on a labelled set of real items."""
        source = self.context.settings.catalogue
        parsed = parse_catalogue(files.read_text(source, "the catalogue"), str(source))
        return evaluate(load_labelled(paths), Matcher(parsed.commitments))

    def rematch(
        self,
        *,
        dry_run: bool,
        progress: Callable[[int], None] | None = None,
        page: int = 500,
    ) -> Rematch:
        """Run the current rules over every stored item; propose what is newly matched.

        Streams: items are read a page at a time (by id), so memory stays bounded however
        many are stored, and each page's new proposals are written before the next is read
        (a crash loses nothing: a second run proposes only what is still missing). Waiting
        proposals the rules no longer make are reported as dropped; they stay in the queue
        for a person to reject.
        """
        matcher = self.matcher()
        self.items.catch_up()
        result = Rematch(matcher.version, 0, [])
        after = ""
        while True:
            with self.store.read_transaction() as conn:
                ids = item_queries.item_ids_after(conn, after, page)
                if not ids:
                    break
                existing = proposal_queries.of_items(conn, ids)
            proposed = {UUID(row.proposal_id) for row in existing}
            found = self._rematch_page(matcher, ids, proposed)
            new_here = [p for p in found if p.proposal_id not in proposed]
            matched = {(str(p.item_id), p.commitment_id) for p in found}
            dropped = [
                Dropped(row.proposal_id, row.commitment_id, row.title, row.score)
                for row in existing
                if row.state == "pending" and (row.item_id, row.commitment_id) not in matched
            ]
            if not dry_run and new_here:
                self.store.append_batch(
                    [
                        StreamAppend(
                            proposal_stream(p.proposal_id),
                            (
                                to_new_event(
                                    p, {"actor": "rematch"}, derived_id("proposed", p.proposal_id)
                                ),
                            ),
                            0,
                        )
                        for p in new_here
                    ]
                )
            room = REMATCH_SAMPLE - len(result.new)
            result.new.extend(new_here[: max(room, 0)])
            result.new_count += len(new_here)
            room = REMATCH_SAMPLE - len(result.dropped)
            result.dropped.extend(dropped[: max(room, 0)])
            result.dropped_count += len(dropped)
            result.items += len(ids)
            after = ids[-1]
            if progress:
                progress(result.items)
        if not dry_run and result.new_count:
            self.items.catch_up()
        return result

    def _rematch_page(
        self, matcher: Matcher, ids: list[str], proposed: set[UUID]
    ) -> list[EvidenceProposed]:
        """Every proposal the rules make for these items (new or already recorded)."""
        latest: dict[str, dict[str, Any]] = {}
        rows = self.store.read_streams(
            [item_stream(UUID(i)) for i in ids], ("ItemDiscovered", "ItemRevised")
        )
        for row in rows:
            data = REGISTRY.upcast(row[4], row[5], json.loads(row[6]))
            latest[data["item_id"]] = {**latest.get(data["item_id"], {}), **data}
        out: list[EvidenceProposed] = []
        for item in latest.values():
            when = item.get("published_at") or item.get("first_seen_at")
            published_at = parse_timestamp(when) if when else None
            matchable = MatchableItem(
                item["title"], item.get("text") or item.get("summary", ""), published_at
            )
            for match in matcher.match(matchable):
                out.append(
                    proposal_for(
                        match,
                        UUID(item["item_id"]),
                        url=item.get("url"),
                        title=item["title"],
                        source=item["source"],
                        published_at=item.get("published_at"),
                        matcher_version=matcher.version,
                    )
                )
        return out
