"""Accounts: users with roles (viewer, reviewer, admin) and API tokens for scripts.

Passwords are stored with Argon2id (memory-hard); API tokens are 32 random bytes shown once,
stored as their SHA-256 (a random token needs no slow hash). Both live in their own tables,
never in the event journal, which is exported and shared. Changes to accounts are journalled
without secrets (``UserChanged``), so the audit log shows who granted what.

A leaked token is revoked by its id (never by the secret, which nobody has any more): every
check reads the table, so the next request with it is refused. Each token remembers when
it was last used, to the hour, so an admin can tell a token in use from a forgotten one.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import logging
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import CommandRejected, NotFound
from monitor.events import UserChanged, user_stream
from monitor.ids import resolve, short_ids, uuid7
from monitor.timestamps import format_timestamp, parse_timestamp
from monitor.writes import VERSION_ONLY

if TYPE_CHECKING:
    from monitor.application.context import Context

log = logging.getLogger(__name__)

ROLES = ("viewer", "reviewer", "admin")
SCOPES = ("api", "feed")
#: Argon2id verifications at once: each takes tens of MiB, and logins must not exhaust memory
_HASHING = threading.BoundedSemaphore(4)
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
MIN_PASSWORD = 12
TOKEN_PREFIX = "mon_"  # noqa: S105 (a recognisable prefix, not a secret)
#: a token's last use is written again only when the one recorded is older than this: a
#: feed reader polling every five minutes costs one write an hour, not one per read
USE_RECORDED_EVERY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Account:
    """A user as the web UI and API see it (never its password hash)."""

    name: str
    role: str
    disabled: bool
    created_at: str

    def may(self, role: str) -> bool:
        """Whether this account has at least ``role``."""
        return not self.disabled and ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True, slots=True)
class Token:
    """An API token as an admin sees it: what it is for, never the secret nor its hash."""

    token_id: str
    #: the shortest prefix of the id (8 characters at least) no other token shares
    short_id: str
    name: str
    label: str
    scope: str
    created_at: str
    #: to the hour (see :data:`USE_RECORDED_EVERY`); None: not used since it was made (or
    #: since last-use was first recorded)
    last_used_at: str | None
    revoked_at: str | None


class Accounts:
    """Users and tokens of one store; reached as ``Monitor.accounts``.

    It works with a small context (settings, clock, database, journal, write path), not
    the whole Monitor.
    """

    def __init__(self, context: Context, hasher: PasswordHasher | None = None) -> None:
        self.context = context
        self.hasher = hasher or PasswordHasher()

    def _journal(self, name: str, change: str, role: str | None, by: str) -> None:
        event = UserChanged(name=name, change=change, role=role, by=by or "cli")
        self.context.writer.execute(
            user_stream(name), VERSION_ONLY, lambda _: [event], {"actor": by or "cli"}, what=name
        )

    def add(self, name: str, role: str, password: str, *, by: str = "cli") -> Account:
        """Create a user; the password is hashed with Argon2id."""
        self.context.require_schema()
        problems = []
        if not NAME.match(name):
            problems.append("name: use lowercase letters, digits, '.', '_' or '-'")
        if role not in ROLES:
            problems.append(f"role: one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            problems.append(f"password: at least {MIN_PASSWORD} characters")
        if problems:
            raise CommandRejected("user refused: " + "; ".join(problems))
        if self.find(name) is not None:
            raise CommandRejected(f"a user named {name!r} exists already")
        now = format_timestamp(self.context.clock.now())
        with self.context.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO accounts (name, role, password_hash, disabled, created_at) "
                    "VALUES (:n, :r, :h, :d, :c)"
                ),
                {"n": name, "r": role, "h": self.hasher.hash(password), "d": False, "c": now},
            )
        self._journal(name, "added", role, by)
        return Account(name, role, False, now)

    def find(self, name: str) -> Account | None:
        with self.context.engine.connect() as conn:
            row = conn.execute(
                text("SELECT name, role, disabled, created_at FROM accounts WHERE name = :n"),
                {"n": name},
            ).first()
        return Account(row[0], row[1], bool(row[2]), row[3]) if row else None

    def list(self) -> list[Account]:
        self.context.require_schema()
        with self.context.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT name, role, disabled, created_at FROM accounts ORDER BY name")
            ).all()
        return [Account(r[0], r[1], bool(r[2]), r[3]) for r in rows]

    def for_session(self, name: str, epoch: int) -> Account | None:
        """The live account a session cookie names, if the cookie is of its current epoch."""
        with self.context.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT name, role, disabled, created_at FROM accounts "
                    "WHERE name = :n AND session_epoch = :e"
                ),
                {"n": name, "e": epoch},
            ).first()
        return Account(row[0], row[1], False, row[3]) if row and not row[2] else None

    def session_epoch(self, name: str) -> int | None:
        """The epoch a session of ``name`` must carry (None: no such user)."""
        with self.context.engine.connect() as conn:
            epoch = conn.execute(
                text("SELECT session_epoch FROM accounts WHERE name = :n"), {"n": name}
            ).scalar()
        return None if epoch is None else int(epoch)

    def end_sessions(self, name: str) -> None:
        """Invalidate every session cookie of ``name`` (log out everywhere)."""
        with self.context.engine.begin() as conn:
            conn.execute(
                text("UPDATE accounts SET session_epoch = session_epoch + 1 WHERE name = :n"),
                {"n": name},
            )

    def disable(self, name: str, *, by: str = "cli") -> None:
        """Lock a user out (sessions and tokens stop working); history keeps the name."""
        if self.find(name) is None:
            raise NotFound(f"no user {name!r}: see `monitor user list`")
        with self.context.engine.begin() as conn:
            conn.execute(
                text("UPDATE accounts SET disabled = :d WHERE name = :n"), {"d": True, "n": name}
            )
        self.end_sessions(name)
        self._journal(name, "disabled", None, by)

    def enable(self, name: str, *, by: str = "cli") -> bool:
        """Let a disabled user in again: their password and their tokens not revoked work
        again (revoke a token first if it must not come back). False: it was enabled."""
        account = self.find(name)
        if account is None:
            raise NotFound(f"no user {name!r}: see `monitor user list`")
        if not account.disabled:
            return False
        with self.context.engine.begin() as conn:
            conn.execute(
                text("UPDATE accounts SET disabled = :d WHERE name = :n"), {"d": False, "n": name}
            )
        self._journal(name, "enabled", None, by)
        return True

    def authenticate(self, name: str, password: str) -> Account | None:
        """The account if the password is right and the account enabled, else None."""
        with self.context.engine.connect() as conn:
            row = conn.execute(
                text("SELECT password_hash FROM accounts WHERE name = :n"), {"n": name}
            ).first()
        with _HASHING:
            if row is None:
                self.hasher.hash(password)  # same work for unknown names: no timing oracle
                return None
            try:
                self.hasher.verify(row[0], password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return None
        account = self.find(name)
        return account if account is not None and not account.disabled else None

    def create_token(self, name: str, label: str, *, by: str = "cli", scope: str = "api") -> str:
        """A new token for ``name``: returned once, stored only as its hash.

        ``scope`` "api" tokens act for the user in the JSON API; "feed" tokens only read the
        Atom feed (they travel in URLs, so they must not be able to do anything else).
        """
        if scope not in SCOPES:
            raise CommandRejected(f"scope must be one of: {', '.join(SCOPES)}")
        if self.find(name) is None:
            raise NotFound(f"no user {name!r}: see `monitor user list`")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.context.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO api_tokens (token_id, name, token_hash, label, scope, "
                    "created_at) VALUES (:i, :n, :h, :l, :s, :c)"
                ),
                {
                    "i": str(uuid7()),
                    "n": name,
                    "h": _digest(token),
                    "l": label.strip() or "token",
                    "s": scope,
                    "c": format_timestamp(self.context.clock.now()),
                },
            )
        self._journal(name, "token created", None, by)
        return token

    def for_token(self, token: str, scope: str = "api") -> Account | None:
        """The account a live token of ``scope`` belongs to, if the account is live too.

        Read from the table at every request: a revoked token is refused at once."""
        with self.context.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT token_id, name, last_used_at FROM api_tokens WHERE token_hash = :h "
                    "AND scope = :s AND revoked_at IS NULL"
                ),
                {"h": _digest(token), "s": scope},
            ).first()
        account = self.find(row[1]) if row else None
        if row is None or account is None or account.disabled:
            return None
        self._record_use(row[0], row[2])
        return account

    def _record_use(self, token_id: str, last_used: str | None) -> None:
        now = self.context.clock.now()
        if last_used is not None and now - parse_timestamp(last_used) < USE_RECORDED_EVERY:
            return
        try:
            with self.context.engine.begin() as conn:
                conn.execute(
                    text("UPDATE api_tokens SET last_used_at = :t WHERE token_id = :i"),
                    {"t": format_timestamp(now), "i": token_id},
                )
        except SQLAlchemyError as exc:  # a note for the admin: never worth refusing a request
            log.warning("the last use of token %s was not recorded: %s", token_id, exc)

    def tokens(self, name: str | None = None, *, revoked: bool = False) -> builtins.list[Token]:
        """The tokens (of ``name``, or everyone's), oldest first; revoked ones only when
        asked for. Short ids are unique among all tokens, revoked ones included, so a short
        id shown once keeps naming one token."""
        self.context.require_schema()
        if name is not None and self.find(name) is None:
            raise NotFound(f"no user {name!r}: see `monitor user list`")
        with self.context.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT token_id, name, label, scope, created_at, last_used_at, revoked_at "
                    "FROM api_tokens ORDER BY created_at, token_id"
                )
            ).all()
        short = short_ids(r[0] for r in rows)
        return [
            Token(r[0], short[r[0]], r[1], r[2], r[3], r[4], r[5], r[6])
            for r in rows
            if (name is None or r[1] == name) and (revoked or r[6] is None)
        ]

    def revoke_token(self, ref: str, *, by: str = "cli") -> Token:
        """Revoke the token whose id is or starts with ``ref`` (8 characters at least): it
        stops working at the next request. Refused when it is revoked already."""
        self.context.require_schema()
        every = self.tokens(revoked=True)
        try:
            token_id = str(resolve(ref, [UUID(t.token_id) for t in every], "token"))
        except NotFound:
            token_id = ""
        token = next((t for t in every if t.token_id == token_id), None)
        if token is None:
            raise NotFound(f"no token {ref.strip()!r}: see `monitor token list --revoked`")
        now = format_timestamp(self.context.clock.now())
        with self.context.engine.begin() as conn:
            revoked = conn.execute(
                text(
                    "UPDATE api_tokens SET revoked_at = :t WHERE token_id = :i "
                    "AND revoked_at IS NULL"
                ),
                {"t": now, "i": token_id},
            ).rowcount
        if not revoked:
            raise CommandRejected(f"token {token.short_id} ({token.label}) is revoked already")
        self._journal(token.name, "token revoked", None, by)
        return dataclasses.replace(token, revoked_at=now)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
