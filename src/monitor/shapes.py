"""The JSON shape of each result, one function per result: the command line's ``--json``
and the web API's ``/api/...`` both print these, so a script reads the same fields from
either (tests/test_shapes.py holds them equal).

The queue's shape is made beside its read model and shared the same way:
``monitor.application.stories.story_json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.application.commitments import History
    from monitor.application.report import Link, Report, Scores
    from monitor.domain.commitment import CommitmentState
    from monitor.projections import CommitmentView, SourceView, TimelineView
    from monitor.store.records import RecordedEvent


def commitment_json(view: CommitmentView) -> dict[str, Any]:
    """One row of ``list``: the commitment's read model with its lists decoded."""
    data = view.model_dump()
    data["topics"] = json.loads(view.topics)
    data["parties"] = json.loads(view.parties)
    return data


def source_json(view: SourceView, *, detail: bool = True) -> dict[str, Any]:
    """One row of ``sources``: a source with its health, and the class of its last error.

    Without ``detail`` (anyone on the web but an admin) the URL is its scheme and host
    only and the last error its class: a URL may carry an API key, and an error text names
    the hosts and ports the poller could or could not reach (sources/disclosure.py).
    """
    from monitor.sources.disclosure import error_class, short_url

    data = view.model_dump()
    data["last_error_class"] = error_class(view.last_error, failed=view.last_outcome == "failed")
    if not detail:
        data["url"] = short_url(view.url)
        data["last_error"] = data["last_error_class"]
    return data


def history_json(result: History) -> dict[str, Any]:
    """``history``: the status as of a moment, by effective or recorded time, with the
    assessment in force and the events that led there."""
    a = result.assessment
    return {
        "commitment_id": result.commitment_id,
        "as_of": result.as_of.isoformat(),
        "clock": result.clock,
        "status": result.status.value,
        "assessment": None
        if a is None
        else {
            "assessment_id": str(a.assessment_id),
            "status": a.status.value,
            "effective_at": a.effective_at.isoformat(),
            "assessor": a.assessor,
            "rationale": a.rationale,
            "recorded_at": a.recorded_at.isoformat(),
        },
        "events": [
            {
                "position": e.position,
                "event_type": e.event_type,
                "event_id": str(e.event_id),
                "recorded_at": e.recorded_at.isoformat(),
                "data": e.data,
            }
            for e, _ in result.events
        ],
    }


def recorded_json(events: Iterable[RecordedEvent]) -> dict[str, Any]:
    """What a command recorded (``status set``, ``note add``, ``review`` ...)."""
    return {
        "recorded": [
            {
                "position": e.position,
                "event_id": str(e.event_id),
                "event_type": e.event_type,
                "recorded_at": e.recorded_at.isoformat(),
                "data": e.data,
            }
            for e in events
        ]
    }


def show_record(state: CommitmentState, timeline: Sequence[TimelineView]) -> dict[str, Any]:
    """One commitment as JSON-ready data (`monitor show --json` and the JSON API)."""
    registration = state.registration
    assert registration is not None
    latest = state.latest_assessment()
    return {
        "registration": registration.model_dump(mode="json"),
        "status": state.status().value,
        "status_effective_at": latest.effective_at.isoformat() if latest else None,
        "retired": state.retired,
        "evidence": [
            {
                "evidence_id": str(e.evidence_id),
                "url": e.url,
                "title": e.title,
                "accepted_by": e.accepted_by,
                "retracted": e.retracted,
                "also_urls": list(e.also_urls),
            }
            for e in state.evidence.values()
        ],
        "assessments": [
            {
                "assessment_id": str(a.assessment_id),
                "status": a.status.value,
                "effective_at": a.effective_at.isoformat(),
                "assessor": a.assessor,
                "rationale": a.rationale,
                "corrected": a.corrected,
                "evidence_ids": [str(i) for i in a.evidence_ids],
            }
            for a in state.assessments.values()
        ],
        "timeline": [t.model_dump() for t in timeline],
    }


def _links(links: Sequence[Link]) -> list[dict[str, Any]]:
    return [{"url": link.url, "title": link.title} for link in links]


def _scores(s: Scores) -> dict[str, Any]:
    return {"total": s.total, "scored": s.scored, "average": s.average, "counts": s.counts}


def report_json(report: Report) -> dict[str, Any]:
    """``monitor report --format json`` (docs/report.md): the scorecard as of a date.

    ``head`` is the journal's head it was made from (``monitor verify --head
    POSITION:HASH`` checks it); ``method`` the scale and the score of each status (null:
    not scored); ``changes`` is null without ``--since``; one ``commitments`` row each, with
    its ``history`` of events up to the date; times are ISO 8601 UTC."""
    from monitor.application.report import NOT_IN_THIS_CUT, STATUS_MEANING, score_of

    head = report.head
    return {
        "as_of": report.as_of.isoformat(),
        "day": report.day.isoformat(),
        "clock": report.clock,
        "since": report.since.isoformat() if report.since else None,
        "made_at": report.made_at.isoformat(),
        "head": {"position": head.position, "hash": head.hash, "signature": head.signature},
        "method": {
            "scale": [
                {"status": s.value, "score": score_of(s), "meaning": meaning}
                for s, meaning in STATUS_MEANING.items()
            ],
            "not_in_this_cut": NOT_IN_THIS_CUT,
        },
        "scores": {
            "overall": _scores(report.overall),
            "by_topic": {t: _scores(s) for t, s in report.by_topic.items()},
        },
        "changes": None
        if report.changes is None
        else [
            {
                "commitment_id": c.commitment_id,
                "title": c.title,
                "from": c.before.value,
                "to": c.after.value,
                "effective_at": c.effective_at.isoformat() if c.effective_at else None,
                "rationale": c.rationale,
                "evidence": _links(c.evidence),
            }
            for c in report.changes
        ],
        "commitments": [
            {
                "commitment_id": e.commitment_id,
                "title": e.title,
                "source_words": e.source_words,
                "provenance": e.provenance,
                "source_document": e.source_document,
                "locator": e.locator,
                "source_urls": list(e.source_urls),
                "parties": list(e.parties),
                "topics": list(e.topics),
                "made_on": e.made_on.isoformat(),
                "status": e.status.value,
                "score": e.score,
                "effective_at": e.effective_at.isoformat() if e.effective_at else None,
                "rationale": e.rationale,
                "assessor": e.assessor,
                "evidence": _links(e.evidence),
                "history": [
                    {
                        "position": d.position,
                        "event_type": d.event_type,
                        "recorded_at": d.recorded_at.isoformat(),
                        "effective_at": d.effective_at.isoformat() if d.effective_at else None,
                        "actor": d.actor,
                        "status": d.status,
                    }
                    for d in e.history
                ],
            }
            for e in report.entries
        ],
    }
