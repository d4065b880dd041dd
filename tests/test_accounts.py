"""Accounts: Argon2id passwords, roles, tokens; no secret ever enters the journal."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from monitor import CommandRejected, Monitor
from monitor.application.accounts import Accounts

# Cheap Argon2 parameters for tests only (the defaults are deliberately slow).
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
SECRET = "correct horse battery staple"


def test_users_roles_and_passwords(monitor: Monitor) -> None:
    accounts = Accounts(monitor, FAST)
    alice = accounts.add("alice", "reviewer", SECRET, by="root")
    assert alice.may("viewer")
    assert alice.may("reviewer")
    assert not alice.may("admin")
    assert accounts.authenticate("alice", SECRET) == alice
    assert accounts.authenticate("alice", "wrong password!!") is None
    assert accounts.authenticate("nobody", SECRET) is None
    with pytest.raises(CommandRejected, match="exists already"):
        accounts.add("alice", "admin", SECRET)
    with pytest.raises(CommandRejected) as caught:
        accounts.add("Bad Name", "king", "short")
    assert "name" in str(caught.value)
    assert "role" in str(caught.value)
    assert "password" in str(caught.value)
    accounts.disable("alice", by="root")
    assert accounts.authenticate("alice", SECRET) is None
    assert [a.disabled for a in accounts.list()] == [True]


def test_tokens_and_the_journal_holds_no_secret(monitor: Monitor) -> None:
    accounts = Accounts(monitor, FAST)
    accounts.add("bot", "viewer", SECRET)
    token = accounts.create_token("bot", "nightly export")
    assert token.startswith("mon_")
    assert len(token) > 40
    assert accounts.for_token(token) is not None
    assert accounts.for_token(token + "x") is None
    accounts.disable("bot")
    assert accounts.for_token(token) is None
    journal = "".join(row[6] + row[7] for row in monitor.store.iter_rows())
    assert SECRET not in journal
    assert token not in journal
    assert "argon2" not in journal
    changes = [row[4] for row in monitor.store.iter_rows() if row[2] == "user-bot"]
    assert changes == ["UserChanged"] * 3
