"""Schema creation and upgrades through Alembic, on the connection monitor owns."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from monitor.errors import StoreUnavailable

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@cache
def head_revision() -> str:
    """The newest revision this code knows (read once: the scripts ship with the code)."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


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
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision`` in one transaction."""
    config = _config()
    with _reachable(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Several hosts starting `monitor serve` at once: one migrates, the others wait
            # for it and then find nothing to do.
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('monitor-migrate'))"))
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
