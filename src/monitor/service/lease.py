"""The scheduler lease: one `monitor serve` schedules work per database.

SQLite (one host): an exclusive ``flock`` on a file beside the database. The kernel drops it
when the process dies, however it dies, so a stale lock never blocks a restart.

PostgreSQL (several hosts): a session-level advisory lock held on a connection of its own.
When the leader dies its connection closes and the server frees the lock; a standby that
retries every few seconds takes over. The key is derived from the schema name, so two
monitors in two schemas of one database do not contend.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

log = logging.getLogger("monitor.service")


class Lease(Protocol):
    """Who may schedule: ``acquire`` tries without waiting; ``held`` checks it still is."""

    kind: str

    def acquire(self) -> bool: ...

    def held(self) -> bool: ...

    def release(self) -> None: ...

    def holder(self) -> str: ...


class FileLease:
    """An exclusive flock on ``path`` (SQLite); the file names the holder's pid."""

    kind = "file lock"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self) -> bool:
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def holder(self) -> str:
        """The pid written by the holder, if it can be read."""
        try:
            pid = self.path.read_text(encoding="utf-8").strip()
        except OSError:
            return "another process"
        return f"process {pid}" if pid.isdigit() else "another process"


class AdvisoryLease:
    """A PostgreSQL session advisory lock on a connection kept for the lease alone."""

    kind = "advisory lock"

    _KEY = "hashtextextended('monitor-scheduler:' || current_schema(), 0)"

    def __init__(self, engine: Engine) -> None:
        # A connection of its own, outside the pool: the lock lives as long as it does.
        # (The URL keeps its query, e.g. options=-csearch_path=..., and so the schema.)
        self._engine = create_engine(engine.url, poolclass=NullPool)
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        if self._conn is not None:
            return self.held()
        try:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = bool(conn.execute(text(f"SELECT pg_try_advisory_lock({self._KEY})")).scalar())
        except DBAPIError as exc:
            log.warning("cannot reach PostgreSQL for the scheduler lease: %s", _first_line(exc))
            return False
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def held(self) -> bool:
        """Still the leader: the lease connection answers (the lock lives with it)."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            log.error("lost the scheduler lease (connection failed): %s", _first_line(exc))
            self._drop()
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(DBAPIError):  # the connection is gone: so is the lock
                self._conn.execute(text(f"SELECT pg_advisory_unlock({self._KEY})"))
            self._drop()
        self._engine.dispose()

    def holder(self) -> str:
        try:
            with self._engine.connect() as conn:
                pid = conn.execute(
                    text(
                        "SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' "
                        "AND l.granted AND l.database = (SELECT oid FROM pg_database "
                        "WHERE datname = current_database()) "
                        f"AND ((l.classid::bigint << 32) | l.objid::bigint) = ({self._KEY})"
                    )
                ).scalar()
        except DBAPIError:
            return "another host"
        return f"PostgreSQL backend {pid}" if pid else "another host"

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(DBAPIError):
                conn.close()


def lease_for(engine: Engine) -> Lease:
    """The lease for this database: a file lock beside SQLite, an advisory lock on PostgreSQL."""
    url = make_url(engine.url)
    if url.get_backend_name() == "sqlite":
        assert url.database
        return FileLease(Path(url.database + ".serve.lock"))
    return AdvisoryLease(engine)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
