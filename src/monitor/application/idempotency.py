"""Answers remembered by Idempotency-Key: a POST sent again after a timeout gets the
answer the first one got, instead of recording the assessment twice.

Reached as ``Monitor.idempotency``. An answer is kept per account and key, with the
fingerprint of the request it answered (the same key with another request is refused), in
the database (table ``idempotency_keys``): every host behind one address shares it. A key
is claimed before the command runs, so two copies of one request sent at once do not both
run: the second is told the first is still being answered. Only answers that recorded
something (2xx) are kept, and unexpected failures (whether they recorded is unknown); a
refusal or a lost race recorded nothing, so its key is released and a repeat is decided
again. Everything is forgotten after :data:`WINDOW`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from monitor.timestamps import format_timestamp

if TYPE_CHECKING:
    from monitor.application.context import Context

#: how long an answer is remembered
WINDOW = timedelta(hours=24)
#: a claim with no answer after this long was abandoned (its process died): taken over
ABANDONED = timedelta(minutes=5)


class Outcome(Enum):
    """What a claim on a key found."""

    FRESH = "fresh"  # the key is this request's now: run it, then settle or release
    REPLAY = "replay"  # answered before: give that answer again
    MISMATCH = "mismatch"  # the key was used for another request
    BUSY = "busy"  # the first request with this key is still being answered


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer as it was sent: status, media type, body."""

    status: int
    media_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    outcome: Outcome
    answer: Answer | None = None


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What identifies a request: its method, path, query and body (a JSON body in a
    canonical form, so that the order of its keys or its spacing does not count)."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8", "surrogatepass")
    except (ValueError, RecursionError):
        canonical = body  # not JSON: the command will refuse it, compared as sent
    digest = hashlib.sha256(f"{method}\n{path}\n{query}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


class Idempotency:
    """The answers remembered by key, in the database."""

    def __init__(self, context: Context) -> None:
        self.context = context

    def claim(self, account: str, key: str, request: str) -> Claim:
        """Make ``key`` this request's (``request``: its :func:`fingerprint`), or say what
        it is already."""
        self.context.require_schema()
        now = self.context.clock.now()
        with self.context.engine.begin() as conn:
            conn.execute(
                text("DELETE FROM idempotency_keys WHERE created_at < :cutoff"),
                {"cutoff": format_timestamp(now - WINDOW)},
            )
        for _ in range(3):  # a row released between the insert and the read: again
            try:
                with self.context.engine.begin() as conn:
                    conn.execute(
                        text(
                            "INSERT INTO idempotency_keys (account, idempotency_key, fingerprint, "
                            "created_at) VALUES (:a, :k, :f, :c)"
                        ),
                        {"a": account, "k": key, "f": request, "c": format_timestamp(now)},
                    )
                return Claim(Outcome.FRESH)
            except IntegrityError:
                pass
            with self.context.engine.connect() as conn:
                row = conn.execute(
                    text(
                        "SELECT fingerprint, status, media_type, body, created_at "
                        "FROM idempotency_keys WHERE account = :a AND idempotency_key = :k"
                    ),
                    {"a": account, "k": key},
                ).first()
            if row is None:
                continue
            found, status, media_type, body, created_at = row
            if found != request:
                return Claim(Outcome.MISMATCH)
            if status is not None:
                return Claim(Outcome.REPLAY, Answer(int(status), media_type, body.encode()))
            if created_at < format_timestamp(now - ABANDONED) and self._take_over(
                account, key, created_at, format_timestamp(now)
            ):
                return Claim(Outcome.FRESH)
            return Claim(Outcome.BUSY)
        return Claim(Outcome.BUSY)

    def _take_over(self, account: str, key: str, claimed_at: str, now: str) -> bool:
        """Claim an abandoned key again, unless someone else did first."""
        with self.context.engine.begin() as conn:
            taken = conn.execute(
                text(
                    "UPDATE idempotency_keys SET created_at = :now WHERE account = :a "
                    "AND idempotency_key = :k AND status IS NULL AND created_at = :then"
                ),
                {"now": now, "a": account, "k": key, "then": claimed_at},
            )
        return taken.rowcount == 1

    def settle(self, account: str, key: str, answer: Answer) -> None:
        """Remember ``answer`` as the one for ``key``."""
        with self.context.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE idempotency_keys SET status = :s, media_type = :m, body = :b "
                    "WHERE account = :a AND idempotency_key = :k"
                ),
                {
                    "s": answer.status,
                    "m": answer.media_type,
                    "b": answer.body.decode("utf-8"),
                    "a": account,
                    "k": key,
                },
            )

    def release(self, account: str, key: str) -> None:
        """Forget a claim whose request recorded nothing: a repeat is decided again."""
        with self.context.engine.begin() as conn:
            conn.execute(
                text(
                    "DELETE FROM idempotency_keys WHERE account = :a AND idempotency_key = :k "
                    "AND status IS NULL"
                ),
                {"a": account, "k": key},
            )
