"""Commitment read models folded from the journal: current status, topics, timeline."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Field, SQLModel

from monitor.projections.runner import Projection
from monitor.status import Status
from monitor.store.sql import Row, SqlEventStore
from monitor.timestamps import format_timestamp, parse_timestamp

NAME = "commitments"
COMMITMENT_PREFIX = "commitment-"
SUMMARY_LIMIT = 500


class ProjectionCheckpoint(SQLModel, table=True):
    __tablename__ = "projection_checkpoints"
    name: str = Field(primary_key=True, max_length=100)
    position: int


class CommitmentView(SQLModel, table=True):
    __tablename__ = "commitment_view"
    commitment_id: str = Field(primary_key=True)
    statement_id: str
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
    commitment_id: str = Field(primary_key=True)
    topic: str = Field(primary_key=True)


class AssessmentView(SQLModel, table=True):
    __tablename__ = "assessment_view"
    assessment_id: str = Field(primary_key=True, max_length=36)
    commitment_id: str = Field(index=True)
    status: str = Field(max_length=40)
    effective_at: str = Field(max_length=32)
    position: int


class TimelineView(SQLModel, table=True):
    __tablename__ = "timeline_view"
    position: int = Field(primary_key=True)
    commitment_id: str
    event_type: str
    event_id: str
    effective_at: str | None = Field(default=None, max_length=32)
    recorded_at: str = Field(max_length=32)
    actor: str | None = None
    summary: str


_VIEW_COLUMNS = [c for c in CommitmentView.model_fields if c != "commitment_id"]


def _clip(value: str, limit: int = SUMMARY_LIMIT) -> str:
    value = " ".join(value.replace("\x00", "").split())
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
    if event_type == "AssessmentWithdrawn":
        return (
            _clip(f"assessment {data['assessment_id']} withdrawn: {data['reason']}"),
            None,
            data["withdrawn_by"],
        )
    if event_type == "NoteAdded":
        return _clip(f"note: {data['text']}"), None, data["author"]
    if event_type == "DeadlinePassed":
        return f"deadline {data['deadline']} passed", None, None
    return event_type, None, None


def _normalise_time(value: str | None) -> str | None:
    return format_timestamp(parse_timestamp(value)) if value else None


_TIMELINE_COLUMNS = (
    "position, commitment_id, event_type, event_id, effective_at, recorded_at, actor, summary"
)
_VIEW_ALL = ["commitment_id", *_VIEW_COLUMNS]


@dataclass(slots=True)
class _Batch:
    views: dict[str, dict[str, Any]]
    existing: set[str]
    timeline: list[tuple[Any, ...]]
    topics: dict[str, list[str]]
    refold: set[str]
    assessments: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    position: int = 0


class CommitmentProjection(Projection):
    """The commitment read models (status, topics, timeline) and their checkpoint.

    Folding talks to the driver's cursor inside the SQLAlchemy transaction: a rebuild
    handles every event of the journal, and per-row statement overhead would dominate it.
    """

    name = NAME
    tables = ("assessment_view", "timeline_view", "commitment_topic_view", "commitment_view")

    def __init__(self, store: SqlEventStore, batch_size: int = 10_000) -> None:
        super().__init__(store, batch_size)
        mark = self.mark
        self._sql_insert_view = (
            f"INSERT INTO commitment_view ({', '.join(_VIEW_ALL)}) "
            f"VALUES ({', '.join([mark] * len(_VIEW_ALL))})"
        )
        self._sql_update_view = (
            "UPDATE commitment_view SET "
            + ", ".join(f"{c} = {mark}" for c in _VIEW_COLUMNS)
            + f" WHERE commitment_id = {mark}"
        )
        self._sql_insert_timeline = (
            f"INSERT INTO timeline_view ({_TIMELINE_COLUMNS}) VALUES ({', '.join([mark] * 8)})"
        )
        self._sql_insert_topic = (
            f"INSERT INTO commitment_topic_view (commitment_id, topic) VALUES ({mark}, {mark})"
        )
        self._sql_delete_topics = f"DELETE FROM commitment_topic_view WHERE commitment_id = {mark}"

    # -- folding ------------------------------------------------------------------------

    def apply(self, cursor: Any, rows: Sequence[Row]) -> None:
        batch = _Batch({}, set(), [], {}, set())
        prefix_length = len(COMMITMENT_PREFIX)
        registered_here = {
            row[2][prefix_length:] for row in rows if row[4] == "CommitmentRegistered"
        }
        others = {
            row[2][prefix_length:] for row in rows if row[2].startswith(COMMITMENT_PREFIX)
        } - registered_here
        for view in self._load_views(cursor, sorted(others)):
            batch.existing.add(view["commitment_id"])
            batch.views[view["commitment_id"]] = view
        from monitor.events import REGISTRY  # folding: a read model that is current needs none

        upcast, loads, summary = REGISTRY.upcast, json.loads, _summary
        timeline = batch.timeline
        for row in rows:
            stream_id = row[2]
            if not stream_id.startswith(COMMITMENT_PREFIX):
                continue
            cid = stream_id[prefix_length:]
            event_type, recorded_at = row[4], row[8]
            data = upcast(event_type, row[5], loads(row[6]))
            if event_type == "CommitmentRegistered":
                view = batch.views[cid] = _new_view(cid, data)
                batch.topics[cid] = list(data["topics"])
            else:
                found = batch.views.get(cid)
                if found is None:
                    continue  # events before a registration: nothing to show them on
                view = found
            view["version"] = row[3]
            view["updated_at"] = recorded_at
            batch.position = row[0]
            self._fold_into(view, event_type, data, recorded_at, cid, batch)
            text_, effective_at, actor = summary(event_type, data)
            timeline.append(
                (
                    row[0],
                    cid,
                    event_type,
                    row[1],
                    _normalise_time(effective_at),
                    recorded_at,
                    actor,
                    text_,
                )
            )
        self._write(cursor, batch, rows[-1][0])

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
            batch.assessments.append(
                ("insert", (data["assessment_id"], cid, data["status"], effective, batch.position))
            )
            view["last_assessed_at"] = recorded_at
            current = view["status_effective_at"]
            if current is None or (effective is not None and effective >= current):
                view["status"] = data["status"]
                view["status_effective_at"] = effective
        elif event_type == "AssessmentCorrected":
            view["last_assessed_at"] = recorded_at
            batch.refold.add(cid)
            batch.assessments.append(
                (
                    "update",
                    (data["status"], _normalise_time(data["effective_at"]), data["assessment_id"]),
                )
            )
        elif event_type == "AssessmentWithdrawn":
            view["last_assessed_at"] = recorded_at
            batch.refold.add(cid)
            batch.assessments.append(("delete", (data["assessment_id"],)))

    def _load_views(self, cursor: Any, ids: Sequence[str]) -> list[dict[str, Any]]:
        views = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join([self.store.placeholder] * len(chunk))
            cursor.execute(
                f"SELECT {', '.join(_VIEW_ALL)} FROM commitment_view "
                f"WHERE commitment_id IN ({marks})",
                chunk,
            )
            views += [dict(zip(_VIEW_ALL, row, strict=True)) for row in cursor.fetchall()]
        for view in views:
            view["retired"] = bool(view["retired"])
        return views

    def _write(self, cursor: Any, batch: _Batch, upto: int) -> None:
        for cid in batch.refold:
            self._refold_status(cid, batch.views[cid], upto)
        inserts = [
            tuple(v[c] for c in _VIEW_ALL)
            for cid, v in batch.views.items()
            if cid not in batch.existing
        ]
        updates = [
            (*(v[c] for c in _VIEW_COLUMNS), cid)
            for cid, v in batch.views.items()
            if cid in batch.existing
        ]
        if inserts:
            cursor.executemany(self._sql_insert_view, inserts)
        if updates:
            cursor.executemany(self._sql_update_view, updates)
        replaced = [(cid,) for cid in batch.topics if cid in batch.existing]
        if replaced:
            cursor.executemany(self._sql_delete_topics, replaced)
        topic_rows = [
            (cid, topic) for cid, topics in batch.topics.items() for topic in dict.fromkeys(topics)
        ]
        if topic_rows:
            cursor.executemany(self._sql_insert_topic, topic_rows)
        if batch.timeline:
            cursor.executemany(self._sql_insert_timeline, batch.timeline)
        m = self.mark
        # In order: a correction or withdrawal may follow its assessment in the same batch.
        for kind, values in batch.assessments:
            if kind == "insert":
                cursor.execute(
                    "INSERT INTO assessment_view (assessment_id, commitment_id, status, "
                    f"effective_at, position) VALUES ({m}, {m}, {m}, {m}, {m})",
                    values,
                )
            elif kind == "update":
                cursor.execute(
                    f"UPDATE assessment_view SET status = {m}, effective_at = {m} "
                    f"WHERE assessment_id = {m}",
                    values,
                )
            else:
                cursor.execute(f"DELETE FROM assessment_view WHERE assessment_id = {m}", values)

    def _refold_status(self, cid: str, view: dict[str, Any], upto: int) -> None:
        """After a correction: the status follows from all assessments, so fold them again."""
        from monitor.domain.commitment import context_of, fold
        from monitor.events import REGISTRY

        events = [e for e in self.store.read_stream(COMMITMENT_PREFIX + cid) if e.position <= upto]
        state = fold(
            cid,
            ((REGISTRY.decode(e), context_of(e)) for e in events),
        )
        latest = state.latest_assessment()
        view["status"] = latest.status.value if latest else Status.NOT_YET_ASSESSED.value
        view["status_effective_at"] = format_timestamp(latest.effective_at) if latest else None


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
