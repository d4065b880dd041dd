"""What every route of the web UI and the JSON API shares, and who is asking.

create_app builds one ``Site`` per application and keeps it on ``app.state.site``: the
Monitor, the page templates, the display time zone, the status chart and the running
service's health. A route asks for it with a ``web: Web`` parameter.

``Viewer`` is the account behind a bearer token or a session cookie, ``Scripted`` the
account behind a bearer token only (the mutating API calls). The handlers check the role
with ``security.require``.

No `from __future__ import annotations` here: FastAPI reads the annotations of the
dependencies below.
"""

import functools
import json
import re
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from monitor.application.accounts import Account
from monitor.core import Monitor
from monitor.dates import local, local_date
from monitor.domain.review import REJECT_REASONS
from monitor.events import Status
from monitor.service.health import Health
from monitor.sources.text import visible
from monitor.timestamps import parse_timestamp
from monitor.web.chart import STATUS_COLOURS, StatusChart
from monitor.web.highlight import highlight, highlight_words
from monitor.web.security import csrf_token

TEMPLATES = Path(__file__).parent / "templates"


def page_templates(zone: ZoneInfo) -> Jinja2Templates:
    """The page templates, with the helpers they call, showing times in ``zone``."""
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.auto_reload = False  # the templates ship with the code: no stat per render
    # Every {{ value }} of every page goes through it, before escaping: a title from a feed
    # cannot read backwards or hide a character, whichever template shows it.
    templates.env.finalize = shown
    templates.env.globals |= {
        # Pure functions of their text, called for every cell of every row: the same
        # stored times and titles come back page after page, so their results are kept.
        "local": functools.lru_cache(maxsize=8192)(
            lambda v: local(parse_timestamp(v), zone) if v else ""
        ),
        "local_date": functools.lru_cache(maxsize=8192)(
            lambda v: local_date(parse_timestamp(v), zone) if v else ""
        ),
        "highlight": functools.lru_cache(maxsize=4096)(highlight),
        "highlight_words": functools.lru_cache(maxsize=4096)(highlight_words),
        "terms_text": functools.lru_cache(maxsize=4096)(lambda j: ", ".join(json.loads(j))),
        "colours": STATUS_COLOURS,
        "statuses": [s.value for s in Status],
        # Options repeated on every queue row: built once.
        "reason_options": Markup("").join(
            Markup("<option>{}</option>").format(r) for r in REJECT_REASONS
        ),
        "status_options": Markup("").join(
            Markup("<option>{}</option>").format(s.value) for s in list(Status)[1:]
        ),
    }
    return templates


def shown(value: object) -> object:
    """A value as a page shows it: text without the characters that reorder or hide it
    (:func:`monitor.sources.text.visible`); markup stays markup, anything else as it is."""
    if isinstance(value, Markup):
        # Safe still: in markup, text from outside is escaped already, so taking characters
        # out of it can make no tag or entity ("&amp;\u200blt;" becomes "&amp;lt;").
        return Markup(visible(str(value)))  # noqa: S704
    if isinstance(value, str):
        return visible(value)
    return value


class Site:
    """What the routes share, built once per application by create_app."""

    def __init__(
        self, monitor: Monitor, health: Health | None = None, session_hours: float = 12.0
    ) -> None:
        self.monitor = monitor
        #: the running service's state, for /readyz (None: the web UI alone, no scheduler)
        self.health = health
        #: how long a login lasts (web.session_hours), from the login on
        self.session_seconds = session_hours * 3600
        self.zone = monitor.settings.timezone
        self.templates = page_templates(self.zone)
        self.chart = StatusChart(self.templates)

    def now(self) -> float:
        """Now, in seconds since the epoch, by the Monitor's clock (sessions are timed by it)."""
        return self.monitor.clock.now().timestamp()

    def session_current(self, logged_in_at: object) -> bool:
        """Whether a session that logged in at ``logged_in_at`` (seconds since the epoch)
        still holds: its lifetime runs from the login, and nothing extends it."""
        if not isinstance(logged_in_at, int | float) or isinstance(logged_in_at, bool):
            return False  # a session from before logins were timed: log in again
        return 0 <= self.now() - logged_in_at < self.session_seconds

    def page(
        self, request: Request, name: str, user: Account, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        """The template ``name`` for a logged-in ``user``, with the form's CSRF token."""
        return self.templates.TemplateResponse(
            request,
            name,
            {"user": user, "csrf": csrf_token(request), **context},
            status_code=status_code,
        )


def site_of(request: Request) -> Site:
    """The Site of the application that serves ``request``."""
    site: Site = request.app.state.site
    return site


async def _site(request: Request) -> Site:
    # async: an attribute read needs no trip to the thread pool
    return site_of(request)


def account(request: Request) -> Account | None:
    """The account behind a bearer token, else behind a session still valid, else None."""
    site = site_of(request)
    accounts = site.monitor.accounts
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return accounts.for_token(header[7:].strip())
    name = request.session.get("user")
    if not isinstance(name, str) or not site.session_current(request.session.get("since")):
        return None
    # A session is valid only for the account's current epoch (logout bumps it).
    epoch = request.session.get("epoch")
    return accounts.for_session(name, epoch) if isinstance(epoch, int) else None


def token_account(request: Request) -> Account | None:
    """The account behind a bearer token, else None."""
    # Mutating API calls take a bearer token only: a browser's cookie never authorises
    # them, so they need no CSRF token.
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return site_of(request).monitor.accounts.for_token(header[7:].strip())
    if account(request) is not None:
        # logged in, in a browser: "log in first" would be wrong; say what works
        raise HTTPException(
            401,
            "the JSON API takes an API token, not the browser's session: send "
            "'Authorization: Bearer TOKEN' (an admin makes one with `monitor token create`), "
            "or use the forms on the commitment's page",
        )
    return None


Web = Annotated[Site, Depends(_site)]
Viewer = Annotated[Account | None, Depends(account)]
Scripted = Annotated[Account | None, Depends(token_account)]


#: the form field each command-line option of a core message stands for on the web
FIELDS = {
    "rationale": "Rationale",
    "reason": "Reason",
    "evidence": "Evidence",
    "effective": "Effective date",
    "note": "Note",
    "until": "Snooze until",
    "status": "Status",
    "commitment": "Commitment",
    "text": "Note",
}


#: the page that shows what a command lists, for "see `monitor X`" in a core message
PAGES = {
    "list": "the dashboard",
    "queue": "the review queue",
    "sources": "the Sources page",
    "show": "the commitment's page",
    "history": "the commitment's page",
}


def web_words(message: str) -> str:
    """A core message in the web's words: ``--rationale`` becomes the Rationale field, a
    command to run becomes the page that shows the same (``see `monitor queue` `` is the
    review queue), and what names who acts (``--by``) goes (the signed-in account acts)."""
    text = re.sub(r"\s*\(--by\)", "", message)
    text = re.sub(r" or `monitor (?:history|show)[^`]*`", "", text)
    text = re.sub(
        r"`monitor ([a-z]+)[^`]*`",
        lambda m: PAGES.get(m.group(1), "the command line"),
        text,
    )
    return re.sub(
        r"--([a-z][a-z-]*)(?: [A-Z]+)?",
        lambda m: f"the {FIELDS.get(m.group(1), m.group(1))} field",
        text,
    )
