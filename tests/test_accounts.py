"""Accounts: Argon2id passwords, roles, tokens; no secret ever enters the journal."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from monitor import CommandRejected, FixedClock, Monitor, NotFound
from monitor.application.accounts import Accounts

from .test_cli import run

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


def test_tokens_are_listed_without_secrets_and_revoked_by_a_prefix(
    monitor: Monitor, clock: FixedClock
) -> None:
    accounts = Accounts(monitor, FAST)
    accounts.add("bot", "viewer", SECRET)
    accounts.add("reader", "viewer", SECRET)
    export = accounts.create_token("bot", "nightly export")
    feed = accounts.create_token("reader", "feed reader", scope="feed")
    listed = accounts.tokens()
    assert [(t.name, t.label, t.scope, t.last_used_at) for t in listed] == [
        ("bot", "nightly export", "api", None),
        ("reader", "feed reader", "feed", None),
    ]
    assert all(len(t.short_id) >= 8 and t.token_id.startswith(t.short_id) for t in listed)
    assert len({t.short_id for t in listed}) == 2
    shown = repr(listed)
    assert export not in shown
    assert export[len("mon_") :] not in shown
    assert [t.label for t in accounts.tokens("reader")] == ["feed reader"]
    with pytest.raises(NotFound, match="monitor user list"):
        accounts.tokens("nobody")

    # A use is remembered, to the hour: a second use within the hour writes nothing.
    assert accounts.for_token(export) is not None
    first_use = accounts.tokens("bot")[0].last_used_at
    assert first_use == "2026-01-15T12:00:00.000000Z"
    clock.advance(timedelta(minutes=59))
    assert accounts.for_token(export) is not None
    assert accounts.tokens("bot")[0].last_used_at == first_use
    clock.advance(timedelta(minutes=2))
    assert accounts.for_token(export) is not None
    assert accounts.tokens("bot")[0].last_used_at == "2026-01-15T13:01:00.000000Z"
    # a refused token is not a use
    assert accounts.for_token(feed) is None  # a feed token is no API token
    assert accounts.tokens("reader")[0].last_used_at is None

    bot_token = listed[0]
    with pytest.raises(CommandRejected, match="at least 8 characters"):
        accounts.revoke_token(bot_token.token_id[:7])
    with pytest.raises(NotFound, match="monitor token list"):
        accounts.revoke_token("ffffffff")
    revoked = accounts.revoke_token(bot_token.short_id.upper(), by="root")
    assert (revoked.token_id, revoked.revoked_at) == (
        bot_token.token_id,
        "2026-01-15T13:01:00.000000Z",
    )
    assert accounts.for_token(export) is None  # at once
    assert accounts.for_token(feed, scope="feed") is not None  # the other one still works
    with pytest.raises(CommandRejected, match="revoked already"):
        accounts.revoke_token(bot_token.token_id)
    assert [t.label for t in accounts.tokens()] == ["feed reader"]
    assert [t.revoked_at is not None for t in accounts.tokens(revoked=True)] == [True, False]
    changes = [
        (e.data["name"], e.data["change"], e.data["by"])
        for e in monitor.store.read_recent(10, event_type="UserChanged")
    ]
    assert changes[0] == ("bot", "token revoked", "root")


def test_a_disabled_user_can_be_enabled_again(monitor: Monitor) -> None:
    accounts = Accounts(monitor, FAST)
    accounts.add("ana", "reviewer", SECRET)
    token = accounts.create_token("ana", "script")
    accounts.disable("ana", by="root")
    assert accounts.authenticate("ana", SECRET) is None
    assert accounts.for_token(token) is None
    assert accounts.enable("ana", by="root") is True
    assert accounts.authenticate("ana", SECRET) is not None
    assert accounts.for_token(token) is not None
    assert accounts.enable("ana") is False  # enabled already: nothing journalled
    with pytest.raises(NotFound, match="monitor user list"):
        accounts.enable("nobody")
    changes = [e.data["change"] for e in monitor.store.read_recent(10, event_type="UserChanged")]
    assert changes[:2] == ["enabled", "disabled"]


def _run(project: Path, *args: str, stdin: str = "", code: int = 0) -> str:
    proc = run(project, *args, stdin=stdin, code=code)
    return proc.stdout + proc.stderr


def test_token_list_revoke_and_user_enable_on_the_command_line(monitor: Monitor) -> None:
    project = monitor.settings.base_dir
    _run(project, "user", "add", "bot", "--password-stdin", stdin=SECRET + "\n")
    secret = _run(project, "token", "create", "bot", "--label", "nightly export").strip()
    _run(project, "token", "create", "bot", "--label", "feed reader", "--feed")
    listed = json.loads(_run(project, "token", "list", "--json"))
    assert [(t["name"], t["label"], t["scope"]) for t in listed] == [
        ("bot", "nightly export", "api"),
        ("bot", "feed reader", "feed"),
    ]
    table = _run(project, "token", "list")
    assert "nightly export" in table
    assert "feed reader" in table
    assert "never" in table  # not used yet
    assert secret not in table
    assert listed[0]["short_id"] in table
    short = _run(project, "token", "revoke", listed[0]["token_id"][:4], code=2)
    assert "at least 8 characters" in short
    said = _run(project, "token", "revoke", listed[0]["short_id"], "--by", "root")
    assert said.startswith(f"revoked token {listed[0]['short_id']} of bot (nightly export)")
    again = _run(project, "token", "revoke", listed[0]["token_id"], code=2)
    assert "revoked already" in again
    assert [t["label"] for t in json.loads(_run(project, "token", "list", "bot", "--json"))] == [
        "feed reader"
    ]
    everything = _run(project, "token", "list", "--revoked")
    assert "nightly export" in everything
    assert "revoked" in everything

    _run(project, "user", "disable", "bot")
    assert json.loads(_run(project, "user", "list", "--json"))[0]["disabled"] is True
    assert _run(project, "user", "enable", "bot").strip() == "enabled bot"
    assert json.loads(_run(project, "user", "list", "--json"))[0]["disabled"] is False
    assert "enabled already" in _run(project, "user", "enable", "bot")
    assert "monitor user list" in _run(project, "user", "enable", "nobody", code=2)
