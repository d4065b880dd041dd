"""The web application: create_app puts together the middleware, the error handlers, the
routes around the pages (static assets, API docs, health checks, login and logout) and
the routers of the other modules. Where to find the rest of the web package:

- pages.py: the HTML pages (dashboard, commitment, review queue, audit, sources, digests)
- api.py: the JSON API under /api/; atom.py: the Atom feed of status changes
- site.py: what the routes share (Site: the Monitor, templates, time zone) and who asks
  (Viewer, Scripted); security.py: sessions, CSRF, roles, security headers
- gates.py: what a request passes before a route reads it (its Host, its client's
  address, an account for a write, a bounded body); server.py: how uvicorn serves it
- chart.py: the dashboard's status chart; highlight.py: matched words marked in titles
- bodies.py: the typed bodies of the API's writes; openapi.py: the API's document;
  problems.py: its errors (problem details) and the request ids; idempotency.py: its
  POSTs answered once per Idempotency-Key

Every handler calls the core (Monitor) only.

No `from __future__ import annotations` here: FastAPI reads the annotations of the route
functions.
"""

import contextlib
import logging
from pathlib import Path
from typing import Annotated, Any

import fastapi_offline
from fastapi import APIRouter, FastAPI, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from monitor.application.logins import LoginGuard, LoginThrottled
from monitor.core import Monitor
from monitor.service.health import Health
from monitor.settings import ServiceSettings
from monitor.web import api, atom, pages
from monitor.web.gates import AllowedHosts, ForwardedClients, Writes
from monitor.web.openapi import api_document
from monitor.web.problems import UNAVAILABLE, RequestIds, internal_error, problem
from monitor.web.security import CSP, SecurityHeaders, check_csrf, csrf_token
from monitor.web.site import Site, Web, account, site_of, web_words

TEMPLATES = Path(__file__).parent / "templates"
#: seconds a client is asked to wait when the database cannot be reached
RETRY_AFTER = "5"
CSS = (TEMPLATES / "app.css").read_text(encoding="utf-8")
SCRIPT = (TEMPLATES / "app.js").read_text(encoding="utf-8")
SWAGGER_UI = Path(fastapi_offline.__file__).parent / "static"
DOCS_ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}
DOCS_CSP = CSP.replace("default-src 'none';", "default-src 'none'; connect-src 'self';")
API_DOCS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>monitor API</title>
<link rel="stylesheet" href="/api/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script><script src="/api/docs/init.js"></script>
</body></html>
"""
DOCS_INIT = """window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#swagger-ui",
  validatorUrl: null, deepLinking: true});
"""
#: a small icon (a tick in a circle), so browsers stop asking for a missing favicon
ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<circle cx="8" cy="8" r="7" fill="#1a73e8"/>'
    '<path d="M4.5 8.5l2.5 2.5 4.5-5" stroke="#fff" stroke-width="2" fill="none"/></svg>'
)


# -- errors: problem details under /api/ (web/problems.py); elsewhere an error page, or
# -- the login form for a 401 ----------------------------------------------------------


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    # its headers too: Allow on a 405, Retry-After on a 503
    if request.url.path.startswith("/api/"):
        return problem(exc.status_code, str(exc.detail), headers=exc.headers)
    if exc.status_code == 401:
        return RedirectResponse("/login", status_code=303)
    # the menu stays (for whoever is logged in), and the words are the web's
    user = None
    if "session" in request.scope:
        with contextlib.suppress(Exception):  # an error page must not fail in its turn
            user = account(request)
    return site_of(request).templates.TemplateResponse(
        request,
        "error.html",
        {
            "message": web_words(str(exc.detail)),
            "user": user,
            "csrf": csrf_token(request) if user else "",
        },
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def bad_request(request: Request, exc: RequestValidationError) -> Response:
    # A bad body, query or path: 422 naming each field (an API client can fix it)
    problems = [
        ".".join(str(p) for p in e["loc"] if p != "body") + f": {e['msg']}" for e in exc.errors()
    ]
    if request.url.path.startswith("/api/"):
        return problem(422, "; ".join(problems), problems=problems)
    return site_of(request).templates.TemplateResponse(
        request, "error.html", {"message": "; ".join(problems), "user": None}, status_code=422
    )


async def unavailable(request: Request, exc: Exception) -> Response:
    # The database out of reach (or not made yet): the request may well work in a moment.
    # The driver's words (host, user) go to the log, not to the client.
    logging.getLogger("monitor.web").warning("the database fails: %s", exc)
    detail = "the database cannot be reached now: try again shortly"
    headers = {"Retry-After": RETRY_AFTER}
    if request.url.path.startswith("/api/"):
        return problem(503, detail, headers=headers)
    return site_of(request).templates.TemplateResponse(
        request, "error.html", {"message": detail, "user": None}, status_code=503, headers=headers
    )


async def unexpected(request: Request, exc: Exception) -> Response:
    # An exception in the middleware itself (the routes' are answered by RequestIds):
    # logged with its traceback; never a stack trace to a client.
    return internal_error(request.scope, exc)


# -- the routes around the pages: assets, API docs, health, login ----------------------

router = APIRouter()


@router.get("/static/app.css", include_in_schema=False)
def stylesheet() -> Response:
    return Response(CSS, media_type="text/css")


@router.get("/api/docs", response_class=HTMLResponse, include_in_schema=False)
def api_docs() -> HTMLResponse:
    # Swagger UI fetches the OpenAPI document and sends "try it out" calls: this page
    # alone may connect back to its own origin.
    return HTMLResponse(API_DOCS, headers={"Content-Security-Policy": DOCS_CSP})


@router.get("/api/docs/{asset}", include_in_schema=False)
def api_docs_asset(asset: str) -> Response:
    if asset == "init.js":
        return Response(DOCS_INIT, media_type="text/javascript")
    if asset not in DOCS_ASSETS:
        raise HTTPException(404, "not found")
    return FileResponse(SWAGGER_UI / asset, media_type=DOCS_ASSETS[asset])


@router.get("/healthz", include_in_schema=False)
def healthz(web: Web) -> JSONResponse:
    """Liveness: the process answers."""
    health = web.health
    return JSONResponse({"status": "ok", "role": health.role if health else "web only"})


@router.get("/readyz", include_in_schema=False)
def readyz(web: Web) -> JSONResponse:
    """Readiness: the database answers and, on the leader, the scheduler keeps time."""
    health, monitor = web.health, web.monitor
    body: dict[str, Any] = health.snapshot() if health else {"role": "web only"}
    ready, why = health.ready() if health else (True, "")
    try:
        behind = body["events_behind"] = monitor.catch_up_a_little()
        bound = monitor.settings.service.ready_events_behind
        if ready and behind > bound:
            ready, why = False, f"the read models are {behind} events behind the journal"
        body["failing_sources"] = [
            s.name for s in monitor.sources.all() if s.last_outcome == "failed"
        ]
    except Exception as exc:
        # The detail (host, user, driver message) goes to the log, not to an endpoint
        # that anyone who can reach the port may call.
        logging.getLogger("monitor.web").warning("readyz: the database fails: %s", exc)
        ready, why = False, "the database is unreachable"
    body["status"] = "ready" if ready else "not ready"
    if why:
        body["reason"] = why
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    return Response(ICON, media_type="image/svg+xml")


@router.get("/static/app.js", include_in_schema=False)
def script() -> Response:
    return Response(SCRIPT, media_type="text/javascript")


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, web: Web) -> HTMLResponse:
    return _login_page(request, web, "", None)


def _login_page(
    request: Request, web: Web, name: str, error: str | None, status_code: int = 200
) -> HTMLResponse:
    """The login form, keeping the name typed; with no account at all yet, how to make the
    first one (an account is made on the server, never from this page)."""
    context = {
        "csrf": csrf_token(request),
        "user": None,
        "error": error,
        "name": name,
        "no_accounts": not web.monitor.accounts.list(),
    }
    return web.templates.TemplateResponse(request, "login.html", context, status_code=status_code)


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    web: Web,
    name: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    guard: LoginGuard = request.app.state.logins
    accounts = web.monitor.accounts
    # the connection's address, or the one a trusted proxy names (gates.ForwardedClients)
    client = request.client.host if request.client else "?"
    try:
        found = guard.log_in(accounts, name.strip(), password, client)
    except LoginThrottled as exc:
        return _login_page(request, web, name, str(exc), 429)
    if found is None:
        return _login_page(request, web, name, "wrong name or password", 401)
    request.session.clear()
    request.session["user"] = found.name
    request.session["epoch"] = accounts.session_epoch(found.name)
    request.session["since"] = web.now()  # the session ends web.session_hours after this
    return RedirectResponse("/", status_code=303)


@router.post("/logout", include_in_schema=False)
def logout(request: Request, web: Web, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    name = request.session.get("user")
    if isinstance(name, str):
        web.monitor.accounts.end_sessions(name)  # a copied cookie stops working too
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def create_app(
    monitor: Monitor,
    *,
    secret_key: str,
    secure_cookies: bool | None = None,
    health: Health | None = None,
    options: ServiceSettings | None = None,
) -> FastAPI:
    """The web application over one Monitor (built once per process).

    ``options``: the [web] settings (allowed hosts, trusted proxies, session hours, https);
    by default the Monitor's own. ``secure_cookies``: Secure cookies and HSTS (default:
    web.https; `monitor web --https` overrides it). ``health``: the running service's state,
    for /readyz (`monitor serve` passes it; the web UI alone has no scheduler to report).
    """
    options = options or monitor.settings.service
    secure = options.web_https if secure_cookies is None else secure_cookies
    app = FastAPI(
        title="monitor",
        summary="Commitments, evidence and review",
        docs_url=None,  # served by api_docs from local files, under the CSP
        openapi_url="/api/openapi.json",
        redoc_url=None,
        exception_handlers={
            StarletteHTTPException: http_error,
            RequestValidationError: bad_request,
            **dict.fromkeys(UNAVAILABLE, unavailable),
            Exception: unexpected,
        },
    )
    # Added innermost first: a request meets them in the opposite order (headers on every
    # answer; the Host; who the client is; the session; an account and a bounded body; a
    # request id, with which an unexpected exception is logged and answered).
    app.add_middleware(RequestIds)
    app.add_middleware(Writes)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key,
        session_cookie="monitor_session",
        same_site="strict",
        https_only=secure,
        max_age=round(options.web_session_hours * 3600),
    )
    app.add_middleware(ForwardedClients, proxies=options.web_trusted_proxies)
    app.add_middleware(AllowedHosts, hosts=options.web_allowed_hosts)
    app.add_middleware(SecurityHeaders, hsts=secure)
    # Per application, not per module: each app (and each test's) has its own.
    app.state.site = Site(monitor, health, options.web_session_hours)
    app.state.logins = LoginGuard()
    app.include_router(router)
    app.include_router(pages.router)
    app.include_router(atom.router)
    app.include_router(api.router)
    app.openapi = lambda: api_document(app)  # type: ignore[method-assign]
    return app
