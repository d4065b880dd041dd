"""The scorecard (issue 15): every active commitment as of a date, scored, with the journal
head it was made from, so that anyone can check it with ``monitor verify --head``.

:class:`Reports` builds a :class:`Report` (reached as ``Monitor.report``); the formats are
drawn from it: JSON by :func:`monitor.shapes.report_json`, Markdown and CSV here
(:func:`markdown`, :func:`csv_text`), HTML by the web's template (``web/report.py``), which
reuses the dashboard's status chart.

Two clocks, as ``monitor history``: ``effective`` (the status in effect on the date, as
known now: a later correction counts) or ``recorded`` (what monitor showed on that date:
only what had been recorded by then).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING

from monitor.errors import CommandRejected
from monitor.projections import overview
from monitor.status import Status
from monitor.timestamps import format_timestamp

if TYPE_CHECKING:
    from uuid import UUID

    from monitor.application.commitments import Commitments
    from monitor.domain.commitment import CommitmentState, Evidence
    from monitor.events import DomainEvent
    from monitor.store.heads import Head
    from monitor.store.records import RecordedEvent

#: the G7 Research Group's mapping: full compliance +1, partial or work in progress 0, no
#: compliance -1. The statuses not named here are not scored (see STATUS_MEANING).
SCORES: dict[Status, int] = {
    Status.FULFILLED: 1,
    Status.PARTIALLY_FULFILLED: 0,
    Status.IN_PROGRESS: 0,
    Status.NOT_FULFILLED: -1,
}

#: the status scale as the method section prints it, with why a status is not scored
STATUS_MEANING: dict[Status, str] = {
    Status.NOT_YET_ASSESSED: "no assessment yet; not scored (nothing to score)",
    Status.IN_PROGRESS: "work towards it is under way; scored 0",
    Status.STALLED: (
        "work started and stopped; not scored (the G7 scale has no such step: 0 would count "
        "it as progress, -1 would judge it failed before its time)"
    ),
    Status.FULFILLED: "done as promised; scored +1",
    Status.PARTIALLY_FULFILLED: "done in part; scored 0",
    Status.NOT_FULFILLED: "not done; scored -1",
    Status.SUPERSEDED: "replaced by a later commitment; not scored (judged under the new one)",
    Status.WITHDRAWN: "given up openly by its makers; not scored",
}

#: what the first cut leaves out, printed in the method section
NOT_IN_THIS_CUT = (
    "Scores are per commitment, overall and per topic; not per party: per-party assessments "
    "are not recorded yet, so a party's share of a joint commitment cannot be scored."
)


def score_of(status: Status) -> int | None:
    """A status's score, or None when it is not scored."""
    return SCORES.get(status)


@dataclass(frozen=True, slots=True)
class Link:
    """One piece of evidence that was live on the date."""

    url: str
    title: str | None


@dataclass(frozen=True, slots=True)
class Dated:
    """One event of a commitment's history up to the date."""

    position: int
    event_type: str
    recorded_at: datetime
    effective_at: datetime | None
    actor: str | None
    status: str | None


@dataclass(frozen=True, slots=True)
class Entry:
    """One commitment as of the date."""

    commitment_id: str
    title: str
    source_words: str
    provenance: str
    source_document: str
    locator: str
    source_urls: tuple[str, ...]
    parties: tuple[str, ...]
    topics: tuple[str, ...]
    made_on: date
    status: Status
    effective_at: datetime | None
    rationale: str | None
    assessor: str | None
    evidence: tuple[Link, ...]
    history: tuple[Dated, ...]

    @property
    def score(self) -> int | None:
        return score_of(self.status)


@dataclass(frozen=True, slots=True)
class Change:
    """A commitment whose status moved between ``since`` and the date, and why."""

    commitment_id: str
    title: str
    before: Status
    after: Status
    effective_at: datetime | None
    rationale: str | None
    evidence: tuple[Link, ...]


@dataclass(frozen=True, slots=True)
class Scores:
    """Counts by status, and the average score of those scored."""

    counts: dict[str, int]
    scored: int
    total: int
    average: float | None


@dataclass(frozen=True, slots=True)
class Report:
    """The scorecard as of a date, made from one journal head."""

    as_of: datetime
    day: date
    clock: str
    since: datetime | None
    made_at: datetime
    zone: tzinfo
    head: Head
    entries: list[Entry]
    overall: Scores
    by_topic: dict[str, Scores]
    changes: list[Change] | None
    chart: list[overview.ChartPoint] = field(default_factory=list)


def scores(statuses: list[Status]) -> Scores:
    """The counts by status (in the scale's order) and the average of the scored ones."""
    counts = {s.value: n for s in Status if (n := statuses.count(s))}
    scored = [v for s in statuses if (v := score_of(s)) is not None]
    average = round(sum(scored) / len(scored), 3) if scored else None
    return Scores(counts, len(scored), len(statuses), average)


class Reports:
    """Builds reports from the commitments' streams, cut at the journal's head."""

    def __init__(
        self,
        commitments: Commitments,
        head: Callable[[], Head],
        zone: Callable[[], tzinfo],
    ) -> None:
        self.commitments = commitments
        self.head = head
        self.zone = zone

    def build(
        self, as_of: datetime, *, clock: str = "effective", since: datetime | None = None
    ) -> Report:
        """The report as of ``as_of`` by ``clock``; with ``since``, what moved since then."""
        from monitor.domain.commitment import context_of, fold

        if clock not in ("effective", "recorded"):
            raise CommandRejected("clock must be 'effective' or 'recorded'")
        if since is not None and since >= as_of:
            raise CommandRejected("--since must come before --as-of")
        zone = self.zone()
        head = self.head()  # first: every event read below is cut at it
        ids = [v.commitment_id for v in self.commitments.list_commitments(include_retired=True)]
        entries: list[Entry] = []
        changes: list[Change] = []
        assessed: list[tuple[str, str, str, int]] = []
        for cid in ids:
            found = self.commitments.history(cid, as_of, clock)
            events = [(e, d) for e, d in found.events if e.position <= head.position]
            state = fold(cid, ((d, context_of(e)) for e, d in events))
            if not state.exists or state.retired or state.made_on > as_of.astimezone(zone).date():
                continue
            # evidence live on the date: accepted by then and not retracted (by then, with
            # the recorded clock; at all, with the effective one: a retraction discredits);
            # with the effective clock, also what the status in force rests on, as known now
            then = fold(cid, ((d, context_of(e)) for e, d in events if e.recorded_at <= as_of))
            live = {e.evidence_id: e for e in then.live_evidence()}
            in_force = state.latest_assessment(as_of)
            cited = in_force.evidence_ids if in_force else ()
            if clock == "effective":
                live = {k: e for k, e in live.items() if not state.evidence[k].retracted}
                for k in cited:
                    if k in state.evidence and not state.evidence[k].retracted:
                        live.setdefault(k, state.evidence[k])
            entry = _entry(state, as_of, live, events)
            entries.append(entry)
            assessed += [
                (cid, format_timestamp(a.effective_at), a.status.value, a.position)
                for a in state.assessments.values()
            ]
            if since is not None:
                before = state.latest_assessment(since)
                if clock == "recorded":
                    earlier = fold(
                        cid, ((d, context_of(e)) for e, d in events if e.recorded_at <= since)
                    )
                    before = earlier.latest_assessment(since)
                old = before.status if before else Status.NOT_YET_ASSESSED
                if old != entry.status:
                    changes.append(
                        Change(
                            cid,
                            entry.title,
                            old,
                            entry.status,
                            entry.effective_at,
                            entry.rationale,
                            tuple(_link(live[i]) for i in cited if i in live),
                        )
                    )
        topics: dict[str, list[Status]] = {}
        for entry in entries:
            for topic in entry.topics:
                topics.setdefault(topic, []).append(entry.status)
        assessed.sort(key=lambda a: (a[1], a[3]))
        chart = overview.statuses_over_time(
            [(e.commitment_id, e.made_on.isoformat()) for e in entries],
            [(c, at, s) for c, at, s, _ in assessed],
            as_of.astimezone(zone).date(),
            zone,
        )
        return Report(
            as_of=as_of,
            day=as_of.astimezone(zone).date(),
            clock=clock,
            since=since,
            made_at=self.commitments.clock.now(),
            zone=zone,
            head=head,
            entries=entries,
            overall=scores([e.status for e in entries]),
            by_topic={t: scores(s) for t, s in sorted(topics.items())},
            changes=changes if since is not None else None,
            chart=chart,
        )


def _link(evidence: Evidence) -> Link:
    return Link(evidence.url, evidence.title)


def _entry(
    state: CommitmentState,
    as_of: datetime,
    live: dict[UUID, Evidence],
    events: list[tuple[RecordedEvent, DomainEvent]],
) -> Entry:
    reg = state.registration
    assert reg is not None
    a = state.latest_assessment(as_of)
    history = []
    for e, d in events:
        effective = getattr(d, "effective_at", None)
        if (effective or e.recorded_at) > as_of:
            continue  # took effect after the date (known now, with the effective clock)
        status = getattr(d, "status", None)
        history.append(
            Dated(
                e.position,
                e.event_type,
                e.recorded_at,
                effective,
                e.metadata.get("actor"),
                str(status.value) if isinstance(status, Status) else None,
            )
        )
    return Entry(
        commitment_id=reg.commitment_id,
        title=reg.title,
        source_words=reg.source_words,
        provenance=str(reg.provenance),
        source_document=reg.source_document,
        locator=reg.locator,
        source_urls=tuple(str(u) for u in reg.source_urls),
        parties=tuple(reg.parties),
        topics=tuple(reg.topics),
        made_on=reg.made_on,
        status=a.status if a else Status.NOT_YET_ASSESSED,
        effective_at=a.effective_at if a else None,
        rationale=a.rationale if a else None,
        assessor=a.assessor if a else None,
        evidence=tuple(_link(e) for e in live.values()),
        history=tuple(history),
    )


# -- the text formats ------------------------------------------------------------------------

CSV_FIELDS = (
    "id", "title", "topics", "status", "effective_date", "score", "rationale", "evidence_urls",
)  # fmt: skip


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run: one that opens like a formula is quoted."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_text(report: Report) -> str:
    """One row per commitment (``CSV_FIELDS``), dates in the report's zone."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for e in report.entries:
        writer.writerow(
            [
                e.commitment_id,
                _cell(e.title),
                " ".join(e.topics),
                e.status.value,
                _day(e.effective_at, report),
                "" if e.score is None else str(e.score),
                _cell(e.rationale or ""),
                " ".join(_cell(link.url) for link in e.evidence),
            ]
        )
    return buffer.getvalue()


def _day(moment: datetime | None, report: Report) -> str:
    return moment.astimezone(report.zone).date().isoformat() if moment else ""


def _md(text: str) -> str:
    """Feed or user text as Markdown shows it: no HTML, no markup, one line."""
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for c in "\\`*_[]|#":
        out = out.replace(c, "\\" + c)
    return " ".join(out.split())


def _average(s: Scores) -> str:
    return "n/a" if s.average is None else f"{s.average:+.2f}"


def method_lines() -> list[str]:
    """The method section, as plain lines (Markdown list items)."""
    lines = [f"- `{s.value}`: {STATUS_MEANING[s]}" for s in Status]
    lines += [
        "",
        "The average is the mean of the scored commitments' scores (from -1 to +1); the "
        "commitments not scored are counted, not averaged.",
        "",
        NOT_IN_THIS_CUT,
    ]
    return lines


def markdown(report: Report) -> str:
    """The report as Markdown."""
    clock = (
        "as monitor recorded it on that date"
        if report.clock == "recorded"
        else "in effect on that date, as known now"
    )
    head = report.head
    lines = [
        f"# Scorecard as of {report.day.isoformat()}",
        "",
        f"Status {clock}. Made {report.made_at.isoformat()} from the journal's head: "
        f"position {head.position}, hash `{head.hash}`.",
        "",
        f"Check it: `monitor verify --head {head}`",
        "",
        *([f"Signature (Ed25519): `{head.signature}`", ""] if head.signature else []),
        "## Scores",
        "",
        "| group | commitments | scored | average | by status |",
        "|---|---|---|---|---|",
    ]
    groups = [("all", report.overall), *report.by_topic.items()]
    for name, s in groups:
        by = ", ".join(f"{k} {n}" for k, n in s.counts.items())
        lines.append(f"| {_md(name)} | {s.total} | {s.scored} | {_average(s)} | {by} |")
    if report.changes is not None:
        lines += ["", f"## Changes since {_day(report.since, report)}", ""]
        if not report.changes:
            lines.append("No status moved.")
        for c in report.changes:
            cited = ", ".join(f"<{_md(link.url)}>" for link in c.evidence) or "no evidence"
            lines.append(
                f"- **{c.commitment_id}** {_md(c.title)}: {c.before.value} → {c.after.value}"
                f" ({_day(c.effective_at, report)}); {_md(c.rationale or '')}; evidence: {cited}"
            )
    lines += ["", "## Commitments", ""]
    for e in report.entries:
        score = "not scored" if e.score is None else f"score {e.score:+d}"
        lines += [
            f"### {e.commitment_id}: {_md(e.title)}",
            "",
            f"- status: **{e.status.value}** ({score})"
            + (f", effective {_day(e.effective_at, report)}" if e.effective_at else ""),
            f"- source words ({_md(e.provenance)}): “{_md(e.source_words)}”",
            f"- from: {_md(e.source_document)}; {_md(e.locator)}",
            f"- topics: {_md(', '.join(e.topics))}; parties: {_md(', '.join(e.parties))}",
        ]
        if e.rationale is not None:
            lines.append(f"- rationale ({_md(e.assessor or '')}): {_md(e.rationale)}")
        for link in e.evidence:
            lines.append(f"- evidence: {_md(link.title or link.url)} <{_md(link.url)}>")
        if e.history:
            lines.append("- history up to the date:")
        for d in e.history:
            when = _day(d.effective_at or d.recorded_at, report)
            what = d.event_type + (f" {d.status}" if d.status else "")
            lines.append(f"  - {when} #{d.position} {what}")
        lines.append("")
    lines += ["## Method", "", *method_lines(), ""]
    return "\n".join(lines)
