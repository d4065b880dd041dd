"""The JSON API under ``/api/`` (mirrors the CLI's --json). Reads take a session or a
bearer token; writes a bearer token only, so they need no CSRF token. The bodies are
typed in web/bodies.py; /api/openapi.json documents every route here, every parameter's
form and every error it may answer (web/openapi.py); errors are problem details
(web/problems.py); a POST with an Idempotency-Key is answered once (web/idempotency.py).

No `from __future__ import annotations` here: FastAPI reads the annotations of the routes.
"""

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response

from monitor.application.stories import story_json
from monitor.core import show_record
from monitor.dates import parse_moment
from monitor.domain.catalogue import ID_PATTERN
from monitor.errors import ConcurrencyError, KeptChanging, MonitorError, NotFound, StoreError
from monitor.shapes import commitment_json, history_json, recorded_json, source_json
from monitor.status import Status
from monitor.web.bodies import COMMITMENT, MOMENT, TEXT, NoteBody, ReviewBody, StatusBody
from monitor.web.idempotency import AnsweredOnce, idempotency_key
from monitor.web.openapi import answers
from monitor.web.security import require
from monitor.web.site import Scripted, Viewer, Web

router = APIRouter(route_class=AnsweredOnce)

#: what a POST may answer besides success (and 401, 403, 500, 503)
WRITE_ERRORS = (400, 404, 409, 413, 422)
#: the 200 answer of a list that comes in pages
PAGED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One page, best first. More pages: a `Link` header with "
        '`rel="next"` names the next one (follow it as it is).',
        "headers": {
            "Link": {
                "description": 'The next page: `</api/queue?...&cursor=...>; rel="next"`; '
                "absent on the last page.",
                "schema": {"type": "string"},
            }
        },
    }
}


class Action(StrEnum):
    """What a review decision does (``monitor review REF ACTION``)."""

    accept = "accept"
    reject = "reject"
    snooze = "snooze"


CommitmentId = Annotated[
    str,
    Path(
        pattern=ID_PATTERN.pattern,
        examples=["EPCC23-SEMI-03"],
        description="A commitment's id, such as EPCC23-SEMI-03.",
    ),
]
Ref = Annotated[
    str,
    Path(
        pattern=r"^[0-9a-f-]{6,36}$",
        description="A story's or a proposal's id, or its start (6 characters at least): "
        "lower-case hexadecimal digits and hyphens.",
    ),
]
#: every POST documents the Idempotency-Key header (and checks its form)
ONCE = [Depends(idempotency_key)]


def api_call(fn: Callable[[], Any]) -> Any:
    """``fn()``, its failures as HTTP errors: 404 for what does not exist, 409 for a race
    lost to another writer, 400 for a refusal by the rules. A failure of the store is no
    refusal: the database out of reach is answered 503 by the application's handler
    (``app.unavailable``), anything else is unexpected (500, logged)."""
    try:
        return fn()
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except (KeptChanging, ConcurrencyError) as exc:
        raise HTTPException(409, str(exc)) from exc
    except StoreError:
        raise
    except MonitorError as exc:
        raise HTTPException(400, str(exc)) from exc


@router.get("/api/commitments", responses=answers(404, 422))
def api_commitments(
    web: Web,
    user: Viewer,
    status: Annotated[Status | None, Query(description="Only those with this status.")] = None,
    topic: Annotated[
        str | None, Query(max_length=100, pattern=TEXT, description="Only this topic's.")
    ] = None,
) -> list[dict[str, Any]]:
    """The catalogue with current status (monitor list --json)."""
    require(user, "viewer")
    views = api_call(lambda: web.monitor.list_commitments(status.value if status else None, topic))
    return [commitment_json(v) for v in views]


@router.get("/api/queue", responses={**answers(400, 404, 422), **PAGED})
def api_queue(
    response: Response,
    web: Web,
    user: Viewer,
    commitment: Annotated[
        str | None, Query(pattern=COMMITMENT, description="Only stories about this commitment.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Stories per page.")] = 200,
    cursor: Annotated[
        str | None,
        Query(
            max_length=400,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="Where the page starts: from the previous page's next link.",
        ),
    ] = None,
    page: Annotated[
        int | None,
        Query(ge=1, le=100_000, deprecated=True, description="Use the next link instead."),
    ] = None,
) -> list[dict[str, Any]]:
    """Stories waiting for review, one per story with its members and, per commitment,
    its proposals (monitor queue --json); a page at a time."""
    require(user, "viewer")
    if cursor is not None and page is not None:
        raise HTTPException(400, "give a cursor or a page, not both")
    found = api_call(
        lambda: web.monitor.review.stories.page_after(
            cursor, commitment=commitment, limit=limit, offset=((page or 1) - 1) * limit
        )
    )
    if found.next is not None:
        query = {"commitment": commitment} if commitment else {}
        query |= {"limit": str(limit), "cursor": found.next}
        response.headers["Link"] = f'</api/queue?{urlencode(query)}>; rel="next"'
    return [story_json(row) for row in found.rows]


@router.get("/api/commitments/{commitment_id}", responses=answers(404, 422))
def api_commitment(commitment_id: CommitmentId, web: Web, user: Viewer) -> dict[str, Any]:
    """One commitment: registration, status, evidence, timeline (monitor show --json)."""
    require(user, "viewer")
    state, timeline = api_call(lambda: web.monitor.show(commitment_id))
    return show_record(state, timeline)


@router.get("/api/commitments/{commitment_id}/history", responses=answers(400, 404, 422))
def api_history(
    commitment_id: CommitmentId,
    as_of: Annotated[
        str,
        Query(pattern=MOMENT, description="A date (its end) or a time, in the display zone."),
    ],
    web: Web,
    user: Viewer,
    recorded: Annotated[
        bool, Query(description="By when it was recorded, not when it happened.")
    ] = False,
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


@router.get("/api/counts", responses=answers())
def api_counts(web: Web, user: Viewer) -> dict[str, dict[str, int]]:
    """Commitments by status, and by topic and status (monitor counts --json)."""
    require(user, "viewer")
    counts: dict[str, dict[str, int]] = api_call(web.monitor.counts)
    return counts


@router.get("/api/sources", responses=answers())
def api_sources(web: Web, user: Viewer) -> list[dict[str, Any]]:
    """Sources with their health (monitor sources --json); to all but admins, the URL's
    scheme and host only and each error's class."""
    account = require(user, "viewer")
    detail = account.may("admin")
    return [source_json(v, detail=detail) for v in web.monitor.sources.all()]


@router.post(
    "/api/commitments/{commitment_id}/notes",
    responses=answers(*WRITE_ERRORS),
    dependencies=ONCE,
)
def api_note(
    commitment_id: CommitmentId, web: Web, user: Scripted, payload: NoteBody
) -> dict[str, Any]:
    """Add a note (monitor note add)."""
    author = require(user, "reviewer")
    events = api_call(lambda: web.monitor.add_note(commitment_id, payload.text, by=author.name))
    return recorded_json(events)


@router.post(
    "/api/commitments/{commitment_id}/status",
    responses=answers(*WRITE_ERRORS),
    dependencies=ONCE,
)
def api_status(
    commitment_id: CommitmentId, web: Web, user: Scripted, payload: StatusBody
) -> dict[str, Any]:
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


@router.post("/api/queue/{ref}/{action}", responses=answers(*WRITE_ERRORS), dependencies=ONCE)
def api_review(
    ref: Ref, action: Action, web: Web, user: Scripted, payload: ReviewBody | None = None
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
            action.value,
            by=reviewer.name,
            commitments=tuple(chosen),
            status=body.status.value if body.status else None,
            rationale=body.rationale,
            reason=body.reason,
            until=parse_moment(until, web.zone) if until else None,
        )
    )
    return recorded_json(events)
