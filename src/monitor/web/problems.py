"""Errors as the JSON API answers them, and the request id that finds one in the log.

Every 4xx and 5xx under ``/api/`` is a problem details object (RFC 9457,
``application/problem+json``): ``type``, ``title``, ``status``, ``detail``; plus ``error``
(the detail again, the member clients of the first API read) and, for a bad request,
``problems`` (one "field: message" each).

Each request gets an id (``X-Request-ID`` on the answer). An exception no handler expected
is logged with its traceback and that id, and the 500 answer shows the id and nothing
else: a client quotes it, the operator finds the traceback.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.errors import StoreNotInitialised, StoreUnavailable

PROBLEM_JSON = "application/problem+json"
REQUEST_ID = "X-Request-ID"
#: the database out of reach, or without its schema yet: 503, and the request recorded
#: nothing (so a repeat with its Idempotency-Key runs again)
UNAVAILABLE: tuple[type[Exception], ...] = (StoreUnavailable, StoreNotInitialised, OperationalError)
#: the names RFC 9110 gives where Python 3.11 still has the older ones
TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}
log = logging.getLogger("monitor.web")


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of the JSON API is answered."""

    type: str = Field(default="about:blank", description="What kind of problem (a URI).")
    title: str = Field(description="The status's name, such as 'Not Found'.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong here, and what to do about it.")
    error: str = Field(description="The detail again (the first API's member).")
    problems: list[str] | None = Field(
        default=None, description="A bad request: one 'field: message' for each fault."
    )
    request_id: str | None = Field(
        default=None, description="An unexpected error: the id its log entry carries."
    )


def problem(
    status: int, detail: str, *, headers: Mapping[str, str] | None = None, **members: Any
) -> JSONResponse:
    """The problem details answer of ``status``, saying ``detail``."""
    try:
        title = TITLES.get(status) or HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "error": detail,
        **members,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def request_id(scope: Scope) -> str:
    """The id of the request ``scope`` is of ("-" outside :class:`RequestIds`)."""
    state = scope.get("state") or {}
    found = state.get("request_id")
    return found if isinstance(found, str) else "-"


def internal_error(scope: Scope, exc: BaseException) -> Response:
    """Log ``exc`` with its traceback and the request id; the answer names the id only."""
    rid = request_id(scope)
    log.error(
        "request %s: %s %s failed",
        rid,
        scope.get("method", "?"),
        scope.get("path", "?"),
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    if str(scope.get("path", "")).startswith("/api/"):
        return internal_problem(rid)
    return PlainTextResponse(_unexpected(rid), status_code=500)


def internal_problem(rid: str) -> JSONResponse:
    """The 500 answer of request ``rid`` under /api/: its id, and nothing of the error."""
    return problem(500, _unexpected(rid), request_id=rid)


def _unexpected(rid: str) -> str:
    return f"internal error: the server's log has what happened (request id {rid})"


class RequestIds:
    """Gives each request an id (``X-Request-ID``), and answers an exception that reached
    it with a logged 500 (:func:`internal_error`).

    Innermost of the middleware, so that an exception never reaches the others: the
    security headers still go on the 500, and nothing swallows it without a log.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = rid
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message).append(REQUEST_ID, rid)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            response = internal_error(scope, exc)
            if started:  # half an answer is out: the connection is all there is to close
                raise
            await response(scope, receive, send_with_id)
