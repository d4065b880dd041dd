"""``Idempotency-Key`` on the JSON API's POSTs: a request sent again with the key of one
already answered gets that answer again (``Idempotent-Replayed: true``) and records
nothing; the key with another request is refused (422); while the first is still being
answered, a repeat is told so (409, Retry-After). The rules and the memory are the
application's (:mod:`monitor.application.idempotency`); here the HTTP around them.

The key is remembered per account (the token's, or the session's user), so two accounts
may choose the same key.

No `from __future__ import annotations` here: FastAPI reads the annotations of
:func:`idempotency_key`.
"""

import logging
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute

from monitor.application.idempotency import Answer, Idempotency, Outcome, fingerprint
from monitor.web.problems import UNAVAILABLE, internal_problem, problem, request_id
from monitor.web.site import account, site_of

HEADER = "Idempotency-Key"
#: a key: 1 to 255 visible ASCII characters (a UUID does well)
KEY = r"^[\x21-\x7e]{1,255}$"
log = logging.getLogger("monitor.web")
#: a request that failed so recorded nothing: refused, or the database out of reach
NOTHING_RECORDED: tuple[type[Exception], ...] = (
    HTTPException,
    RequestValidationError,
    *UNAVAILABLE,
)


def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            pattern=KEY,
            description="Any unique text, such as a UUID: a repeat of this request with the "
            "same key gets the first answer again, and records nothing.",
        ),
    ] = None,
) -> None:
    """Documents the header (and checks its form); :class:`AnsweredOnce` acts on it."""


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class AnsweredOnce(APIRoute):
    """A route whose POSTs honour ``Idempotency-Key``."""

    def get_route_handler(self) -> Handler:
        answer = super().get_route_handler()
        if "POST" not in (self.methods or ()):
            return answer

        async def once(request: Request) -> Response:
            key = request.headers.get(HEADER)
            if key is None:
                return await answer(request)
            who = await run_in_threadpool(account, request)
            if who is None:
                return await answer(request)  # refused as it is: 401
            if not re.fullmatch(KEY, key):
                detail = f"{HEADER}: 1 to 255 visible ASCII characters, such as a UUID"
                return problem(422, detail, problems=[detail])
            return await _answered_once(request, answer, who.name, key)

        return once


async def _answered_once(request: Request, answer: Handler, name: str, key: str) -> Response:
    memory: Idempotency = site_of(request).monitor.idempotency
    body = await request.body()
    claimed = await run_in_threadpool(
        memory.claim,
        name,
        key,
        fingerprint(request.method, request.url.path, request.url.query, body),
    )
    if claimed.outcome is Outcome.REPLAY and claimed.answer is not None:
        first = claimed.answer
        return Response(
            first.body,
            status_code=first.status,
            media_type=first.media_type,
            headers={"Idempotent-Replayed": "true"},
        )
    if claimed.outcome is Outcome.MISMATCH:
        detail = f"this {HEADER} was used for another request: use a new key for a new request"
        return problem(422, detail, problems=[f"{HEADER}: {detail}"])
    if claimed.outcome is Outcome.BUSY:
        return problem(
            409,
            f"the first request with this {HEADER} is still being answered: retry shortly",
            headers={"Retry-After": "1"},
        )
    try:
        response = await answer(request)
    except NOTHING_RECORDED:
        # refused, or the database out of reach: nothing recorded, a repeat runs again
        await run_in_threadpool(_release, memory, name, key)
        raise
    except Exception:
        # Whether it recorded is unknown: a repeat must not run it again.
        failed = internal_problem(request_id(request.scope))
        await run_in_threadpool(
            memory.settle, name, key, Answer(500, failed.media_type or "", bytes(failed.body))
        )
        raise
    sent = getattr(response, "body", None)
    if 200 <= response.status_code < 300 and isinstance(sent, bytes | memoryview):
        media_type = response.headers.get("content-type", "application/json")
        await run_in_threadpool(
            memory.settle, name, key, Answer(response.status_code, media_type, bytes(sent))
        )
    else:
        await run_in_threadpool(_release, memory, name, key)
    return response


def _release(memory: Idempotency, name: str, key: str) -> None:
    """Release a key; if even that fails (the database out of reach), the claim lapses
    by itself (:data:`~monitor.application.idempotency.ABANDONED`)."""
    try:
        memory.release(name, key)
    except Exception as exc:
        log.warning("could not release an Idempotency-Key of %s: %s", name, exc)
