"""Accounts: users with roles (viewer, reviewer, admin) and API tokens for scripts.

Passwords are stored with Argon2id (memory-hard); API tokens are 32 random bytes shown once,
stored as their SHA-256 (a random token needs no slow hash). Both live in their own tables,
never in the event journal, which is exported and shared. Changes to accounts are journalled
without secrets (``UserChanged``), so the audit log shows who granted what.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import text

from monitor.errors import CommandRejected, NotFound
from monitor.events import UserChanged, user_stream
from monitor.ids import uuid7
from monitor.timestamps import format_timestamp
from monitor.writes import VERSION_ONLY

if TYPE_CHECKING:
    from monitor.application.context import Context

ROLES = ("viewer", "reviewer", "admin")
SCOPES = ("api", "feed")
#: Argon2id verifications at once: each takes tens of MiB, and logins must not exhaust memory
_HASHING = threading.BoundedSemaphore(4)
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
MIN_PASSWORD = 12
TOKEN_PREFIX = "mon_"  # noqa: S105 (a recognisable prefix, not a secret)


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
        """The account a live token of ``scope`` belongs to, if the account is live too."""
        with self.context.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT name FROM api_tokens WHERE token_hash = :h AND scope = :s "
                    "AND revoked_at IS NULL"
                ),
                {"h": _digest(token), "s": scope},
            ).first()
        account = self.find(row[0]) if row else None
        return account if account is not None and not account.disabled else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
