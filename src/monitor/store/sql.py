"""The event store on SQLAlchemy Core: one implementation, two dialect adapters.

Every append runs in one write transaction that is serialised across processes (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL: ``LOCK TABLE events IN EXCLUSIVE MODE``). Inside it the store
reads the stream's version and the chain's head, assigns the next positions itself, hashes
and inserts. Serialising appends is what makes commit order equal position order, so a
reader tailing ``position > last`` never skips an event committed late.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from monitor.clock import Clock, SystemClock
from monitor.errors import (
    ConcurrencyError,
    EventIdConflict,
    IntegrityViolation,
    StoreNotEmpty,
    StoreNotInitialised,
    StoreUnavailable,
)
from monitor.store.hashing import GENESIS_HASH, canonical_json, event_hash
from monitor.store.heads import Head
from monitor.store.records import AppendResult, NewEvent, RecordedEvent, StreamAppend
from monitor.timestamps import format_timestamp, parse_timestamp

_COLUMNS = (
    "position, event_id, stream_id, stream_version, event_type, schema_version, "
    "data, metadata, recorded_at, hash"
)
_STREAM_VERSION = text(
    "SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = :stream_id"
)
_HEAD = text("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1")
_HEAD_AT = text(
    "SELECT position, hash FROM events WHERE position <= :at ORDER BY position DESC LIMIT 1"
)
_READ_STREAM = text(
    f"SELECT {_COLUMNS} FROM events WHERE stream_id = :stream_id "
    "AND stream_version >= :from_version ORDER BY stream_version"
)
_READ_ALL = text(
    f"SELECT {_COLUMNS} FROM events WHERE position > :after ORDER BY position LIMIT :limit"
)
_READ_ALL_UNTIL = text(
    f"SELECT {_COLUMNS} FROM events WHERE position > :after AND position <= :until "
    "ORDER BY position LIMIT :limit"
)

# one row as stored: the tuple order of _COLUMNS
Row = tuple[int, str, str, int, str, int, str, str, str, str]


def row_to_event(row: Sequence[Any]) -> RecordedEvent:
    """Decode one stored row."""
    return RecordedEvent(
        position=row[0],
        event_id=UUID(row[1]),
        stream_id=row[2],
        stream_version=row[3],
        event_type=row[4],
        schema_version=row[5],
        data=json.loads(row[6]),
        metadata=json.loads(row[7]),
        recorded_at=parse_timestamp(row[8]),
        hash=row[9],
    )


class SqlEventStore:
    """Append-only, hash-chained event store on SQLite or PostgreSQL.

    Guarantees: appends are atomic per call (several streams may be appended in one call);
    a stale ``expected_version`` raises :class:`ConcurrencyError` and writes nothing;
    appending events whose ids are all stored already is a no-op; positions are strictly
    increasing in commit order.
    """

    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock: Clock = clock or SystemClock()
        self.dialect = engine.dialect.name
        self._dbapi: Any = engine.dialect.dbapi
        # The driver's own placeholder: sqlite3 takes ?, psycopg takes %s.
        self.placeholder = "?" if self.dialect == "sqlite" else "%s"
        self._sql_head = "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
        # The chain's head and one stream's version in one round trip.
        self._sql_head_and_version = (
            "SELECT (SELECT position FROM events ORDER BY position DESC LIMIT 1), "
            "(SELECT hash FROM events ORDER BY position DESC LIMIT 1), "
            "(SELECT recorded_at FROM events ORDER BY position DESC LIMIT 1), "
            "(SELECT COALESCE(MAX(stream_version), 0) FROM events "
            f"WHERE stream_id = {self.placeholder})"
        )
        self._sql_stream_version = (
            "SELECT COALESCE(MAX(stream_version), 0) FROM events "
            f"WHERE stream_id = {self.placeholder}"
        )
        self._sql_insert = (
            f"INSERT INTO events ({_COLUMNS}) VALUES ({', '.join([self.placeholder] * 10)})"
        )

    # -- transactions ------------------------------------------------------------------

    @contextmanager
    def read_transaction(self) -> Iterator[Connection]:
        """A consistent read-only snapshot."""
        with self._translate_errors(), self.engine.connect() as conn, conn.begin():
            if self.dialect == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield conn

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            message = str(exc.orig) if exc.orig else str(exc)
            if "no such table" in message:
                raise StoreNotInitialised(
                    "the database has no monitor schema yet: run `monitor init`"
                ) from exc
            raise StoreUnavailable(f"database error: {message.strip()}") from exc
        except ProgrammingError as exc:
            message = str(exc.orig) if exc.orig else str(exc)
            if "does not exist" in message and "relation" in message:
                raise StoreNotInitialised(
                    "the database has no monitor schema yet: run `monitor init`"
                ) from exc
            raise

    # -- writing -----------------------------------------------------------------------

    def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int
    ) -> AppendResult:
        """Append ``events`` to ``stream_id`` if it is still at ``expected_version``."""
        return self.append_batch([StreamAppend(stream_id, tuple(events), expected_version)])[0]

    def append_batch(self, appends: Sequence[StreamAppend]) -> list[AppendResult]:
        """Append to several streams in one all-or-nothing transaction."""
        if not appends:
            return []
        ids = [e.event_id for a in appends for e in a.events]
        if len(set(ids)) != len(ids):
            raise ValueError("the same event id appears twice in one append")
        for append in appends:
            if not append.events:
                raise ValueError(f"nothing to append to {append.stream_id!r}")
        integrity_error = self._dbapi.IntegrityError
        try:
            with self._raw_write() as cursor:
                return self._append_locked(cursor, appends, check_ids=False)
        except integrity_error:
            # Optimistic path failed: an event id is stored already. Redo the append checking
            # every id under the lock: whole repeats are no-ops, anything else is refused.
            pass
        try:
            with self._raw_write() as cursor:
                return self._append_locked(cursor, appends, check_ids=True)
        except integrity_error as exc:
            raise EventIdConflict(f"the append conflicts with stored events: {exc}") from exc

    @contextmanager
    def _raw_write(self) -> Iterator[Any]:
        """A serialised write transaction on the driver's own cursor (the hot path).

        SQLAlchemy's statement machinery costs more than the statements themselves here, so
        appends talk to sqlite3 / psycopg directly on a pooled connection.
        """
        with self._translate_errors():
            try:
                fairy = self.engine.raw_connection()
            except OperationalError as exc:
                raise StoreUnavailable(f"database error: {exc.orig}") from exc
            try:
                cursor = fairy.cursor()
                try:
                    if self.dialect == "sqlite":
                        cursor.execute("BEGIN IMMEDIATE")
                    else:
                        cursor.execute("LOCK TABLE events IN EXCLUSIVE MODE")
                    yield cursor
                    fairy.commit()
                except BaseException:
                    fairy.rollback()
                    raise
                finally:
                    cursor.close()
            except self._dbapi.OperationalError as exc:
                raise _missing_schema_or_unavailable(str(exc)) from exc
            except self._dbapi.ProgrammingError as exc:
                if "does not exist" in str(exc):
                    raise _missing_schema_or_unavailable("no such table") from exc
                raise
            finally:
                fairy.close()

    def _append_locked(
        self, cursor: Any, appends: Sequence[StreamAppend], *, check_ids: bool
    ) -> list[AppendResult]:
        cursor.execute(self._sql_head_and_version, (appends[0].stream_id,))
        head_position, head_hash, head_recorded_at, first_version = cursor.fetchone()
        position, previous = (head_position, head_hash) if head_position else (0, GENESIS_HASH)
        # Never before the head: hosts' clocks differ and step back, but "what had been
        # recorded by then" must be a prefix of the journal.
        recorded_at = max(format_timestamp(self.clock.now()), head_recorded_at or "")
        rows: list[tuple[Any, ...]] = []
        results: list[AppendResult] = []
        # versions of streams as of this transaction (the first one came with the head)
        pending: dict[str, int] = {appends[0].stream_id: first_version}
        for append in appends:
            stream_id = append.stream_id
            actual = pending.get(stream_id)
            if actual is None:
                cursor.execute(self._sql_stream_version, (stream_id,))
                actual = cursor.fetchone()[0]
            if check_ids or actual != append.expected_version:
                repeat = self._already_stored(cursor, append)
                if repeat is not None:
                    results.append(repeat)
                    continue
            if actual != append.expected_version:
                raise ConcurrencyError(stream_id, append.expected_version, actual)
            version = actual
            positions = []
            for new in append.events:
                position += 1
                version += 1
                data_json = canonical_json(new.data)
                metadata_json = canonical_json(new.metadata)
                event_id = str(new.event_id)
                previous = event_hash(
                    previous,
                    position=position,
                    event_id=event_id,
                    stream_id=stream_id,
                    stream_version=version,
                    event_type=new.event_type,
                    schema_version=new.schema_version,
                    data_json=data_json,
                    metadata_json=metadata_json,
                    recorded_at=recorded_at,
                )
                rows.append(
                    (
                        position,
                        event_id,
                        stream_id,
                        version,
                        new.event_type,
                        new.schema_version,
                        data_json,
                        metadata_json,
                        recorded_at,
                        previous,
                    )
                )
                positions.append(position)
            pending[stream_id] = version
            results.append(AppendResult(stream_id, version, tuple(positions), True))
        if len(rows) == 1:
            cursor.execute(self._sql_insert, rows[0])
        elif rows:
            cursor.executemany(self._sql_insert, rows)
        return results

    def _already_stored(self, cursor: Any, append: StreamAppend) -> AppendResult | None:
        """The earlier result if every event of ``append`` is stored in that stream."""
        ids = [str(e.event_id) for e in append.events]
        marks = ", ".join([self.placeholder] * len(ids))
        cursor.execute(
            "SELECT event_id, stream_id, stream_version, position FROM events "
            f"WHERE event_id IN ({marks})",
            ids,
        )
        found = cursor.fetchall()
        if not found:
            return None
        if len(found) != len(ids):
            raise EventIdConflict(
                f"{len(found)} of the {len(ids)} event ids appended to {append.stream_id!r} "
                "are stored already: an append is all or nothing, so it cannot be half repeated"
            )
        if any(row[1] != append.stream_id for row in found):
            raise EventIdConflict(
                f"event ids of this append are stored in another stream than {append.stream_id!r}"
            )
        by_id = {row[0]: row for row in found}
        ordered = [by_id[i] for i in ids]
        return AppendResult(
            append.stream_id, ordered[-1][2], tuple(row[3] for row in ordered), False
        )

    # -- reading -----------------------------------------------------------------------

    def stream_version(self, stream_id: str) -> int:
        """How many events ``stream_id`` holds (0 for a stream never written)."""
        with self.read_transaction() as conn:
            return int(conn.execute(_STREAM_VERSION, {"stream_id": stream_id}).scalar_one())

    def read_stream(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]:
        """All events of one stream, in stream order."""
        with self.read_transaction() as conn:
            rows = conn.execute(
                _READ_STREAM, {"stream_id": stream_id, "from_version": from_version}
            ).all()
        return [row_to_event(r) for r in rows]

    def read_all(
        self, after: int = 0, limit: int = 1000, until: int | None = None
    ) -> list[RecordedEvent]:
        """Up to ``limit`` events with ``after < position (<= until)``, in order."""
        return [row_to_event(r) for r in self.read_rows(after, limit, until)]

    def read_rows(self, after: int = 0, limit: int = 1000, until: int | None = None) -> list[Row]:
        """Like :meth:`read_all` but undecoded: the fast path for folds and checks."""
        with self.read_transaction() as conn:
            if until is None:
                result = conn.execute(_READ_ALL, {"after": after, "limit": limit})
            else:
                result = conn.execute(
                    _READ_ALL_UNTIL, {"after": after, "until": until, "limit": limit}
                )
            return [tuple(r) for r in result]

    def read_window(
        self, after: int, until: int, event_types: Iterable[str]
    ) -> list[RecordedEvent]:
        """Events of these types with ``after < position <= until``, in order."""
        types = sorted(set(event_types))
        if not types or until <= after:
            return []
        with self.read_transaction() as conn:
            rows = conn.execute(
                text(
                    f"SELECT {_COLUMNS} FROM events WHERE position > :after "
                    "AND position <= :until AND event_type IN :types ORDER BY position"
                ).bindparams(bindparam("types", expanding=True)),
                {"after": after, "until": until, "types": types},
            ).all()
        return [row_to_event(r) for r in rows]

    def read_streams(self, stream_ids: Sequence[str], event_types: Iterable[str]) -> list[Row]:
        """Undecoded events of these types in any of ``stream_ids``, in journal order."""
        types = sorted(set(event_types))
        if not stream_ids or not types:
            return []
        with self.read_transaction() as conn:
            rows = conn.execute(
                text(
                    f"SELECT {_COLUMNS} FROM events WHERE stream_id IN :streams "
                    "AND event_type IN :types ORDER BY position"
                ).bindparams(
                    bindparam("streams", expanding=True), bindparam("types", expanding=True)
                ),
                {"streams": list(stream_ids), "types": types},
            ).all()
        return [tuple(r) for r in rows]

    def position_at(self, moment: datetime) -> int:
        """The position of the last event recorded by ``moment`` (0 if none).

        Recorded times never go backwards along the journal, so this splits it in two.
        """
        with self.read_transaction() as conn:
            value = conn.execute(
                text("SELECT MAX(position) FROM events WHERE recorded_at <= :moment"),
                {"moment": format_timestamp(moment)},
            ).scalar()
        return int(value or 0)

    def iter_rows(self, after: int = 0, batch: int = 5000) -> Iterator[Row]:
        """Every stored row from ``after`` on, fetched in batches."""
        while True:
            rows = self.read_rows(after, batch)
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1][0]

    def read_recent(
        self,
        limit: int = 100,
        *,
        before: int | None = None,
        event_type: str | None = None,
        stream_prefix: str | None = None,
        actor: str | None = None,
    ) -> list[RecordedEvent]:
        """The newest events first (for the audit log), optionally filtered; every filter is
        applied by the database, so ``limit`` events that match come back if there are."""
        clauses, params = [], {"limit": limit}
        if before is not None:
            clauses.append("position < :before")
            params["before"] = before
        if event_type:
            clauses.append("event_type = :event_type")
            params["event_type"] = event_type  # type: ignore[assignment]
        if stream_prefix:
            # substr, not LIKE: stream ids contain "_" and "%" would be wildcards.
            clauses.append("substr(stream_id, 1, :prefix_length) = :prefix")
            params["prefix_length"] = len(stream_prefix)
            params["prefix"] = stream_prefix  # type: ignore[assignment]
        if actor:
            # metadata is canonical JSON text: read its "actor" key in the database
            if self.engine.dialect.name == "postgresql":
                clauses.append("(CAST(metadata AS jsonb) ->> 'actor') = :actor")
            else:
                clauses.append("json_extract(metadata, '$.actor') = :actor")
            params["actor"] = actor  # type: ignore[assignment]
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        with self.read_transaction() as conn:
            rows = conn.execute(
                text(f"SELECT {_COLUMNS} FROM events{where} ORDER BY position DESC LIMIT :limit"),
                params,
            ).all()
        return [row_to_event(r) for r in rows]

    def read_positions(self, positions: Iterable[int]) -> list[RecordedEvent]:
        """The events at these positions, in order (what an append just wrote)."""
        wanted = sorted(set(positions))
        if not wanted:
            return []
        with self.read_transaction() as conn:
            rows = conn.execute(
                text(
                    f"SELECT {_COLUMNS} FROM events WHERE position IN :positions ORDER BY position"
                ).bindparams(bindparam("positions", expanding=True)),
                {"positions": wanted},
            ).all()
        return [row_to_event(r) for r in rows]

    def read_event(self, event_id: UUID) -> RecordedEvent | None:
        """One event by its id."""
        with self.read_transaction() as conn:
            row = conn.execute(
                text(f"SELECT {_COLUMNS} FROM events WHERE event_id = :e"), {"e": str(event_id)}
            ).first()
        return row_to_event(row) if row else None

    def event_id_neighbours(self, event_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Each event id's neighbours in the journal's sorted ids (the one before and the
        one after, on the unique index): the ids it shares the longest start with."""
        before = text("SELECT MAX(event_id) FROM events WHERE event_id < :e")
        after = text("SELECT MIN(event_id) FROM events WHERE event_id > :e")
        found: dict[str, tuple[str, ...]] = {}
        with self.read_transaction() as conn:
            for event_id in event_ids:
                near = (conn.execute(q, {"e": event_id}).scalar() for q in (before, after))
                found[event_id] = tuple(str(n) for n in near if n is not None)
        return found

    def event_ids_starting(self, prefix: str, limit: int = 2) -> list[UUID]:
        """Up to ``limit`` event ids that start with ``prefix`` (lowercase hex and hyphens),
        found on the unique index by range: ids are text, so every id starting with the
        prefix sorts between it and the prefix followed by a character above them all."""
        with self.read_transaction() as conn:
            rows = conn.execute(
                text(
                    "SELECT event_id FROM events WHERE event_id >= :low AND event_id < :high "
                    "ORDER BY event_id LIMIT :limit"
                ),
                {"low": prefix, "high": prefix + "~", "limit": limit},
            ).all()
        return [UUID(row[0]) for row in rows]

    def last_position(self) -> int:
        """The position of the newest event (0 for an empty store)."""
        with self.read_transaction() as conn:
            head = conn.execute(_HEAD).first()
        return int(head[0]) if head else 0

    def head(self, at: int | None = None) -> Head:
        """The position and chain hash of the newest event, or of the event at ``at`` (the
        newest before it when positions skip); position 0 and the genesis hash before any."""
        with self.read_transaction() as conn:
            if at is None:
                row = conn.execute(_HEAD).first()
            else:
                row = conn.execute(_HEAD_AT, {"at": at}).first()
        return Head(int(row[0]), str(row[1])) if row else Head(0, GENESIS_HASH)

    # -- import ------------------------------------------------------------------------

    def import_rows(self, rows: Iterator[tuple[Any, ...]]) -> int:
        """Insert exported rows unchanged (positions, times, hashes) into an empty store.

        The caller checks the chain; this refuses a non-empty store and is all or nothing.
        """
        count = 0
        try:
            with self._raw_write() as cursor:
                cursor.execute(self._sql_head)
                if cursor.fetchone() is not None:
                    raise StoreNotEmpty("import needs an empty store: this one already has events")
                chunk: list[tuple[Any, ...]] = []
                for row in rows:
                    chunk.append(row)
                    if len(chunk) >= 5000:
                        cursor.executemany(self._sql_insert, chunk)
                        count += len(chunk)
                        chunk = []
                if chunk:
                    cursor.executemany(self._sql_insert, chunk)
                    count += len(chunk)
        except self._dbapi.IntegrityError as exc:
            raise IntegrityViolation(f"the journal breaks a constraint: {exc}") from exc
        return count


def _missing_schema_or_unavailable(message: str) -> Exception:
    if "no such table" in message or "does not exist" in message:
        return StoreNotInitialised("the database has no monitor schema yet: run `monitor init`")
    return StoreUnavailable(f"database error: {message.strip()}")
