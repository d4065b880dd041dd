"""Routes of the web UI and the JSON API. Every handler calls the core (Monitor) only.

No `from __future__ import annotations` here: FastAPI reads the annotations of the route
functions, and the dependency aliases are local to create_app.
"""

import json
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from xml.etree.ElementTree import Element, SubElement, tostring

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from monitor.accounts import Account
from monitor.core import Monitor, show_record
from monitor.dates import local, local_date, parse_moment
from monitor.errors import MonitorError, NotFound
from monitor.events import REGISTRY, Status
from monitor.store.hashing import parse_timestamp
from monitor.web.security import SecurityHeaders, check_csrf, csrf_token, require

TEMPLATES = Path(__file__).parent / "templates"
CSS = (Path(__file__).parent / "templates" / "app.css").read_text(encoding="utf-8")
SCRIPT = (Path(__file__).parent / "templates" / "app.js").read_text(encoding="utf-8")
NOTICES = {
    "accepted": "Accepted: the evidence is recorded on the commitment.",
    "rejected": "Rejected.",
    "snoozed": "Snoozed: it comes back on its date.",
}
STATUS_COLOURS = {
    "not_yet_assessed": "#9aa0a6",
    "in_progress": "#1a73e8",
    "stalled": "#f29900",
    "fulfilled": "#188038",
    "partially_fulfilled": "#7cb342",
    "not_fulfilled": "#d93025",
    "superseded": "#8e24aa",
    "withdrawn": "#5f6368",
}


class LoginThrottle:
    """Failed logins per (address, name): five in a quarter of an hour, then a pause."""

    def __init__(self, limit: int = 5, window: float = 900.0) -> None:
        self.limit, self.window = limit, window
        self.failures: dict[tuple[str, str], list[float]] = {}
        self.lock = threading.Lock()

    def _recent(self, key: tuple[str, str]) -> list[float]:
        now = time.monotonic()
        kept = [t for t in self.failures.get(key, []) if now - t < self.window]
        if kept:
            self.failures[key] = kept
        else:
            self.failures.pop(key, None)
        return kept

    def blocked(self, address: str, name: str) -> bool:
        with self.lock:
            return len(self._recent((address, name))) >= self.limit

    def failed(self, address: str, name: str) -> None:
        with self.lock:
            self.failures[(address, name)] = [*self._recent((address, name)), time.monotonic()]


def highlight(title: str, terms_json: str) -> Markup:
    """``title`` escaped, with every matched term wrapped in <mark> (case-insensitive)."""
    terms = sorted(json.loads(terms_json), key=len, reverse=True)
    lowered = title.casefold()
    marks = [False] * len(title)
    for term in terms:
        needle = term.casefold()
        start = lowered.find(needle) if needle else -1
        while start != -1:
            for i in range(start, min(start + len(needle), len(title))):
                marks[i] = True
            start = lowered.find(needle, start + len(needle))
    out, i = [], 0
    while i < len(title):
        j = i
        while j < len(title) and marks[j] == marks[i]:
            j += 1
        piece = escape(title[i:j])
        out.append(Markup("<mark>") + piece + Markup("</mark>") if marks[i] else piece)
        i = j
    return Markup("").join(out)


def status_chart(points: list[tuple[Any, dict[str, int]]]) -> dict[str, Any]:
    """Stacked columns (one per month) as SVG rectangles, computed here, drawn by the page."""
    width, height, gap = 1000, 160, 4
    column = width / max(1, len(points))
    most = max((sum(c.values()) for _, c in points), default=1) or 1
    rects, labels = [], []
    for i, (day, counts) in enumerate(points):
        y = float(height)
        for status in STATUS_COLOURS:
            n = counts.get(status, 0)
            if n:
                h = height * n / most
                y -= h
                rects.append(
                    {
                        "x": i * column,
                        "y": y,
                        "w": column - gap,
                        "h": h,
                        "status": status,
                        "title": f"{day}: {status} {n}",
                    }
                )
        if i % 3 == 0 or i == len(points) - 1:
            labels.append({"x": i * column, "text": day.strftime("%Y-%m")})
    return {"width": width, "height": height, "rects": rects, "labels": labels}


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: object) -> str:
    return _XML_ILLEGAL.sub("", str(value))


def atom_feed(events: list[Any], base: str) -> bytes:
    """An Atom 1.0 document of status assessments (ElementTree escapes every text)."""
    ns = "http://www.w3.org/2005/Atom"
    feed = Element("feed", xmlns=ns)
    SubElement(feed, "title").text = "monitor: status changes"
    SubElement(feed, "id").text = f"{base}/feed/status.atom"
    SubElement(feed, "link", href=f"{base}/feed/status.atom", rel="self")
    updated = events[0].recorded_at if events else datetime(2023, 11, 14, tzinfo=UTC)
    SubElement(feed, "updated").text = updated.isoformat()
    for event in events:
        data = event.data
        entry = SubElement(feed, "entry")
        verb = "corrected to" if event.event_type == "AssessmentCorrected" else "assessed"
        SubElement(entry, "title").text = f"{data['commitment_id']} {verb} {data['status']}"
        SubElement(entry, "id").text = f"urn:uuid:{event.event_id}"
        SubElement(entry, "updated").text = event.recorded_at.isoformat()
        SubElement(entry, "link", href=f"{base}/commitments/{data['commitment_id']}")
        author = SubElement(entry, "author")
        SubElement(author, "name").text = _xml_text(
            data.get("assessor") or data.get("corrected_by", "")
        )
        SubElement(entry, "summary").text = _xml_text(data.get("rationale", ""))
    document: bytes = tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


def create_app(monitor: Monitor, *, secret_key: str, secure_cookies: bool = False) -> FastAPI:
    """The web application over one Monitor (built once per process)."""
    app = FastAPI(
        title="monitor",
        summary="Commitments, evidence and review",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.add_middleware(SecurityHeaders, hsts=secure_cookies)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key,
        session_cookie="monitor_session",
        same_site="strict",
        https_only=secure_cookies,
        max_age=12 * 3600,
    )
    templates = Jinja2Templates(directory=str(TEMPLATES))
    throttle = LoginThrottle()
    zone = monitor.settings.timezone
    templates.env.globals |= {
        "local": lambda v: local(parse_timestamp(v), zone) if v else "",
        "local_date": lambda v: local_date(parse_timestamp(v), zone) if v else "",
        "highlight": highlight,
        "colours": STATUS_COLOURS,
        "statuses": [s.value for s in Status],
    }

    def account(request: Request) -> Account | None:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return monitor.accounts.for_token(header[7:].strip())
        name = request.session.get("user")
        if not isinstance(name, str):
            return None
        # A session is valid only for the account's current epoch (logout bumps it).
        if request.session.get("epoch") != monitor.accounts.session_epoch(name):
            return None
        found = monitor.accounts.find(name)
        return found if found is not None and not found.disabled else None

    def token_account(request: Request) -> Account | None:
        # Mutating API calls take a bearer token only: a browser's cookie never authorises
        # them, so they need no CSRF token.
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return monitor.accounts.for_token(header[7:].strip())
        return None

    Viewer = Annotated[Account | None, Depends(account)]
    Scripted = Annotated[Account | None, Depends(token_account)]

    def page(request: Request, name: str, user: Account, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(
            request, name, {"user": user, "csrf": csrf_token(request), **context}
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        if exc.status_code == 401:
            return RedirectResponse("/login", status_code=303)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"message": exc.detail, "user": None},
            status_code=exc.status_code,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # Never a stack trace to a client: the server's log has it.
        return JSONResponse({"error": "internal error"}, status_code=500)

    @app.get("/static/app.css", include_in_schema=False)
    def stylesheet() -> Response:
        return Response(CSS, media_type="text/css")

    @app.get("/static/app.js", include_in_schema=False)
    def script() -> Response:
        return Response(SCRIPT, media_type="text/javascript")

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(
            request, "login.html", {"csrf": csrf_token(request), "user": None, "error": None}
        )

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        name: Annotated[str, Form()],
        password: Annotated[str, Form()],
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        check_csrf(request, csrf)
        client = request.client.host if request.client else "?"
        if throttle.blocked(client, name.strip()):
            return templates.TemplateResponse(
                request,
                "login.html",
                {
                    "csrf": csrf_token(request),
                    "user": None,
                    "error": "too many failed attempts: wait a few minutes",
                },
                status_code=429,
            )
        found = monitor.accounts.authenticate(name.strip(), password)
        if found is None:
            throttle.failed(client, name.strip())
            return templates.TemplateResponse(
                request,
                "login.html",
                {"csrf": csrf_token(request), "user": None, "error": "wrong name or password"},
                status_code=401,
            )
        request.session.clear()
        request.session["user"] = found.name
        request.session["epoch"] = monitor.accounts.session_epoch(found.name)
        return RedirectResponse("/", status_code=303)

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        check_csrf(request, csrf)
        name = request.session.get("user")
        if isinstance(name, str):
            monitor.accounts.end_sessions(name)  # a copied cookie stops working too
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(request: Request, user: Viewer) -> HTMLResponse:
        viewer = require(user, "viewer")
        views = monitor.list_commitments()
        counts = monitor.counts()
        total = max(1, len(views))
        return page(
            request,
            "dashboard.html",
            viewer,
            views=views,
            counts=counts,
            total=total,
            chart=status_chart(monitor.status_over_time()),
            reviewed=monitor.intake.last_reviewed(),
            waiting=monitor.intake.waiting_count(),
        )

    @app.get("/commitments/{commitment_id}", response_class=HTMLResponse, include_in_schema=False)
    def commitment(
        request: Request, commitment_id: str, user: Viewer, as_of: str | None = None
    ) -> HTMLResponse:
        viewer = require(user, "viewer")
        try:
            state, timeline = monitor.show(commitment_id)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from exc
        history = None
        if as_of:
            try:
                history = monitor.history(commitment_id, parse_moment(as_of, zone, end_of_day=True))
            except MonitorError as exc:
                raise HTTPException(400, str(exc)) from exc
        return page(
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

    @app.get("/queue", response_class=HTMLResponse, include_in_schema=False)
    def queue(
        request: Request, user: Viewer, commitment: str | None = None, notice: str | None = None
    ) -> HTMLResponse:
        viewer = require(user, "viewer")
        proposals = monitor.intake.queue(commitment=commitment, limit=200)
        return page(
            request,
            "queue.html",
            viewer,
            proposals=proposals,
            # Only known notices: the query string must not put words on the page.
            notice=NOTICES.get(notice or ""),
            today=monitor.clock.now().astimezone(zone).date().isoformat(),
        )

    @app.post("/queue/{proposal_id}", include_in_schema=False)
    def review(
        request: Request,
        proposal_id: str,
        user: Viewer,
        action: Annotated[str, Form()],
        csrf: Annotated[str, Form()] = "",
        status: Annotated[str, Form()] = "",
        rationale: Annotated[str, Form()] = "",
        effective: Annotated[str, Form()] = "",
        reason: Annotated[str, Form()] = "other",
        until: Annotated[str, Form()] = "",
    ) -> Response:
        check_csrf(request, csrf)
        reviewer = require(user, "reviewer")
        try:
            monitor.intake.review(
                proposal_id,
                action,
                by=reviewer.name,
                status=status or None,
                rationale=rationale,
                effective_at=parse_moment(effective, zone) if effective else None,
                reason=reason,
                until=parse_moment(until, zone) if until else None,
            )
        except MonitorError as exc:
            return page(
                request,
                "queue.html",
                reviewer,
                proposals=monitor.intake.queue(limit=200),
                notice=str(exc),
                today=monitor.clock.now().astimezone(zone).date().isoformat(),
            )
        return RedirectResponse(f"/queue?notice={action}ed", status_code=303)

    @app.get("/audit", response_class=HTMLResponse, include_in_schema=False)
    def audit(
        request: Request,
        user: Viewer,
        type: str | None = None,
        stream: str | None = None,
        actor: str | None = None,
        before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    ) -> HTMLResponse:
        """Every event, newest first, filtered by type, stream prefix or actor."""
        viewer = require(user, "viewer")
        events = monitor.store.read_recent(
            500 if actor else 100,
            before=before,
            event_type=type or None,
            stream_prefix=stream or None,
        )
        if actor:
            events = [e for e in events if e.metadata.get("actor") == actor][:100]
        return page(
            request,
            "audit.html",
            viewer,
            events=events,
            filters={"type": type or "", "stream": stream or "", "actor": actor or ""},
            local_dt=lambda d: local(d, zone),
            types=sorted(REGISTRY.types),
        )

    @app.get("/feed/status.atom", include_in_schema=False)
    def status_feed(request: Request, user: Viewer, token: str | None = None) -> Response:
        """Status changes as Atom; feed readers authenticate with ?token=API_TOKEN."""
        # Only feed tokens in a URL: they can read the feed and nothing else.
        reader = user or (monitor.accounts.for_token(token, scope="feed") if token else None)
        require(reader, "viewer")
        changes = monitor.store.read_recent(50, event_type="StatusAssessed")
        corrections = monitor.store.read_recent(50, event_type="AssessmentCorrected")
        entries = sorted([*changes, *corrections], key=lambda e: -e.position)[:50]
        base = str(request.base_url).rstrip("/")
        return Response(atom_feed(entries, base), media_type="application/atom+xml")

    @app.get("/sources", response_class=HTMLResponse, include_in_schema=False)
    def sources(request: Request, user: Viewer) -> HTMLResponse:
        viewer = require(user, "viewer")
        return page(request, "sources.html", viewer, sources=monitor.intake.sources())

    # -- JSON API (mirrors the CLI's --json) ------------------------------------------

    def api_call(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from exc
        except MonitorError as exc:
            raise HTTPException(400, str(exc)) from exc

    @app.get("/api/commitments")
    def api_commitments(
        user: Viewer, status: str | None = None, topic: str | None = None
    ) -> list[dict[str, Any]]:
        """The catalogue with current status (monitor list --json)."""
        require(user, "viewer")
        views = api_call(lambda: monitor.list_commitments(status, topic))
        return [
            {**v.model_dump(), "topics": json.loads(v.topics), "parties": json.loads(v.parties)}
            for v in views
        ]

    @app.get("/api/queue")
    def api_queue(user: Viewer, commitment: str | None = None) -> list[dict[str, Any]]:
        """Proposals waiting for review (monitor queue --json)."""
        require(user, "viewer")
        proposals = api_call(lambda: monitor.intake.queue(commitment=commitment))
        return [{**p.model_dump(), "matched_terms": json.loads(p.matched_terms)} for p in proposals]

    @app.get("/api/commitments/{commitment_id}")
    def api_commitment(commitment_id: str, user: Viewer) -> dict[str, Any]:
        """One commitment: registration, status, evidence, timeline (monitor show --json)."""
        require(user, "viewer")
        state, timeline = api_call(lambda: monitor.show(commitment_id))
        return show_record(state, timeline)

    @app.get("/api/commitments/{commitment_id}/history")
    def api_history(
        commitment_id: str, as_of: str, user: Viewer, recorded: bool = False
    ) -> dict[str, Any]:
        """Status as of a date, by effective or recorded time (monitor history --json)."""
        require(user, "viewer")
        result = api_call(
            lambda: monitor.history(
                commitment_id,
                parse_moment(as_of, zone, end_of_day=True),
                "recorded" if recorded else "effective",
            )
        )
        return {
            "commitment_id": commitment_id,
            "as_of": result.as_of.isoformat(),
            "clock": result.clock,
            "status": result.status.value,
        }

    @app.get("/api/counts")
    def api_counts(user: Viewer) -> dict[str, dict[str, int]]:
        """Commitments by status, and by topic and status (monitor counts --json)."""
        require(user, "viewer")
        counts: dict[str, dict[str, int]] = monitor.counts()
        return counts

    @app.get("/api/sources")
    def api_sources(user: Viewer) -> list[dict[str, Any]]:
        """Sources with their health (monitor sources --json)."""
        require(user, "viewer")
        return [v.model_dump() for v in monitor.intake.sources()]

    @app.post("/api/commitments/{commitment_id}/notes")
    def api_note(commitment_id: str, user: Scripted, payload: dict[str, Any]) -> dict[str, Any]:
        """Add a note (monitor note add)."""
        author = require(user, "reviewer")
        events = api_call(
            lambda: monitor.add_note(commitment_id, str(payload.get("text", "")), by=author.name)
        )
        return {
            "recorded": [{"event_id": str(e.event_id), "event_type": e.event_type} for e in events]
        }

    @app.post("/api/commitments/{commitment_id}/status")
    def api_status(commitment_id: str, user: Scripted, payload: dict[str, Any]) -> dict[str, Any]:
        """Assess a status with rationale, evidence and effective date (monitor status set)."""
        assessor = require(user, "reviewer")
        effective = payload.get("effective")
        events = api_call(
            lambda: monitor.set_status(
                commitment_id,
                str(payload.get("status", "")),
                rationale=str(payload.get("rationale", "")),
                by=assessor.name,
                effective_at=parse_moment(str(effective), zone)
                if effective
                else monitor.clock.now(),
                evidence=[str(e) for e in payload.get("evidence", [])],
            )
        )
        return {
            "recorded": [{"event_id": str(e.event_id), "event_type": e.event_type} for e in events]
        }

    @app.post("/api/queue/{proposal_id}/{action}")
    def api_review(
        proposal_id: str, action: str, user: Scripted, payload: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Accept, reject or snooze a proposal (bearer token only; no cookies, so no CSRF)."""
        reviewer = require(user, "reviewer")
        body = payload or {}
        events = api_call(
            lambda: monitor.intake.review(
                proposal_id,
                action,
                by=reviewer.name,
                status=str(body["status"]) if body.get("status") else None,
                rationale=str(body.get("rationale", "")),
                reason=body.get("reason", "other"),
                until=parse_moment(str(body["until"]), zone) if body.get("until") else None,
            )
        )
        return {
            "recorded": [{"event_id": str(e.event_id), "event_type": e.event_type} for e in events]
        }

    return app
