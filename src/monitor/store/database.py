"""Engines for the two supported databases, configured for the event store's guarantees.

SQLite (the embedded default): WAL so readers never block the writer, a busy timeout so
concurrent writers wait instead of failing, ``synchronous=FULL`` (by default) so a commit
survives power loss, and ``BEGIN IMMEDIATE`` for write transactions (a deferred BEGIN that
later upgrades to a write lock fails with "database is locked" under concurrent writers).

PostgreSQL: plain connection pool; appends serialise themselves with a table lock.

The SQLite file, its -wal and -shm, and the folder made for them are owner-only.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import ConnectionPoolEntry

from monitor.errors import ConfigError
from monitor.files import private_file, private_folder

#: execution option that turns a transaction into a write transaction on SQLite
WRITE = {"monitor_write": True}

SQLITE_BUSY_TIMEOUT_MS = 30_000


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of an SQLite file."""
    return f"sqlite:///{path}"


SYNCHRONOUS = ("full", "normal")


def make_engine(url: str, *, sqlite_synchronous: str = "full", **kwargs: Any) -> Engine:
    """Build the engine for ``url``: ``sqlite:///FILE`` or ``postgresql://...``.

    ``sqlite_synchronous``: ``full`` (default) fsyncs the WAL at every commit, so a commit
    survives a power cut like a PostgreSQL commit does; ``normal`` survives a crash of
    monitor but may lose the last commits on a power cut or OS crash (never corrupting).
    """
    if sqlite_synchronous not in SYNCHRONOUS:
        raise ConfigError(
            f"database.sqlite_synchronous: {sqlite_synchronous!r} is not one of full, normal"
        )
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"database url {url!r} is not a valid URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ConfigError("an in-memory SQLite database cannot hold a journal: give a file")
        database = Path(parsed.database)
        folder = database.parent
        try:
            private_folder(folder)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the data folder {folder}: {exc.strerror} "
                "(check paths.data_dir / MONITOR_DATA_DIR)"
            ) from exc
        engine = create_engine(
            parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        _configure_sqlite(engine, sqlite_synchronous.upper(), database)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True, **kwargs)
    raise ConfigError(
        f"database url {url!r}: unsupported backend {backend!r}; use sqlite:///FILE or "
        "postgresql://USER@HOST/DB"
    )


def _configure_sqlite(engine: Engine, synchronous: str, database: Path) -> None:
    @event.listens_for(engine, "do_connect")
    def _before_connect(*_: Any) -> None:
        # SQLite would create the file readable by all (0644 under the usual umask), and
        # its -wal and -shm after it: made first, owner-only, all three are. A file that
        # cannot be made here is left to SQLite, whose error says so as it always did.
        with contextlib.suppress(OSError):
            private_file(database)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" event below decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA synchronous = {synchronous}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("monitor_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
