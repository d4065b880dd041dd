"""Schema creation and upgrades through Alembic, on the connection monitor owns."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from monitor.errors import StoreUnavailable

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
#: the newest revision of the scripts in migrations/versions (a test compares it with what
#: Alembic finds there): checking a database's schema needs no Alembic, only migrating does
HEAD_REVISION = "0010"


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest revision this code knows."""
    return HEAD_REVISION


@cache
def scripts_head() -> str | None:
    """The newest revision as Alembic reads it from the scripts (for the test of
    :data:`HEAD_REVISION`)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


@contextmanager
def _reachable(engine: Engine) -> Iterator[None]:
    try:
        yield
    except OperationalError as exc:
        where = engine.url.render_as_string(hide_password=True)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreUnavailable(
            f"cannot use the database {where}: {reason} "
            "(check database.database_url / MONITOR_DATABASE_URL)"
        ) from exc


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with _reachable(engine), engine.connect() as conn:
        # what Alembic's MigrationContext.get_current_revision() reads, without loading it
        if not inspect(conn).has_table("alembic_version"):
            return None
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        if len(versions) > 1:
            raise StoreUnavailable(f"the database has several schema heads: {sorted(versions)}")
        return versions[0] if versions else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision`` in one transaction."""
    from alembic import command

    config = _config()
    with _reachable(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Several hosts starting `monitor serve` at once: one migrates, the others wait
            # for it and then find nothing to do.
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('monitor-migrate'))"))
            _create_missing_schema(conn)
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def _create_missing_schema(conn: Connection) -> None:
    """Create the schema a PostgreSQL URL names in its search_path when it does not exist
    (``?options=-csearch_path%3Dmonitor``): initialising is what creates things. Without
    it PostgreSQL has nowhere to put the tables and Alembic fails with a page of SQL."""
    if conn.execute(text("SELECT current_schema()")).scalar() is not None:
        return
    path = str(conn.execute(text("SHOW search_path")).scalar() or "")
    names = [n.strip().strip('"') for n in path.split(",")]
    wanted = next((n for n in names if n and n != "$user"), None)
    if wanted is None:
        raise StoreUnavailable(
            f"the database URL's search_path ({path or 'empty'}) names no schema to use: "
            "add ?options=-csearch_path%3DNAME to database.database_url"
        )
    try:
        conn.execute(
            text(f"CREATE SCHEMA IF NOT EXISTS {conn.dialect.identifier_preparer.quote(wanted)}")
        )
    except ProgrammingError as exc:  # no right to create it
        raise StoreUnavailable(
            f"the schema {wanted!r} in the database URL's search_path does not exist and "
            f"this user may not create it: ask an administrator to run "
            f"CREATE SCHEMA {wanted}; (then `monitor init` again)"
        ) from exc
