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

from monitor.sources.disclosure import error_class, short_url

if TYPE_CHECKING:
    from monitor.application.commitments import History
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
