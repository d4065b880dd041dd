"""Running a projection: batches of events applied with the checkpoint, in one transaction.

Each batch of events and the checkpoint that follows it are written in the same
transaction, so a crash never applies an event twice or skips one. Catch-up is serialised
(SQLite: BEGIN IMMEDIATE; PostgreSQL: the checkpoint row is locked FOR UPDATE), so two
processes never apply the same batch. ``rebuild`` empties the read models and folds the
whole journal again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

from sqlalchemy import text

from monitor.store.database import WRITE
from monitor.store.sql import Row, SqlEventStore

Progress = Callable[[int, int], None]


class Projection:
    """Base of read models: subclasses name their tables and fold a batch of rows."""

    name: ClassVar[str]
    #: tables emptied by a rebuild, children first
    tables: ClassVar[tuple[str, ...]]

    def __init__(self, store: SqlEventStore, batch_size: int = 10_000) -> None:
        self.store = store
        self.batch_size = batch_size
        self.mark = mark = store.placeholder
        self._sql_events = (
            "SELECT position, event_id, stream_id, stream_version, event_type, schema_version, "
            f"data, metadata, recorded_at, hash FROM events WHERE position > {mark} "
            f"ORDER BY position LIMIT {mark}"
        )
        self._sql_status = text(
            "SELECT (SELECT max(position) FROM events), "
            "(SELECT position FROM projection_checkpoints WHERE name = :n)"
        )
        self._sql_checkpoint = (
            f"UPDATE projection_checkpoints SET position = {mark} WHERE name = {mark}"
        )

    def apply(self, cursor: Any, rows: Sequence[Row]) -> None:
        """Fold ``rows`` (in position order) into the read models through ``cursor``."""
        raise NotImplementedError

    def catch_up(self, progress: Progress | None = None, *, batches: int | None = None) -> int:
        """Apply every event after the checkpoint (or at most ``batches`` batches of them);
        returns how many were read."""
        if self.up_to_date():
            return 0
        total = 0
        target = self.store.last_position() if progress else 0
        while True:
            with self._locked() as (cursor, checkpoint):
                cursor.execute(self._sql_events, (checkpoint, self.batch_size))
                rows: list[Row] = cursor.fetchall()
                if not rows:
                    return total
                self.apply(cursor, rows)
                cursor.execute(self._sql_checkpoint, (rows[-1][0], self.name))
            total += len(rows)
            if progress:
                progress(rows[-1][0], target)
            if len(rows) < self.batch_size:
                return total
            if batches is not None:
                batches -= 1
                if batches <= 0:
                    return total

    def up_to_date(self) -> bool:
        """True when the checkpoint is at the newest event: one read, no write lock.

        Every page and command catches up first; this keeps that to one indexed read when
        nothing is new. An event committed just after the check is simply not yet applied,
        as if the check had run a moment earlier.
        """
        with self.store.read_transaction() as conn:
            row = conn.execute(self._sql_status, {"n": self.name}).first()
        return row is not None and row[1] is not None and int(row[1]) >= int(row[0] or 0)

    def rebuild(self, progress: Progress | None = None) -> int:
        """Empty the read models and fold the whole journal again."""
        with self._locked() as (cursor, _checkpoint):
            for table in self.tables:
                cursor.execute(f"DELETE FROM {table}")
            cursor.execute(self._sql_checkpoint, (0, self.name))
        return self.catch_up(progress)

    def checkpoint(self) -> int:
        """The position of the last event applied."""
        with self.store.read_transaction() as conn:
            value = conn.execute(
                text("SELECT position FROM projection_checkpoints WHERE name = :n"),
                {"n": self.name},
            ).scalar()
        return int(value or 0)

    @contextmanager
    def _locked(self) -> Iterator[tuple[Any, int]]:
        """A write transaction holding the checkpoint; yields the driver's cursor in it."""
        with self.store._translate_errors(), self.store.engine.connect() as raw:
            conn = raw.execution_options(**WRITE)
            with conn.begin():
                # Migrations seed the row; this covers projections added later, and two
                # processes racing here both succeed.
                conn.execute(
                    text(
                        "INSERT INTO projection_checkpoints (name, position) VALUES (:n, 0) "
                        "ON CONFLICT (name) DO NOTHING"
                    ),
                    {"n": self.name},
                )
                lock = " FOR UPDATE" if self.store.dialect == "postgresql" else ""
                checkpoint = conn.execute(
                    text(f"SELECT position FROM projection_checkpoints WHERE name = :n{lock}"),
                    {"n": self.name},
                ).scalar_one()
                cursor = conn.connection.cursor()
                try:
                    yield cursor, int(checkpoint)
                finally:
                    cursor.close()
