"""The scheduler lease: one `monitor serve` schedules work per database.

SQLite (one host): an exclusive POSIX record lock (``fcntl``/``lockf``) on a file beside the
database. The kernel drops it when the process dies, however it dies, so a stale lock never
blocks a restart. Not ``flock``: a flock belongs to the open file, which the forked parse
workers of a poll round share, so after a ``kill -9`` the lock would live on in them.

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
    """An exclusive lock on ``path`` (SQLite); the file names the holder's pid.

    A POSIX lock belongs to the process (forked children do not inherit it); mind that
    closing *any* descriptor of the file in the holding process drops it, so the holder
    never opens the file a second time (``holder`` is for the processes that lost).
    """

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
            fcntl.lockf(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
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
            fcntl.lockf(self._file.fileno(), fcntl.LOCK_UN)
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
    #: a bigint key shows in pg_locks as classid (high half), objid (low half), objsubid 1
    _LOCKED = (
        "l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
        f"AND ((l.classid::bigint << 32) | l.objid::bigint) = ({_KEY})"
    )
    #: The server notices a leader whose host died (no FIN ever comes) by TCP keepalive
    #: on the lease connection: after about 10 + 3 x 5 s, not the kernel's default 2 hours;
    #: then it frees the lock and a standby takes over.
    _KEEPALIVE = (
        ("tcp_keepalives_idle", 10),
        ("tcp_keepalives_interval", 5),
        ("tcp_keepalives_count", 3),
    )

    def __init__(self, engine: Engine) -> None:
        # A connection of its own, outside the pool: the lock lives as long as it does.
        # (The URL keeps its query, e.g. options=-csearch_path=..., and so the schema.)
        url = make_url(engine.url)
        connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": 10}
        self._engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
        self._conn: Connection | None = None
        self._fd = -1

    def acquire(self) -> bool:
        if self._conn is not None:
            return self.held()
        try:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except DBAPIError as exc:
            log.warning("cannot reach PostgreSQL for the scheduler lease: %s", _first_line(exc))
            return False
        try:
            for name, value in self._KEEPALIVE:
                conn.execute(text(f"SET {name} = {value}"))
            got = bool(conn.execute(text(f"SELECT pg_try_advisory_lock({self._KEY})")).scalar())
        except DBAPIError as exc:
            log.warning("cannot take the scheduler lease: %s", _first_line(exc))
            got = False
        if not got:
            with contextlib.suppress(DBAPIError):
                conn.close()
            return False
        self._conn = conn
        self._hide_from_forks(conn)
        return True

    def _hide_from_forks(self, conn: Connection) -> None:
        """A forked parse worker must not keep the lease's socket: after the leader's
        kill -9 the server would see the session alive until every worker exited."""
        dbapi = conn.connection.dbapi_connection
        fd = getattr(getattr(dbapi, "pgconn", None), "socket", None)
        if isinstance(fd, int) and fd >= 0:
            self._fd = fd
            _LEASE_SOCKETS.add(fd)

    def held(self) -> bool:
        """Still the leader: this session still holds the lock (its connection answers)."""
        if self._conn is None:
            return False
        try:
            mine = self._conn.execute(
                text(
                    f"SELECT EXISTS (SELECT 1 FROM pg_locks l WHERE {self._LOCKED} "
                    "AND l.pid = pg_backend_pid())"
                )
            ).scalar()
        except DBAPIError as exc:
            log.error("lost the scheduler lease (connection failed): %s", _first_line(exc))
            self._drop()
            return False
        if not mine:  # e.g. a pooler in transaction mode between us and the server
            log.error("lost the scheduler lease: this session no longer holds the lock")
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
                        f"SELECT l.pid FROM pg_locks l WHERE {self._LOCKED} "
                        "AND l.database = (SELECT oid FROM pg_database "
                        "WHERE datname = current_database())"
                    )
                ).scalar()
        except DBAPIError:
            return "another host"
        return f"PostgreSQL backend {pid}" if pid else "another host"

    def _drop(self) -> None:
        _LEASE_SOCKETS.discard(self._fd)
        self._fd = -1
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(DBAPIError):
                conn.close()


#: sockets of leases held in this process; a forked child must not keep them open
_LEASE_SOCKETS: set[int] = set()


def _forget_lease_sockets() -> None:
    """In a forked child: put /dev/null where the lease sockets were. Not a plain close:
    the number must not be reused for a file that a stray write (psycopg's goodbye at
    exit) could reach."""
    for fd in list(_LEASE_SOCKETS):
        with contextlib.suppress(OSError):
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, fd)
            os.close(null)
    _LEASE_SOCKETS.clear()


os.register_at_fork(after_in_child=_forget_lease_sockets)


def lease_for(engine: Engine) -> Lease:
    """The lease for this database: a file lock beside SQLite, an advisory lock on PostgreSQL."""
    url = make_url(engine.url)
    if url.get_backend_name() == "sqlite":
        assert url.database
        return FileLease(Path(url.database + ".serve.lock"))
    return AdvisoryLease(engine)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
