"""The JSON API's OpenAPI document (``/api/openapi.json``): what FastAPI derives from the
routes, and what it cannot: how a caller authenticates (a bearer token; for reads, the web
UI's session cookie too), and that every error is ``application/problem+json``.

Each route names the errors it can answer with :func:`answers`, so a client (and a
contract test) knows every status it may get.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from monitor.web.problems import PROBLEM_JSON, Problem

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}

#: what each error status means in this API (the descriptions in the document)
MEANINGS = {
    400: "Refused by the rules (a status without evidence, a date not in the calendar, a "
    "cursor this server did not give) or a body that is not JSON: nothing was recorded.",
    401: "No valid API token (reads also take the web UI's session).",
    403: "The account lacks the role: reads need viewer, writes reviewer.",
    404: "No such commitment, topic, story or proposal.",
    409: "A lost race: what the command changes kept changing while it was decided, or a "
    "request with this Idempotency-Key is still being answered. Nothing was recorded: "
    "look again, then retry.",
    413: "The body is over 64 KiB.",
    422: "A bad request: a field or parameter missing, unknown, or of the wrong type or "
    "form (each named in `problems`), or an Idempotency-Key used before for another request.",
    500: "An unexpected error: `request_id` finds it in the server's log.",
    503: "The database cannot be reached now: retry after Retry-After seconds.",
}
WITH_RETRY_AFTER = {409, 503}

SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (`monitor token create NAME`): reads and writes, by role.",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "monitor_session",
        "description": "The web UI's session after logging in: reads only.",
    },
}


def answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route: each error status it may answer, as problem details
    (every route may also answer 401, 403, 500 and 503: those are added here)."""
    listed = sorted({*statuses, 401, 403, 500, 503})
    documented: dict[int | str, dict[str, Any]] = {}
    for status in listed:
        entry: dict[str, Any] = {"model": Problem, "description": MEANINGS[status]}
        if status in WITH_RETRY_AFTER:
            entry["headers"] = RETRY_AFTER
        documented[status] = entry
    return documented


def api_document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of ``app`` (made once, then kept)."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    for operations in document.get("paths", {}).values():
        for method, operation in operations.items():
            writes = method.lower() != "get"
            operation["security"] = (
                [{"bearer": []}] if writes else [{"bearer": []}, {"session": []}]
            )
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if int(status) >= 400 and "application/json" in content:
                    content[PROBLEM_JSON] = content.pop("application/json")
    app.openapi_schema = document
    return document
