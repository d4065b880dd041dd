"""The intake half of the core: sources, polling, the review queue, re-matching.

Reached as ``Monitor.intake``; the CLI, web UI and scheduler call these methods only.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import ValidationError

from monitor import files
from monitor.domain import commitment as commitment_rules
from monitor.domain import review as review_rules
from monitor.domain.catalogue import parse_catalogue
from monitor.domain.check_plan import proposal_for
from monitor.domain.commitment import CommitmentState
from monitor.errors import CommandRejected, MonitorError, NotFound
from monitor.events import (
    REGISTRY,
    CommitmentRegistered,
    DomainEvent,
    EvidenceProposed,
    MatchRules,
    ProposalReopened,
    SourceRegistered,
    commitment_stream,
    describe_validation,
    item_stream,
    proposal_stream,
    source_stream,
    to_new_event,
)
from monitor.matching import Match, MatchableItem, Matcher, RuleReport
from monitor.matching.evaluation import Evaluation, evaluate, load_labelled
from monitor.matching.learning import learned_factors
from monitor.projections import item_queries, overview, proposal_queries, source_queries
from monitor.projections.items import IntakeProjection, ProposalView, SourceView
from monitor.projections.learning import LearningProjection
from monitor.sources import config as source_config
from monitor.sources.identity import derived_id
from monitor.sources.limits import FetchLimits
from monitor.sources.poller import Poller, PollReport, Recorded
from monitor.store.records import RecordedEvent, StreamAppend
from monitor.story_queue import StoryQueue
from monitor.timestamps import format_timestamp, parse_timestamp
from monitor.writes import COMMITMENT, PROPOSAL, SOURCE, Loaded

if TYPE_CHECKING:
    from monitor.application.commitments import Commitments
    from monitor.application.context import Context


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


@dataclass(frozen=True, slots=True)
class OpmlImport:
    """What `sources import` did with an OPML file's feeds."""

    added: list[str]
    #: feeds whose name or URL a source has already
    known: list[str]
    #: outlines that cannot be a source, each with why
    refused: list[str]


class Intake:
    """Sources, polls, proposals: given a context and one peer, the commitments capability
    (the commitments a proposal is about, and commands on them)."""

    def __init__(self, context: Context, commitments: Commitments) -> None:
        self.context = context
        self.commitments = commitments
        self.store = context.store
        self.projection = IntakeProjection(context.store)
        self.learning = LearningProjection(context.store)
        self._matcher: tuple[tuple[Any, ...], Matcher] | None = None
        #: the queue by story, and decisions on whole stories
        self.stories = StoryQueue(self)

    # -- sources --------------------------------------------------------------------------

    def sync_sources(self, path: Path | None = None) -> dict[str, list[str]]:
        """Bring the sources file into the store (CLI and OPML sources are left alone)."""
        source = path or self.context.settings.sources
        if not source.is_file():
            return {}
        body = files.read_text(source, "the sources file")
        rules = self._registered_rules()
        wanted = source_config.parse_sources(body, source.name, rules.get)
        self.projection.catch_up()
        known = {
            v.name: source_config.KnownSource(_spec(v), v.removed, v.version)
            for v in self.sources(include_removed=True)
        }
        planned: dict[str, list[DomainEvent]] = {}

        def decide(loaded: Loaded) -> list[StreamAppend]:
            # the versions come from the journal, read now; the read model only says
            # what is known
            for name in sorted({*known, *(s.name for s in wanted)}):
                state = loaded.state(source_stream(name), SOURCE)
                if name in known:
                    known[name] = replace(known[name], version=state.version, removed=state.removed)
            planned.clear()
            planned.update(source_config.plan_source_sync(wanted, known))
            meta = {"actor": "sources-sync"}
            return [loaded.append(source_stream(n), e, meta) for n, e in planned.items()]

        self.context.writer.run(decide, what="the sources")
        plan = planned
        summary: dict[str, list[str]] = {}
        for name, events in sorted(plan.items()):
            summary.setdefault(events[0].event_type, []).append(name)
        return summary

    def add_source(
        self, url: str, name: str, *, interval: str = "1h", kind: str = "feed", by: str = "cli"
    ) -> SourceView:
        """Register a source by hand (it lives in the database, not in sources.toml)."""
        self.context.require_schema()
        try:
            try:
                seconds = source_config.parse_interval(interval)
            except ValueError as exc:
                raise ValueError(f"interval: {exc}") from exc
            spec = SourceRegistered(
                name=name,
                url=url,
                kind=kind,
                interval_seconds=seconds,
                origin="cli",
            )
        except (ValueError, ValidationError) as exc:
            raise CommandRejected(f"source refused: {_first_error(exc)}") from exc
        if not source_config.NAME_PATTERN.match(name):
            raise CommandRejected("source refused: name: use lowercase letters, digits, hyphens")
        if not source_config.usable_url(url):
            raise CommandRejected("source refused: url: must be an http(s) URL with a valid host")
        self._register([spec], by)
        return self.source(name)

    def import_opml(self, path: Path, *, by: str = "cli") -> OpmlImport:
        """Register every feed of an OPML file whose name and URL are not taken: what was
        added, what was known already, and what could not be a source."""
        self.context.require_schema()
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise MonitorError(f"cannot read {path}: {exc.strerror}") from exc
        refused: list[str] = []
        specs = source_config.parse_opml(body, refused=refused)
        taken = {v.name for v in self.sources(include_removed=True) if not v.removed}
        urls = {v.url for v in self.sources()}
        fresh = [s for s in specs if s.name not in taken and s.url not in urls]
        self._register(fresh, by)
        known = [s.name for s in specs if s not in fresh]
        return OpmlImport([s.name for s in fresh], known, refused)

    def export_opml(self) -> bytes:
        """Every active source as OPML 2.0."""
        return source_config.render_opml([{"name": v.name, "url": v.url} for v in self.sources()])

    def _register(self, specs: list[SourceRegistered], by: str) -> None:
        if not specs:
            return

        def decide(loaded: Loaded) -> list[StreamAppend]:
            appends = []
            for spec in specs:
                stream = source_stream(spec.name)
                state = loaded.state(stream, SOURCE)
                if state.version and not state.removed:  # free: never used, or removed
                    raise CommandRejected(f"a source named {spec.name!r} exists already")
                appends.append(loaded.append(stream, [spec], {"actor": by}))
            return appends

        self.context.writer.run(decide, what="the sources")
        self.projection.catch_up()

    def sources(self, include_removed: bool = False) -> list[SourceView]:
        """Every source with its health."""
        self.context.require_schema()
        self.projection.catch_up()
        return source_queries.sources(self.context.engine, include_removed=include_removed)

    def source(self, name: str) -> SourceView:
        for view in self.sources(include_removed=True):
            if view.name == name:
                return view
        raise NotFound(f"no source named {name!r}: see `monitor sources`")

    # -- polling --------------------------------------------------------------------------

    def due(self, names: list[str] | None = None, everything: bool = False) -> list[SourceView]:
        """The sources to check now: due ones, all of them, or the named ones."""
        active = self.sources()
        if names:
            by_name = {v.name: v for v in active}
            missing = [n for n in names if n not in by_name]
            if missing:
                raise NotFound(
                    f"unknown source {', '.join(map(repr, missing))}: see `monitor sources`"
                )
            return [by_name[n] for n in names]
        if everything:
            return active
        now = format_timestamp(self.context.clock.now())
        return [v for v in active if v.next_check_at is None or v.next_check_at <= now]

    def poll(
        self,
        sources: list[SourceView],
        *,
        on_recorded: Recorded | None = None,
        limits: FetchLimits | None = None,
        chunk: int = 50,
        stop: threading.Event | None = None,
    ) -> PollReport:
        """One round over ``sources``: fetch, parse, record items, proposals and health.

        ``stop`` set mid-round: what is recorded stays, the rest is abandoned untouched
        (those sources are still due, so the next round checks them).
        """
        poller = Poller(
            self.store,
            self.projection,
            self.context.clock,
            self.matcher,
            limits=limits or self.context.settings.fetch_limits,
            chunk=chunk,
        )
        return poller.run(sources, on_recorded, stop=stop)

    def _registrations(self) -> list[CommitmentRegistered]:
        registrations: list[CommitmentRegistered] = []
        for v in self.commitments.list_commitments():
            state = self.commitments.load(v.commitment_id)
            if state.registration is not None:
                registrations.append(state.registration)
        return registrations

    def _registered_rules(self) -> dict[str, MatchRules]:
        """Each recorded commitment's match rules (what news searches are built from)."""
        return {r.commitment_id: r.match for r in self._registrations()}

    def matcher(self) -> Matcher:
        """The catalogue's rules, compiled once per catalogue version, with the weights that
        reviewers' decisions have taught so far."""
        views = self.commitments.list_commitments()
        key = tuple((v.commitment_id, v.version) for v in views)
        if self._matcher is None or self._matcher[0] != key:
            self._matcher = (key, Matcher(self._registrations()))
        factors = learned_factors(self.learning.records())  # the read model caught up
        compiled = self._matcher[1]
        return compiled if factors == compiled.learned else compiled.with_learned(factors)

    # -- review queue ---------------------------------------------------------------------

    def queue(
        self,
        commitment: str | None = None,
        min_score: float = 0.0,
        limit: int = 200,
        offset: int = 0,
    ) -> list[ProposalView]:
        """Proposals waiting for review (snoozed ones once their date has come), best first
        (the read model's query: :func:`monitor.projections.proposal_queries.queue`)."""
        self.context.require_schema()
        self.projection.catch_up()
        now = format_timestamp(self.context.clock.now())
        return proposal_queries.queue(
            self.context.engine,
            now,
            commitment=commitment,
            min_score=min_score,
            limit=limit,
            offset=offset,
        )

    # -- review -------------------------------------------------------------------------

    def waiting_count(self) -> int:
        """How many proposals wait for review (pending, or snoozed until now)."""
        self.context.require_schema()
        self.projection.catch_up()
        return overview.waiting(self.context.engine, self.context.clock.now())

    # -- explaining and evaluating the rules ---------------------------------------------

    def find_item(self, ref: str) -> dict[str, Any]:
        """An item's latest content by its id or a unique prefix of it (at least 6 characters)."""
        self.context.require_schema()
        self.projection.catch_up()
        ref = ref.strip().lower()
        if len(ref) < 6:
            raise CommandRejected("give at least 6 characters of the item id")
        found = item_queries.item_ids_starting(self.context.engine, ref)
        if not found:
            raise NotFound(f"no item {ref!r}: item ids are in `monitor queue --json`")
        if len(found) > 1:
            raise CommandRejected(f"{ref!r} matches several items: give more of the id")
        item: dict[str, Any] = {}
        for row in self.store.read_streams(
            [item_stream(UUID(found[0]))], ("ItemDiscovered", "ItemRevised")
        ):
            item.update(REGISTRY.upcast(row[4], row[5], json.loads(row[6])))
        return item

    def explain(self, ref: str, commitment: str | None = None) -> Explained:
        """Why the current rules (and what review taught) match an item, or do not."""
        item = self.find_item(ref)
        if commitment is not None:
            commitment = self._commitment_id(commitment)
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

    def _commitment_id(self, ref: str) -> str:
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

    def find_proposal(self, ref: str) -> ProposalView:
        """A proposal by its id or a unique prefix of it (at least 6 characters)."""
        self.context.require_schema()
        self.projection.catch_up()
        ref = ref.strip().lower()
        if len(ref) < 6:
            raise CommandRejected("give at least 6 characters of the story or proposal id")
        found = proposal_queries.proposals_starting(self.context.engine, ref)
        if not found:
            raise NotFound(f"no story or proposal {ref!r}: see `monitor queue`")
        if len(found) > 1:
            raise CommandRejected(f"{ref!r} matches several proposals: give more of the id")
        return found[0]

    def review(
        self,
        ref: str,
        action: str,
        *,
        by: str,
        commitments: Sequence[str] = (),
        status: str | None = None,
        rationale: str = "",
        effective_at: datetime | None = None,
        reason: str = "",
        note: str | None = None,
        until: datetime | None = None,
    ) -> list[RecordedEvent]:
        """Accept, reject or snooze a story or one proposal; a second reviewer is told who
        was first.

        ``ref`` names a story (a prefix of its id: the decision applies to every member's
        waiting proposal for each of ``commitments``, which may be left out when the story
        waits on one commitment only) or one proposal (a prefix of its id).
        """
        if action not in ("accept", "reject", "snooze"):
            raise CommandRejected("action must be accept, reject or snooze")
        if action == "snooze" and until is None:
            raise CommandRejected("snooze needs --until DATE")
        story = self.stories.resolve(ref)
        if story is not None:
            return self.stories.review(
                story,
                action,
                by=by,
                commitments=commitments,
                status=status,
                rationale=rationale,
                effective_at=effective_at,
                reason=reason,
                note=note,
                until=until,
            )
        view = self.find_proposal(ref)
        if commitments and view.commitment_id not in commitments:
            raise CommandRejected(
                f"proposal {view.proposal_id[:8]} is about {view.commitment_id}, "
                f"not {', '.join(commitments)}"
            )
        proposal_id = UUID(view.proposal_id)

        def decide(states: list[Any]) -> list[list[DomainEvent]]:
            state, commitment = states
            now = self.context.clock.now()
            if action == "accept":
                on_proposal, on_commitment = review_rules.accept(
                    state,
                    commitment,
                    reviewer=by,
                    now=now,
                    zone=self.context.settings.timezone,
                    status=status,
                    rationale=rationale,
                    effective_at=effective_at,
                )
                return [on_proposal, on_commitment]
            if action == "reject":
                return [review_rules.reject(state, reviewer=by, reason=reason, note=note), []]
            assert until is not None
            return [review_rules.snooze(state, reviewer=by, until=until, now=now), []]

        recorded = self.context.writer.execute_many(
            [
                (proposal_stream(proposal_id), PROPOSAL),
                (commitment_stream(view.commitment_id), COMMITMENT),
            ],
            decide,
            {"actor": by.strip() or "unknown"},
            what=f"proposal {view.proposal_id[:8]}",
        )
        self.projection.catch_up()
        return recorded

    def undo(self, event_id: UUID, *, by: str, rationale: str) -> list[RecordedEvent]:
        """Undo a review decision or an accepted evidence with compensating events.

        Nothing is deleted: accepting is undone by retracting the evidence (and withdrawing an
        assessment that rested on it alone) and reopening the proposal; rejecting and
        snoozing by reopening it, if that decision is still the one in force; an assessment
        by withdrawing it.
        """
        self.context.require_schema()
        if not rationale.strip():
            raise CommandRejected("say why (--rationale)")
        if not by.strip():
            raise CommandRejected("who undoes it is required (--by)")
        target = self.store.read_event(event_id)
        if target is None:
            raise NotFound(f"no event {event_id}: see `monitor show` or the journal")
        data = target.data
        kind = target.event_type
        if kind == "StatusAssessed":
            # Withdrawn, not corrected: the status folds as if it had never been assessed,
            # at every date (a correction "back" would rewrite the history before it).
            return self.commitments.withdraw_assessment(
                data["commitment_id"],
                UUID(data["assessment_id"]),
                reason=f"undo: {rationale}",
                by=by,
            )
        if kind not in (
            "ProposalAccepted",
            "EvidenceAccepted",
            "EvidenceRejected",
            "ProposalSnoozed",
        ):
            raise CommandRejected(
                f"a {kind} cannot be undone: record a correction or a note instead"
            )
        commitment_id = data["commitment_id"]
        evidence_id = UUID(data["evidence_id"]) if data.get("evidence_id") else None
        proposal_ref = UUID(data["proposal_id"]) if data.get("proposal_id") else None
        metadata = {"actor": by.strip(), "undoes": str(event_id)}

        def decide(loaded: Loaded) -> list[StreamAppend]:
            appends = []
            stream = commitment_stream(commitment_id)
            commitment = loaded.state(stream, COMMITMENT)
            retraction = _retraction(commitment, evidence_id, rationale, by) if evidence_id else []
            if retraction:
                # An assessment that rested on this evidence alone goes with it.
                resting = [
                    a.assessment_id
                    for a in commitment.assessments.values()
                    if set(a.evidence_ids) == {evidence_id}
                ]
                withdrawals = [
                    withdrawn
                    for assessment_id in resting
                    for withdrawn in commitment_rules.withdraw_assessment(
                        commitment,
                        assessment_id=assessment_id,
                        reason=f"undo: {rationale}",
                        by=by,
                    )
                ]
                appends.append(loaded.append(stream, [*retraction, *withdrawals], metadata))
            if proposal_ref is not None:
                proposal = proposal_stream(proposal_ref)
                state = loaded.state(proposal, PROPOSAL)
                # Only the decision in force is undone: an old snooze must not reopen a
                # proposal that was accepted since.
                current = state.decision_event_id == event_id or (
                    kind == "EvidenceAccepted"
                    and state.state == "accepted"
                    and state.evidence_id == evidence_id
                )
                if current:
                    reopened = ProposalReopened(
                        proposal_id=proposal_ref,
                        commitment_id=commitment_id,
                        undone_event_id=event_id,
                        rationale=rationale.strip(),
                        reviewer=by.strip(),
                    )
                    appends.append(loaded.append(proposal, [reopened], metadata))
            if evidence_id is not None and proposal_ref is not None:
                # A story accepted as one: the members closed as duplicates of this
                # evidence wait for review again with it.
                appends += self.stories.reopen_duplicates(
                    loaded, proposal_ref, evidence_id, rationale=rationale, by=by,
                    metadata=metadata,
                )  # fmt: skip
            if not appends:
                raise CommandRejected(
                    "nothing to undo: it was undone already, or decided again since"
                )
            return appends

        recorded = self.context.writer.run(decide, what=commitment_id)
        self.projection.catch_up()
        return recorded

    def select_proposals(self, expression: str, limit: int = 10_000) -> list[ProposalView]:
        """Pending proposals matching a filter such as ``commitment=X score<0.3 age>30``.

        Keys: commitment, source, score, age (days since proposed); operators = < <= > >=.
        """
        now = self.context.clock.now()
        tests = [_filter_term(term) for term in expression.split()]
        if not tests:
            raise CommandRejected("an empty filter would select everything: say what to select")
        selected = []
        for proposal in self.queue(limit=limit):
            age = (now - parse_timestamp(proposal.proposed_at)).total_seconds() / 86_400
            values = {
                "commitment": proposal.commitment_id,
                "source": proposal.source,
                "score": proposal.score,
                "age": age,
            }
            if all(test(values) for test in tests):
                selected.append(proposal)
        return selected

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
        self.projection.catch_up()
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
            self.projection.catch_up()
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


_FILTER = re.compile(r"^(commitment|source|score|age)(<=|>=|=|<|>)(.+)$")


def _filter_term(term: str) -> Callable[[dict[str, Any]], bool]:
    match = _FILTER.match(term)
    if not match:
        raise CommandRejected(
            f"filter term {term!r} not understood: use commitment=ID, source=NAME, "
            "score<0.3, age>30 (days)"
        )
    key, op, raw = match.groups()
    if key in ("score", "age"):
        try:
            wanted: Any = float(raw)
        except ValueError as exc:
            raise CommandRejected(f"filter term {term!r}: {raw!r} is not a number") from exc
    else:
        if op != "=":
            raise CommandRejected(f"filter term {term!r}: {key} takes =")
        wanted = raw
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    return lambda values: compare[op](values[key], wanted)


def _retraction(
    commitment: CommitmentState, evidence_id: UUID, rationale: str, by: str
) -> list[DomainEvent]:
    """Retract evidence unless it is retracted already (undo is idempotent)."""
    found = commitment.evidence.get(evidence_id)
    if found is None or found.retracted:
        return []
    return commitment_rules.retract_evidence(
        commitment, evidence_id=evidence_id, reason=f"undo: {rationale}", by=by
    )


def _spec(view: SourceView) -> SourceRegistered:
    return SourceRegistered(
        name=view.name,
        url=view.url,
        kind=view.kind,
        interval_seconds=view.interval_seconds,
        language=view.language,
        note=view.note,
        origin=view.origin,
    )


def _first_error(exc: Exception) -> str:
    return describe_validation(exc) if isinstance(exc, ValidationError) else str(exc)
