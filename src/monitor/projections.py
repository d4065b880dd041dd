"""Read models folded from the journal: current status, timeline, counts.

Each batch of events is applied in one transaction together with the projection's
checkpoint, so a crash never applies an event twice or skips one. ``rebuild`` empties the
read models and folds the whole journal again; the result equals the live projection.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text
from sqlmodel import Field, SQLModel

from monitor.commitment import EventContext, fold
from monitor.events import REGISTRY, Status
from monitor.store.database import WRITE
from monitor.store.hashing import format_timestamp, parse_timestamp
from monitor.store.sql import Row, SqlEventStore, row_to_event

NAME = "commitments"
COMMITMENT_PREFIX = "commitment-"
SUMMARY_LIMIT = 500

Progress = Callable[[int, int], None]


class ProjectionCheckpoint(SQLModel, table=True):
    __tablename__ = "projection_checkpoints"
    name: str = Field(primary_key=True, max_length=100)
    position: int


class CommitmentView(SQLModel, table=True):
    __tablename__ = "commitment_view"
    commitment_id: str = Field(primary_key=True, max_length=100)
    statement_id: str = Field(max_length=100)
    title: str
    status: str = Field(max_length=40)
    status_effective_at: str | None = Field(default=None, max_length=32)
    last_assessed_at: str | None = Field(default=None, max_length=32)
    made_on: str = Field(max_length=10)
    deadline: str | None = Field(default=None, max_length=10)
    topics: str
    parties: str
    retired: bool
    evidence_count: int
    note_count: int
    version: int
    updated_at: str = Field(max_length=32)


class CommitmentTopicView(SQLModel, table=True):
    __tablename__ = "commitment_topic_view"
    commitment_id: str = Field(primary_key=True, max_length=100)
    topic: str = Field(primary_key=True, max_length=100)


class TimelineView(SQLModel, table=True):
    __tablename__ = "timeline_view"
    position: int = Field(primary_key=True)
    commitment_id: str = Field(max_length=100)
    event_type: str = Field(max_length=100)
    event_id: str = Field(max_length=36)
    effective_at: str | None = Field(default=None, max_length=32)
    recorded_at: str = Field(max_length=32)
    actor: str | None = Field(default=None, max_length=200)
    summary: str


_VIEW_COLUMNS = [c for c in CommitmentView.model_fields if c != "commitment_id"]
_INSERT_VIEW = text(
    "INSERT INTO commitment_view (commitment_id, " + ", ".join(_VIEW_COLUMNS) + ") VALUES "
    "(:commitment_id, " + ", ".join(f":{c}" for c in _VIEW_COLUMNS) + ")"
)
_UPDATE_VIEW = text(
    "UPDATE commitment_view SET "
    + ", ".join(f"{c} = :{c}" for c in _VIEW_COLUMNS)
    + " WHERE commitment_id = :commitment_id"
)
_INSERT_TIMELINE = text(
    "INSERT INTO timeline_view (position, commitment_id, event_type, event_id, effective_at, "
    "recorded_at, actor, summary) VALUES (:position, :commitment_id, :event_type, :event_id, "
    ":effective_at, :recorded_at, :actor, :summary)"
)
_EVENTS_AFTER = text(
    "SELECT position, event_id, stream_id, stream_version, event_type, schema_version, data, "
    "metadata, recorded_at, hash FROM events WHERE position > :after ORDER BY position "
    "LIMIT :limit"
)


def _clip(value: str, limit: int = SUMMARY_LIMIT) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _summary(event_type: str, data: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(one-line summary, effective_at, actor) of a commitment event for the timeline."""
    if event_type == "CommitmentRegistered":
        return f"registered: {_clip(data['title'])}", None, None
    if event_type == "CommitmentRevised":
        fields = ", ".join(sorted(data["changes"]))
        return _clip(f"revised {fields}: {data['reason']}"), None, None
    if event_type == "CommitmentRetired":
        return _clip(f"retired: {data['reason']}"), None, None
    if event_type == "CommitmentReinstated":
        return _clip(f"reinstated: {data['reason']}"), None, None
    if event_type == "EvidenceAccepted":
        label = f"{data['title']} <{data['url']}>" if data.get("title") else data["url"]
        return _clip(f"evidence accepted: {label}"), None, data["accepted_by"]
    if event_type == "EvidenceRetracted":
        return (
            _clip(f"evidence {data['evidence_id']} retracted: {data['reason']}"),
            None,
            data["retracted_by"],
        )
    if event_type == "StatusAssessed":
        return (
            _clip(f"{data['previous_status']} → {data['status']}: {data['rationale']}"),
            data["effective_at"],
            data["assessor"],
        )
    if event_type == "AssessmentCorrected":
        return (
            _clip(
                f"assessment {data['assessment_id']} corrected to {data['status']}: "
                f"{data['reason']}"
            ),
            data["effective_at"],
            data["corrected_by"],
        )
    if event_type == "NoteAdded":
        return _clip(f"note: {data['text']}"), None, data["author"]
    return event_type, None, None


def _normalise_time(value: str | None) -> str | None:
    return format_timestamp(parse_timestamp(value)) if value else None


@dataclass(slots=True)
class _Batch:
    views: dict[str, dict[str, Any]]
    existing: set[str]
    timeline: list[dict[str, Any]]
    topics: dict[str, list[str]]
    refold: set[str]


class CommitmentProjection:
    """The commitment read models (status, topics, timeline) and their checkpoint."""

    def __init__(self, store: SqlEventStore, batch_size: int = 10_000) -> None:
        self.store = store
        self.batch_size = batch_size

    # -- running ------------------------------------------------------------------------

    def catch_up(self, progress: Progress | None = None) -> int:
        """Apply every event after the checkpoint; returns how many were read."""
        total = 0
        target = self.store.last_position() if progress else 0
        while True:
            with self._locked() as (conn, checkpoint):
                rows = conn.execute(
                    _EVENTS_AFTER, {"after": checkpoint, "limit": self.batch_size}
                ).all()
                if not rows:
                    return total
                self._apply(conn, [tuple(r) for r in rows])
                conn.execute(
                    text("UPDATE projection_checkpoints SET position = :p WHERE name = :n"),
                    {"p": rows[-1][0], "n": NAME},
                )
            total += len(rows)
            if progress:
                progress(rows[-1][0], target)
            if len(rows) < self.batch_size:
                return total

    def rebuild(self, progress: Progress | None = None) -> int:
        """Empty the read models and fold the whole journal again."""
        with self._locked() as (conn, _checkpoint):
            for table in ("timeline_view", "commitment_topic_view", "commitment_view"):
                conn.execute(text(f"DELETE FROM {table}"))
            conn.execute(
                text("UPDATE projection_checkpoints SET position = 0 WHERE name = :n"),
                {"n": NAME},
            )
        return self.catch_up(progress)

    def checkpoint(self) -> int:
        with self.store.read_transaction() as conn:
            value = conn.execute(
                text("SELECT position FROM projection_checkpoints WHERE name = :n"), {"n": NAME}
            ).scalar()
        return int(value or 0)

    @contextmanager
    def _locked(self) -> Iterator[tuple[Connection, int]]:
        """A write transaction holding the checkpoint (SQLite: BEGIN IMMEDIATE; PG: FOR UPDATE)."""
        with self.store._translate_errors(), self.store.engine.connect() as raw:
            conn = raw.execution_options(**WRITE)
            with conn.begin():
                conn.execute(
                    text(
                        "INSERT INTO projection_checkpoints (name, position) "
                        "SELECT CAST(:n AS VARCHAR(100)), 0 WHERE NOT EXISTS "
                        "(SELECT 1 FROM projection_checkpoints WHERE name = :n)"
                    ),
                    {"n": NAME},
                )
                lock = " FOR UPDATE" if self.store.dialect == "postgresql" else ""
                checkpoint = conn.execute(
                    text(f"SELECT position FROM projection_checkpoints WHERE name = :n{lock}"),
                    {"n": NAME},
                ).scalar_one()
                yield conn, int(checkpoint)

    # -- folding ------------------------------------------------------------------------

    def _apply(self, conn: Connection, rows: Sequence[Row]) -> None:
        batch = _Batch({}, set(), [], {}, set())
        for row in rows:
            stream_id = row[2]
            if not stream_id.startswith(COMMITMENT_PREFIX):
                continue
            cid = stream_id[len(COMMITMENT_PREFIX) :]
            event_type, recorded_at = row[4], row[8]
            data = REGISTRY.upcast(event_type, row[5], json.loads(row[6]))
            view = batch.views.get(cid)
            if view is None:
                view = self._load_view(conn, cid)
                if view is not None:
                    batch.existing.add(cid)
                    batch.views[cid] = view
            if event_type == "CommitmentRegistered":
                view = batch.views[cid] = _new_view(cid, data)
                batch.topics[cid] = list(data["topics"])
            if view is None:
                continue  # an event before registration cannot happen; ignore defensively
            view["version"] = row[3]
            view["updated_at"] = recorded_at
            self._fold_into(view, event_type, data, recorded_at, cid, batch)
            summary, effective_at, actor = _summary(event_type, data)
            batch.timeline.append(
                {
                    "position": row[0],
                    "commitment_id": cid,
                    "event_type": event_type,
                    "event_id": row[1],
                    "effective_at": _normalise_time(effective_at),
                    "recorded_at": recorded_at,
                    "actor": actor,
                    "summary": summary,
                }
            )
        self._write(conn, batch, rows[-1][0])

    @staticmethod
    def _fold_into(
        view: dict[str, Any],
        event_type: str,
        data: dict[str, Any],
        recorded_at: str,
        cid: str,
        batch: _Batch,
    ) -> None:
        if event_type == "CommitmentRevised":
            changes = data["changes"]
            for name in ("title", "statement_id", "made_on", "deadline"):
                if name in changes:
                    view[name] = changes[name]["new"]
            if "parties" in changes:
                view["parties"] = json.dumps(changes["parties"]["new"], ensure_ascii=False)
            if "topics" in changes:
                view["topics"] = json.dumps(changes["topics"]["new"], ensure_ascii=False)
                batch.topics[cid] = list(changes["topics"]["new"])
        elif event_type == "CommitmentRetired":
            view["retired"] = True
        elif event_type == "CommitmentReinstated":
            view["retired"] = False
        elif event_type == "EvidenceAccepted":
            view["evidence_count"] += 1
        elif event_type == "EvidenceRetracted":
            view["evidence_count"] -= 1
        elif event_type == "NoteAdded":
            view["note_count"] += 1
        elif event_type == "StatusAssessed":
            effective = _normalise_time(data["effective_at"])
            view["last_assessed_at"] = recorded_at
            current = view["status_effective_at"]
            if current is None or (effective is not None and effective >= current):
                view["status"] = data["status"]
                view["status_effective_at"] = effective
        elif event_type == "AssessmentCorrected":
            view["last_assessed_at"] = recorded_at
            batch.refold.add(cid)

    def _load_view(self, conn: Connection, cid: str) -> dict[str, Any] | None:
        row = (
            conn.execute(text("SELECT * FROM commitment_view WHERE commitment_id = :c"), {"c": cid})
            .mappings()
            .first()
        )
        return dict(row) if row else None

    def _write(self, conn: Connection, batch: _Batch, upto: int) -> None:
        for cid in batch.refold:
            self._refold_status(conn, cid, batch.views[cid], upto)
        inserts = [v for cid, v in batch.views.items() if cid not in batch.existing]
        updates = [v for cid, v in batch.views.items() if cid in batch.existing]
        if inserts:
            conn.execute(_INSERT_VIEW, inserts)
        if updates:
            conn.execute(_UPDATE_VIEW, updates)
        for cid, _topics in batch.topics.items():
            if cid in batch.existing:
                conn.execute(
                    text("DELETE FROM commitment_topic_view WHERE commitment_id = :c"), {"c": cid}
                )
        topic_rows = [
            {"c": cid, "t": topic} for cid, topics in batch.topics.items() for topic in set(topics)
        ]
        if topic_rows:
            conn.execute(
                text("INSERT INTO commitment_topic_view (commitment_id, topic) VALUES (:c, :t)"),
                topic_rows,
            )
        if batch.timeline:
            conn.execute(_INSERT_TIMELINE, batch.timeline)

    def _refold_status(self, conn: Connection, cid: str, view: dict[str, Any], upto: int) -> None:
        """After a correction: the status follows from all assessments, so fold them again."""
        rows = conn.execute(
            text(
                "SELECT position, event_id, stream_id, stream_version, event_type, "
                "schema_version, data, metadata, recorded_at, hash FROM events "
                "WHERE stream_id = :s AND position <= :upto ORDER BY stream_version"
            ),
            {"s": COMMITMENT_PREFIX + cid, "upto": upto},
        ).all()
        state = fold(cid, _decoded(rows))
        latest = state.latest_assessment()
        view["status"] = latest.status.value if latest else Status.NOT_YET_ASSESSED.value
        view["status_effective_at"] = format_timestamp(latest.effective_at) if latest else None


def _decoded(rows: Iterable[Any]) -> Iterable[tuple[Any, EventContext]]:
    for row in rows:
        event = row_to_event(tuple(row))
        yield (
            REGISTRY.decode(event),
            EventContext(event.event_id, event.position, event.recorded_at),
        )


def _new_view(cid: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "commitment_id": cid,
        "statement_id": data["statement_id"],
        "title": data["title"],
        "status": Status.NOT_YET_ASSESSED.value,
        "status_effective_at": None,
        "last_assessed_at": None,
        "made_on": data["made_on"],
        "deadline": data.get("deadline"),
        "topics": json.dumps(data["topics"], ensure_ascii=False),
        "parties": json.dumps(data["parties"], ensure_ascii=False),
        "retired": False,
        "evidence_count": 0,
        "note_count": 0,
        "version": 0,
        "updated_at": "",
    }
