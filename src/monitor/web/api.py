"""The JSON API under ``/api/`` (mirrors the CLI's --json). Reads take a session or a
bearer token; writes a bearer token only, so they need no CSRF token. The bodies are
typed in web/bodies.py; /api/openapi.json documents every route here.

No `from __future__ import annotations` here: FastAPI reads the annotations of the routes.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from monitor.application.stories import story_json
from monitor.core import show_record
from monitor.dates import parse_moment
from monitor.errors import MonitorError, NotFound
from monitor.shapes import commitment_json, history_json, recorded_json, source_json
from monitor.web.bodies import NoteBody, ReviewBody, StatusBody
from monitor.web.security import require
from monitor.web.site import Scripted, Viewer, Web

router = APIRouter()


def api_call(fn: Callable[[], Any]) -> Any:
    """``fn()``, its refusals as HTTP errors: 404 for what does not exist, else 400."""
    try:
        return fn()
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except MonitorError as exc:
        raise HTTPException(400, str(exc)) from exc


@router.get("/api/commitments")
def api_commitments(
    web: Web, user: Viewer, status: str | None = None, topic: str | None = None
) -> list[dict[str, Any]]:
    """The catalogue with current status (monitor list --json)."""
    require(user, "viewer")
    views = api_call(lambda: web.monitor.list_commitments(status, topic))
    return [commitment_json(v) for v in views]


@router.get("/api/queue")
def api_queue(
    web: Web,
    user: Viewer,
    commitment: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> list[dict[str, Any]]:
    """Stories waiting for review, one per story with its members and, per commitment,
    its proposals (monitor queue --json)."""
    require(user, "viewer")
    rows = api_call(
        lambda: web.monitor.review.stories.page(
            commitment=commitment, limit=limit, offset=(page - 1) * limit
        )
    )
    return [story_json(row) for row in rows]


@router.get("/api/commitments/{commitment_id}")
def api_commitment(commitment_id: str, web: Web, user: Viewer) -> dict[str, Any]:
    """One commitment: registration, status, evidence, timeline (monitor show --json)."""
    require(user, "viewer")
    state, timeline = api_call(lambda: web.monitor.show(commitment_id))
    return show_record(state, timeline)


@router.get("/api/commitments/{commitment_id}/history")
def api_history(
    commitment_id: str, as_of: str, web: Web, user: Viewer, recorded: bool = False
) -> dict[str, Any]:
    """Status as of a date, by effective or recorded time (monitor history --json)."""
    require(user, "viewer")
    result = api_call(
        lambda: web.monitor.history(
            commitment_id,
            parse_moment(as_of, web.zone, end_of_day=True),
            "recorded" if recorded else "effective",
        )
    )
    return history_json(result)


@router.get("/api/counts")
def api_counts(web: Web, user: Viewer) -> dict[str, dict[str, int]]:
    """Commitments by status, and by topic and status (monitor counts --json)."""
    require(user, "viewer")
    counts: dict[str, dict[str, int]] = web.monitor.counts()
    return counts


@router.get("/api/sources")
def api_sources(web: Web, user: Viewer) -> list[dict[str, Any]]:
    """Sources with their health (monitor sources --json); to all but admins, the URL's
    scheme and host only and each error's class."""
    account = require(user, "viewer")
    detail = account.may("admin")
    return [source_json(v, detail=detail) for v in web.monitor.sources.all()]


@router.post("/api/commitments/{commitment_id}/notes")
def api_note(commitment_id: str, web: Web, user: Scripted, payload: NoteBody) -> dict[str, Any]:
    """Add a note (monitor note add)."""
    author = require(user, "reviewer")
    events = api_call(lambda: web.monitor.add_note(commitment_id, payload.text, by=author.name))
    return recorded_json(events)


@router.post("/api/commitments/{commitment_id}/status")
def api_status(commitment_id: str, web: Web, user: Scripted, payload: StatusBody) -> dict[str, Any]:
    """Assess a status with rationale, evidence and effective date (monitor status set)."""
    assessor = require(user, "reviewer")
    effective = payload.effective
    events = api_call(
        lambda: web.monitor.set_status(
            commitment_id,
            payload.status.value,
            rationale=payload.rationale,
            by=assessor.name,
            effective_at=(
                parse_moment(effective, web.zone) if effective else web.monitor.clock.now()
            ),
            evidence=payload.evidence,
        )
    )
    return recorded_json(events)


@router.post("/api/queue/{ref}/{action}")
def api_review(
    ref: str, action: str, web: Web, user: Scripted, payload: ReviewBody | None = None
) -> dict[str, Any]:
    """Accept, reject or snooze a story (its id; ``commitment``: one id or a list, when
    the story waits on several) or a proposal (bearer token only; no cookies, so no
    CSRF)."""
    reviewer = require(user, "reviewer")
    body = payload or ReviewBody()
    chosen = [body.commitment] if isinstance(body.commitment, str) else body.commitment or []
    until = body.until
    events = api_call(
        lambda: web.monitor.review.decide(
            ref,
            action,
            by=reviewer.name,
            commitments=tuple(chosen),
            status=body.status.value if body.status else None,
            rationale=body.rationale,
            reason=body.reason,
            until=parse_moment(until, web.zone) if until else None,
        )
    )
    return recorded_json(events)
