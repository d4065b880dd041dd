"""Sessions, CSRF tokens, roles and security headers for the web UI (what a request must
pass before a route reads it: gates.py)."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

from monitor.application.accounts import Account
from monitor.files import private_folder
from monitor.web.problems import internal_error

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders(BaseHTTPMiddleware):
    """Adds the security headers to every response, errors and refusals included."""

    def __init__(self, app: Any, hsts: bool = False) -> None:
        super().__init__(app)
        self.hsts = hsts

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        try:
            response = await call_next(request)
        except Exception as exc:  # never a stack trace to a client: the log has it
            response = internal_error(request.scope, exc)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if self.hsts:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        response.headers.setdefault("Cache-Control", "no-store")
        return response


def secret_key(data_dir: Path) -> str:
    """$MONITOR_SECRET_KEY, else a random key kept in the data folder (mode 0600)."""
    from_env = os.environ.get("MONITOR_SECRET_KEY")
    if from_env:
        return from_env
    path = data_dir / "secret_key"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    private_folder(data_dir)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(key)
    return key


def csrf_token(request: Request) -> str:
    """This session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse a form post whose CSRF token is missing or wrong."""
    expected = request.session.get("csrf")
    if (
        not isinstance(expected, str)
        or not submitted
        or not hmac.compare_digest(expected, submitted)
    ):
        raise HTTPException(403, "the form has expired or did not come from this site: reload")


def require(account: Account | None, role: str) -> Account:
    """The account if it has ``role``; 401 without an account, 403 without the role."""
    if account is None:
        raise HTTPException(401, "log in first")
    if not account.may(role):
        raise HTTPException(403, f"this needs the {role} role")
    return account
