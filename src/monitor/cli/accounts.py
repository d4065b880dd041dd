"""Accounts: ``monitor user add|list|disable|enable`` and ``monitor token create|list|revoke``.

The sub-apps ``user`` and ``token`` are this module's own; the root app (:mod:`monitor.cli`)
adds them.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Annotated

import typer

from monitor.cli.options import ByOpt, JsonOpt, open_monitor
from monitor.cli.output import out, print_json, timestamp
from monitor.cli.tables import Column, print_table
from monitor.dates import local
from monitor.errors import MonitorError

user_app = typer.Typer(help="Accounts: viewers, reviewers, admins.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for scripts.", no_args_is_help=True)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise MonitorError("no terminal to ask for the password: use --password-stdin")
    first = typer.prompt("password", hide_input=True)
    if typer.prompt("again", hide_input=True) != first:
        raise MonitorError("the two passwords differ: nothing changed")
    return str(first)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Login name: lowercase, digits, . _ -")],
    role: Annotated[str, typer.Option(help="viewer, reviewer or admin.")] = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    by: ByOpt = "cli",
) -> None:
    """Add a user (the password is asked for, and stored with Argon2id)."""
    with open_monitor() as monitor:
        account = monitor.accounts.add(name, role, _read_password(password_stdin), by=by)
    out.print(f"added {account.name} ({account.role})")


@user_app.command("list")
def user_list(as_json: JsonOpt = False) -> None:
    """Every user with role and state."""
    with open_monitor() as monitor:
        accounts = monitor.accounts.list()
    if as_json:
        print_json([dataclasses.asdict(a) for a in accounts])
        return
    for a in accounts:
        out.print(f"{a.name:<20} {a.role:<9} {'disabled' if a.disabled else 'active'}")


@user_app.command("disable")
def user_disable(name: Annotated[str, typer.Argument()], by: ByOpt = "cli") -> None:
    """Lock a user out; their name stays in the history."""
    with open_monitor() as monitor:
        monitor.accounts.disable(name, by=by)
    out.print(f"disabled {name}")


@user_app.command("enable")
def user_enable(name: Annotated[str, typer.Argument()], by: ByOpt = "cli") -> None:
    """Let a disabled user in again (their tokens not revoked work again too)."""
    with open_monitor() as monitor:
        changed = monitor.accounts.enable(name, by=by)
    out.print(f"enabled {name}" if changed else f"{name} is enabled already: nothing changed")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="The user the token acts as.")],
    label: Annotated[str, typer.Option(help="What the token is for.")] = "script",
    feed: Annotated[
        bool, typer.Option("--feed", help="A token that can only read the Atom feed (for URLs).")
    ] = False,
    by: ByOpt = "cli",
) -> None:
    """Create an API token (printed once: store it now; only its hash is kept)."""
    with open_monitor() as monitor:
        token = monitor.accounts.create_token(name, label, by=by, scope="feed" if feed else "api")
    sys.stdout.write(token + "\n")


@token_app.command("list")
def token_list(
    name: Annotated[str | None, typer.Argument(help="Only this user's tokens.")] = None,
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked tokens.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Tokens: id, user, label, scope, created, last used (never the secret)."""
    with open_monitor() as monitor:
        tokens = monitor.accounts.tokens(name, revoked=revoked)
        zone = monitor.settings.timezone
    if as_json:
        print_json([dataclasses.asdict(t) for t in tokens])
        return
    columns = [
        Column("id", key=True),
        Column("user", one_line=True),
        Column("label"),
        Column("scope", one_line=True),
        Column("created", one_line=True),
        Column("last used", one_line=True),
    ]
    if revoked:
        columns.append(Column("revoked", one_line=True))
    rows = [
        [
            t.short_id,
            t.name,
            t.label,
            t.scope,
            local(timestamp(t.created_at), zone),
            local(timestamp(t.last_used_at), zone) or "never",
            local(timestamp(t.revoked_at), zone),
        ][: len(columns)]
        for t in tokens
    ]
    print_table(f"{len(tokens)} token(s)", columns, rows)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id, or its first 8+ characters.")],
    by: ByOpt = "cli",
) -> None:
    """Revoke a token: the next request with it is refused."""
    with open_monitor() as monitor:
        token = monitor.accounts.revoke_token(token_id, by=by)
    out.print(f"revoked token {token.short_id} of {token.name} ({token.label})")
