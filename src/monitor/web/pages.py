"""The HTML pages: dashboard, commitment, review queue (and its form), audit log, sources
and digests. Each handler checks the role, asks the core (Monitor) and renders a template.

No `from __future__ import annotations` here: FastAPI reads the annotations of the routes.
"""

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from monitor.application.accounts import Account
from monitor.dates import local, local_date, parse_moment
from monitor.errors import MonitorError, NotFound
from monitor.events import REGISTRY
from monitor.web.security import check_csrf, require
from monitor.web.site import Site, Viewer, Web

#: what the queue page may say after a review (``?notice=``): these words only
NOTICES = {
    "accepted": "Accepted: the evidence is recorded on the commitment.",
    "rejected": "Rejected.",
    "snoozed": "Snoozed: it comes back on its date.",
}
#: rows per page of the dashboard's table and of the review queue
PAGE = 50

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def dashboard(
    request: Request,
    web: Web,
    user: Viewer,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    viewer = require(user, "viewer")
    figures = web.monitor.overview(page, PAGE)
    return web.page(
        request,
        "dashboard.html",
        viewer,
        o=figures,
        total=max(1, figures.total),
        chart_svg=web.chart.svg(figures.chart),
    )


@router.get("/commitments/{commitment_id}", response_class=HTMLResponse, include_in_schema=False)
def commitment(
    request: Request, web: Web, commitment_id: str, user: Viewer, as_of: str | None = None
) -> HTMLResponse:
    viewer = require(user, "viewer")
    zone = web.zone
    try:
        state, timeline = web.monitor.show(commitment_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    history = None
    if as_of:
        try:
            history = web.monitor.history(commitment_id, parse_moment(as_of, zone, end_of_day=True))
        except MonitorError as exc:
            raise HTTPException(400, str(exc)) from exc
    return web.page(
        request,
        "commitment.html",
        viewer,
        state=state,
        timeline=timeline,
        history=history,
        as_of=as_of or "",
        registration=state.registration,
        latest=state.latest_assessment(),
        local_dt=lambda d: local(d, zone),
        local_day=lambda d: local_date(d, zone),
    )


def queue_page(
    request: Request,
    web: Site,
    user: Account,
    commitment: str | None,
    number: int,
    notice: str | None,
    status_code: int = 200,
) -> HTMLResponse:
    """Page ``number`` of the review queue (of one commitment, or all), with a notice."""
    # One more than a page tells whether a next page exists.
    stories = web.monitor.review.stories.page(
        commitment=commitment, limit=PAGE + 1, offset=(number - 1) * PAGE
    )
    return web.page(
        request,
        "queue.html",
        user,
        stories=stories[:PAGE],
        notice=notice,
        page_number=number,
        more=len(stories) > PAGE,
        commitment=commitment or "",
        today=web.monitor.clock.now().astimezone(web.zone).date().isoformat(),
        status_code=status_code,
    )


@router.get("/queue", response_class=HTMLResponse, include_in_schema=False)
def queue(
    request: Request,
    web: Web,
    user: Viewer,
    commitment: str | None = None,
    notice: str | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    viewer = require(user, "viewer")
    # Only known notices: the query string must not put words on the page.
    return queue_page(request, web, viewer, commitment, page, NOTICES.get(notice or ""))


@router.post("/queue/{ref}", include_in_schema=False)
def review(
    request: Request,
    web: Web,
    ref: str,
    user: Viewer,
    action: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
    commitment: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
    rationale: Annotated[str, Form()] = "",
    effective: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "other",
    until: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    reviewer = require(user, "reviewer")
    zone = web.zone
    # One form per row: the button pressed names the action. "accept-status" is the
    # accept-and-set-status button; a plain accept ignores the status fields.
    verb = "accept" if action == "accept-status" else action
    try:
        if action == "accept-status" and not status:
            raise MonitorError("choose a status to accept and set it")
        # ``ref``: a story (the form names the commitment) or a single proposal.
        web.monitor.review.decide(
            ref,
            verb,
            by=reviewer.name,
            commitments=(commitment,) if commitment else (),
            status=(status or None) if action == "accept-status" else None,
            rationale=rationale,
            effective_at=parse_moment(effective, zone) if effective else None,
            reason=reason,
            until=parse_moment(until, zone) if until else None,
        )
    except MonitorError as exc:
        return queue_page(request, web, reviewer, None, 1, str(exc))
    return RedirectResponse(f"/queue?notice={verb}ed", status_code=303)


@router.get("/audit", response_class=HTMLResponse, include_in_schema=False)
def audit(
    request: Request,
    web: Web,
    user: Viewer,
    type: str | None = None,
    stream: str | None = None,
    actor: str | None = None,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> HTMLResponse:
    """Every event, newest first, filtered by type, stream prefix or actor."""
    viewer = require(user, "viewer")
    zone = web.zone
    events = web.monitor.store.read_recent(
        100,
        before=before,
        event_type=type or None,
        stream_prefix=stream or None,
        actor=actor or None,
    )
    return web.page(
        request,
        "audit.html",
        viewer,
        events=events,
        filters={"type": type or "", "stream": stream or "", "actor": actor or ""},
        local_dt=lambda d: local(d, zone),
        types=sorted(REGISTRY.types),
    )


@router.get("/sources", response_class=HTMLResponse, include_in_schema=False)
def sources(request: Request, web: Web, user: Viewer) -> HTMLResponse:
    viewer = require(user, "viewer")
    return web.page(request, "sources.html", viewer, sources=web.monitor.sources.all())


@router.get("/digests", response_class=HTMLResponse, include_in_schema=False)
def digests(request: Request, web: Web, user: Viewer) -> HTMLResponse:
    """Digest recipients: last sent, next due, last error (read-only)."""
    viewer = require(user, "viewer")
    now = web.monitor.clock.now()
    rows = web.monitor.digests.status(now)
    return web.page(request, "digests.html", viewer, rows=rows, in_zone=local, now=now)
