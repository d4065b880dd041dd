"""The HTML pages: dashboard, commitment, review queue (and its form), audit log, sources
and digests. Each handler checks the role, asks the core (Monitor) and renders a template.

No `from __future__ import annotations` here: FastAPI reads the annotations of the routes.
"""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from monitor.application.accounts import Account
from monitor.dates import local, local_date, parse_moment
from monitor.errors import MonitorError, NotFound
from monitor.events import REGISTRY
from monitor.ids import short_ids
from monitor.shapes import source_json
from monitor.streams import user_stream
from monitor.web.security import check_csrf, require
from monitor.web.site import Site, Viewer, Web, web_words

#: the notice (below) each review action leaves
DONE = {"accept": "accepted", "reject": "rejected", "snooze": "snoozed"}
#: what the queue page may say after a review (``?notice=``): these words only
NOTICES = {
    "accepted": "Accepted: the evidence is recorded on the commitment.",
    "rejected": "Rejected.",
    "snoozed": "Snoozed: it comes back on its date.",
}
#: the refusal when a form that sets a status has no effective date (never taken as today)
NO_EFFECTIVE_DATE = "give the date the status took effect (the Effective date field)"
#: what a commitment's page may say after one of its forms (``?notice=``)
COMMITMENT_NOTICES = {
    "assessed": "Status recorded.",
    "noted": "Note added.",
    "corrected": "Assessment corrected.",
    "withdrawn": "Assessment withdrawn: the status follows from the others.",
}
#: rows per page of the dashboard's table and of the review queue
PAGE = 50
#: the start of every account's stream (``user-NAME``)
ACCOUNTS = user_stream("")

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
    request: Request,
    web: Web,
    commitment_id: str,
    user: Viewer,
    as_of: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    viewer = require(user, "viewer")
    history = None
    if as_of:
        try:
            moment = parse_moment(as_of, web.zone, end_of_day=True)
            history = web.monitor.history(commitment_id, moment)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from exc
        except MonitorError as exc:
            raise HTTPException(400, web_words(str(exc))) from exc
    # Only known notices: the query string must not put words on the page.
    words = COMMITMENT_NOTICES.get(notice or "")
    return commitment_page(request, web, viewer, commitment_id, words, history=history)


def commitment_page(
    request: Request,
    web: Site,
    viewer: Account,
    commitment_id: str,
    notice: str | None,
    *,
    error: str | None = None,
    typed: dict[str, str] | None = None,
    history: object = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A commitment's page, with a notice after a form, or the form's error and what was
    typed in it (a refused form keeps every field)."""
    zone = web.zone
    try:
        state, timeline = web.monitor.show(commitment_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    assessments = sorted(state.assessments.values(), key=lambda a: (a.effective_at, a.position))
    return web.page(
        request,
        "commitment.html",
        viewer,
        state=state,
        timeline=timeline,
        history=history,
        as_of=request.query_params.get("as_of", ""),
        registration=state.registration,
        latest=state.latest_assessment(),
        assessments=assessments,
        assessment_ids=short_ids(state.assessments),
        evidence_ids=short_ids(state.evidence),
        notice=notice,
        error=error,
        typed=typed or {},
        local_dt=lambda d: local(d, zone),
        local_day=lambda d: local_date(d, zone),
        status_code=status_code,
    )


@router.post("/commitments/{commitment_id}/status", include_in_schema=False)
def status_form(
    request: Request,
    web: Web,
    commitment_id: str,
    user: Viewer,
    csrf: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
    effective: Annotated[str, Form()] = "",
    rationale: Annotated[str, Form()] = "",
    evidence: Annotated[str, Form()] = "",
) -> Response:
    """Assess the commitment's status (monitor status set): the effective date is given,
    never taken to be today."""
    check_csrf(request, csrf)
    assessor = require(user, "reviewer")
    typed = {"form": "status", "status": status, "effective": effective,
             "rationale": rationale, "evidence": evidence}  # fmt: skip

    def write() -> None:
        if not status:
            raise MonitorError("choose a status")
        if not effective.strip():
            raise MonitorError(NO_EFFECTIVE_DATE)
        web.monitor.set_status(
            commitment_id,
            status,
            rationale=rationale,
            by=assessor.name,
            effective_at=parse_moment(effective, web.zone),
            evidence=[line.strip() for line in evidence.splitlines() if line.strip()],
        )

    return _commitment_form(request, web, assessor, commitment_id, write, typed, "assessed")


@router.post("/commitments/{commitment_id}/notes", include_in_schema=False)
def note_form(
    request: Request,
    web: Web,
    commitment_id: str,
    user: Viewer,
    csrf: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
) -> Response:
    """Add a note (monitor note add)."""
    check_csrf(request, csrf)
    author = require(user, "reviewer")

    def write() -> None:
        if not text.strip():
            raise MonitorError("write the note first")
        web.monitor.add_note(commitment_id, text, by=author.name)

    typed = {"form": "note", "text": text}
    return _commitment_form(request, web, author, commitment_id, write, typed, "noted")


@router.post(
    "/commitments/{commitment_id}/assessments/{assessment}/{action}", include_in_schema=False
)
def assessment_form(
    request: Request,
    web: Web,
    commitment_id: str,
    assessment: str,
    action: str,
    user: Viewer,
    csrf: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
    effective: Annotated[str, Form()] = "",
    rationale: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Correct (monitor status correct) or withdraw (monitor status withdraw) an
    assessment, named by its id or 8+ characters of it."""
    check_csrf(request, csrf)
    if action not in ("correct", "withdraw"):
        raise HTTPException(404, "an assessment can be corrected or withdrawn")
    reviewer = require(user, "reviewer")
    typed = {"form": f"{action}-{assessment}", "status": status, "effective": effective,
             "rationale": rationale, "reason": reason}  # fmt: skip

    def write() -> None:
        if action == "withdraw":
            web.monitor.withdraw_assessment(
                commitment_id, assessment, reason=reason, by=reviewer.name
            )
            return
        if not status:
            raise MonitorError("choose the corrected status")
        web.monitor.correct_assessment(
            commitment_id,
            assessment,
            status,
            rationale=rationale,
            reason=reason,
            by=reviewer.name,
            effective_at=parse_moment(effective, web.zone) if effective.strip() else None,
        )

    notice = "corrected" if action == "correct" else "withdrawn"
    return _commitment_form(request, web, reviewer, commitment_id, write, typed, notice)


def _commitment_form(
    request: Request,
    web: Site,
    user: Account,
    commitment_id: str,
    write: Callable[[], None],
    typed: dict[str, str],
    notice: str,
) -> Response:
    """One form of a commitment's page: ``write``, then a redirect to the page with
    ``notice`` (reloading it does not post again); refused, the page again with the reason
    in the web's words and what was typed still in the form; an unknown commitment, 404."""
    try:
        write()
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except MonitorError as exc:
        return commitment_page(
            request, web, user, commitment_id, None, error=web_words(str(exc)), typed=typed,
            status_code=400,
        )  # fmt: skip
    return RedirectResponse(f"/commitments/{commitment_id}?notice={notice}", status_code=303)


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
    try:
        return queue_page(request, web, viewer, commitment, page, NOTICES.get(notice or ""))
    except NotFound as exc:  # an unknown commitment in the filter: named, with the nearest
        raise HTTPException(404, str(exc)) from exc


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
        if action == "accept-status" and not effective.strip():
            raise MonitorError(NO_EFFECTIVE_DATE)
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
        return queue_page(request, web, reviewer, None, 1, web_words(str(exc)))
    return RedirectResponse(f"/queue?notice={DONE.get(verb, '')}", status_code=303)


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
    """Every event, newest first, filtered by type, stream prefix or actor.

    Who did what names the accounts: only admins see the actors and filter by them, and
    only they see the accounts' own streams by name (others see ``user-…``)."""
    viewer = require(user, "viewer")
    zone = web.zone
    admin = viewer.may("admin")
    if not admin:
        actor = None
        if stream and stream.startswith(ACCOUNTS):  # "user-a", "user-ad"...: no guessing
            stream = ACCOUNTS
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
        short_ids=web.monitor.short_event_ids(e.event_id for e in events),
        filters={"type": type or "", "stream": stream or "", "actor": actor or ""},
        local_dt=lambda d: local(d, zone),
        types=sorted(REGISTRY.types),
        admin=admin,
        stream_name=lambda s: s if admin or not s.startswith(ACCOUNTS) else ACCOUNTS + "…",
    )


@router.get("/sources", response_class=HTMLResponse, include_in_schema=False)
def sources(request: Request, web: Web, user: Viewer) -> HTMLResponse:
    viewer = require(user, "viewer")
    detail = viewer.may("admin")  # the full URL and error text: admins only
    rows = [source_json(v, detail=detail) for v in web.monitor.sources.all()]
    return web.page(request, "sources.html", viewer, sources=rows)


@router.get("/digests", response_class=HTMLResponse, include_in_schema=False)
def digests(request: Request, web: Web, user: Viewer) -> HTMLResponse:
    """Digest recipients: last sent, next due, last error (read-only)."""
    viewer = require(user, "viewer")
    now = web.monitor.clock.now()
    rows = web.monitor.digests.status(now)
    return web.page(request, "digests.html", viewer, rows=rows, in_zone=local, now=now)
