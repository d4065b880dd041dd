"""Intake read models: sources and their health, items seen, proposals waiting for review."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlmodel import Field, SQLModel

from monitor.events import REGISTRY
from monitor.projections.runner import Progress, Projection
from monitor.projections.stories import StoryFolder
from monitor.store.sql import Row, SqlEventStore
from monitor.timestamps import format_timestamp, parse_timestamp

NAME = "intake"


class SourceView(SQLModel, table=True):
    __tablename__ = "source_view"
    name: str = Field(primary_key=True)
    url: str
    kind: str
    interval_seconds: int
    language: str | None = None
    note: str | None = None
    origin: str
    removed: bool
    next_check_at: str | None = Field(default=None, max_length=32, index=True)
    last_checked_at: str | None = Field(default=None, max_length=32)
    last_success_at: str | None = Field(default=None, max_length=32)
    last_outcome: str | None = None
    last_status: int | None = None
    last_error: str | None = None
    failing_since: str | None = Field(default=None, max_length=32)
    consecutive_failures: int
    etag: str | None = None
    last_modified: str | None = None
    items_seen: int
    proposals: int
    version: int


class ItemView(SQLModel, table=True):
    __tablename__ = "item_view"
    item_id: str = Field(primary_key=True, max_length=36)
    source: str
    key: str
    url: str | None = None
    canonical_url: str | None = Field(default=None, index=True)
    title: str
    summary: str
    published_at: str | None = Field(default=None, max_length=32)
    first_seen_at: str = Field(max_length=32)
    content_hash: str = Field(max_length=64)
    outlet: str | None = None
    version: int


class ItemKeyView(SQLModel, table=True):
    __tablename__ = "item_key_view"
    source: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    item_id: str = Field(max_length=36)
    content_hash: str = Field(max_length=64)


class ProposalView(SQLModel, table=True):
    __tablename__ = "proposal_view"
    proposal_id: str = Field(primary_key=True, max_length=36)
    commitment_id: str = Field(index=True)
    item_id: str = Field(max_length=36)
    url: str | None = None
    title: str
    source: str
    published_at: str | None = Field(default=None, max_length=32)
    score: float
    matched_terms: str
    matcher_version: str
    proposed_at: str = Field(max_length=32)
    state: str = Field(max_length=20)
    reviewer: str | None = None
    reviewed_at: str | None = Field(default=None, max_length=32)
    snoozed_until: str | None = Field(default=None, max_length=32)
    reject_reason: str | None = None
    version: int
    #: why the matcher proposed it (JSON: rule, name, words, weight); None before v2
    explanation: str | None = None
    #: the story the item belongs to (see projections/stories.py)
    story_id: str | None = Field(default=None, max_length=36)


def _time(value: str | None) -> str | None:
    return format_timestamp(parse_timestamp(value)) if value else None


_SOURCE_FIELDS = ("url", "kind", "interval_seconds", "language", "note")


class ProposalCountView(SQLModel, table=True):
    """Proposals by review state (pending, accepted, rejected, snoozed), kept as they change."""

    __tablename__ = "proposal_count_view"
    state: str = Field(primary_key=True, max_length=20)
    n: int


class IntakeProjection(Projection):
    """Sources (settings and health), items and their keys, story groups, proposals."""

    name = NAME
    tables = (
        "proposal_count_view",
        "proposal_view",
        "item_key_view",
        "item_view",
        "source_view",
        *StoryFolder.tables,
    )

    def __init__(self, store: SqlEventStore, batch_size: int = 10_000) -> None:
        super().__init__(store, batch_size)
        m = self.mark
        self.stories = StoryFolder(m)
        self._sql = {
            "source_insert": (
                "INSERT INTO source_view (name, url, kind, interval_seconds, language, note, "
                "origin, removed, consecutive_failures, items_seen, proposals, version) "
                f"VALUES ({', '.join([m] * 12)})"
            ),
            "item_insert": (
                "INSERT INTO item_view (item_id, source, key, url, canonical_url, title, summary,"
                " published_at, first_seen_at, content_hash, outlet, version) "
                f"VALUES ({', '.join([m] * 12)})"
            ),
            "key_insert": (
                "INSERT INTO item_key_view (source, key, item_id, content_hash) "
                f"VALUES ({m}, {m}, {m}, {m}) "
                "ON CONFLICT (source, key) DO NOTHING"
            ),
            "proposal_insert": (
                "INSERT INTO proposal_view (proposal_id, commitment_id, item_id, url, title, "
                "source, published_at, score, matched_terms, matcher_version, proposed_at, "
                f"state, version, explanation, story_id) VALUES ({', '.join([m] * 15)})"
            ),
            "seen": f"UPDATE source_view SET items_seen = items_seen + 1 WHERE name = {m}",
            "item_version": f"UPDATE item_view SET version = {m} WHERE item_id = {m}",
            "proposed": f"UPDATE source_view SET proposals = proposals + 1 WHERE name = {m}",
            # Proposals by review state, kept as they change: the dashboard's waiting count
            # reads one row instead of counting every pending proposal.
            "count": (
                f"INSERT INTO proposal_count_view (state, n) VALUES ({m}, {m}) "
                "ON CONFLICT (state) DO UPDATE SET n = proposal_count_view.n + excluded.n"
            ),
        }

    def rebuild(self, progress: Progress | None = None) -> int:
        self.stories.forget()
        return super().rebuild(progress)

    def apply(self, cursor: Any, rows: Sequence[Row]) -> None:
        try:
            self._apply(cursor, rows)
        except BaseException:
            self.stories.forget()  # its rows go with the transaction
            raise

    def _apply(self, cursor: Any, rows: Sequence[Row]) -> None:
        items: list[tuple[Any, ...]] = []
        keys: list[tuple[Any, ...]] = []
        proposals: list[tuple[Any, ...]] = []
        seen: list[tuple[str]] = []
        proposed: list[tuple[str]] = []
        versions: list[tuple[Any, ...]] = []
        m = self.mark
        for row in rows:
            event_type = row[4]
            if not event_type.startswith(
                ("Source", "Item", "EvidenceProposed", "Proposal", "EvidenceRejected")
            ):
                continue
            data = REGISTRY.upcast(event_type, row[5], json.loads(row[6]))
            version, recorded_at = row[3], row[8]
            if event_type == "ItemDiscovered":
                items.append(
                    (
                        data["item_id"],
                        data["source"],
                        data["key"],
                        data.get("url"),
                        data.get("canonical_url"),
                        data["title"],
                        data.get("summary", ""),
                        _time(data.get("published_at")),
                        _time(data["first_seen_at"]),
                        data["content_hash"],
                        data.get("outlet"),
                        version,
                    )
                )
                keys.append((data["source"], data["key"], data["item_id"], data["content_hash"]))
                seen.append((data["source"],))
                # Now, not with the batch: the next item may join this one's story.
                self.stories.discovered(cursor, data, row[0])
            elif event_type == "ItemAlsoSeen":
                keys.append(
                    (data["source"], data["key"], data["item_id"], data.get("content_hash") or "")
                )
                seen.append((data["source"],))
                # The item's stream moved on: the poller appends at this version next time.
                versions.append((version, data["item_id"]))
            elif event_type == "EvidenceProposed":
                proposals.append(
                    (
                        data["proposal_id"],
                        data["commitment_id"],
                        data["item_id"],
                        data.get("url"),
                        data["title"],
                        data["source"],
                        _time(data.get("published_at")),
                        data["score"],
                        json.dumps(data["matched_terms"], ensure_ascii=False),
                        data["matcher_version"],
                        recorded_at,
                        "pending",
                        version,
                        json.dumps(data["explanation"], ensure_ascii=False)
                        if data.get("explanation")
                        else None,
                        None,  # the story: looked up when the batch is written
                    )
                )
                proposed.append((data["source"],))
            else:
                # Rare or order-sensitive: write what is pending first, then this one.
                self._flush(cursor, items, keys, proposals, seen, proposed, versions)
                self._apply_one(cursor, m, event_type, data, version, recorded_at)
        self._flush(cursor, items, keys, proposals, seen, proposed, versions)

    def _flush(self, cursor: Any, *batches: list[tuple[Any, ...]]) -> None:
        items, keys, proposals, seen, proposed, versions = batches
        self.stories.flush(cursor)
        if proposals:
            cursor.execute(self._sql["count"], ("pending", len(proposals)))
            placed = self.stories.stories_of(
                cursor,
                [
                    {
                        "item_id": p[2],
                        "url": p[3],
                        "title": p[4],
                        "source": p[5],
                        "published_at": p[6],
                        "proposed_at": p[10],
                        "position": 0,
                    }
                    for p in proposals
                ],
            )
            proposals[:] = [(*p[:-1], story) for p, story in zip(proposals, placed, strict=True)]
            self.stories.proposed(cursor, [(p[-1], p[7], p[10]) for p in proposals])
        for sql, rows in (
            (self._sql["item_insert"], items),
            (self._sql["item_version"], versions),
            (self._sql["key_insert"], keys),
            (self._sql["proposal_insert"], proposals),
            (self._sql["seen"], seen),
            (self._sql["proposed"], proposed),
        ):
            if rows:
                cursor.executemany(sql, rows)
                rows.clear()

    def _apply_one(
        self,
        cursor: Any,
        m: str,
        event_type: str,
        data: dict[str, Any],
        version: int,
        recorded_at: str,
    ) -> None:
        if event_type == "SourceRegistered":
            cursor.execute(f"DELETE FROM source_view WHERE name = {m}", (data["name"],))
            cursor.execute(
                self._sql["source_insert"],
                (
                    data["name"],
                    data["url"],
                    data["kind"],
                    data["interval_seconds"],
                    data.get("language"),
                    data.get("note"),
                    data.get("origin", "config"),
                    False,
                    0,
                    0,
                    0,
                    version,
                ),
            )
        elif event_type == "SourceRevised":
            changes = {k: v["new"] for k, v in data["changes"].items() if k in _SOURCE_FIELDS}
            if "url" in changes:
                # Validators belong to the old URL: the new one is fetched unconditionally.
                changes |= {"etag": None, "last_modified": None}
            assignments = ", ".join(f"{k} = {m}" for k in changes)
            cursor.execute(
                f"UPDATE source_view SET {assignments}{', ' if changes else ''}version = {m} "
                f"WHERE name = {m}",
                (*changes.values(), version, data["name"]),
            )
        elif event_type == "SourceRemoved":
            cursor.execute(
                f"UPDATE source_view SET removed = {m}, version = {m} WHERE name = {m}",
                (True, version, data["name"]),
            )
        elif event_type == "SourceChecked":
            self._checked(cursor, m, data, version)
        elif event_type in (
            "ProposalAccepted",
            "EvidenceRejected",
            "ProposalSnoozed",
            "ProposalReopened",
        ):
            state = {
                "ProposalAccepted": "accepted",
                "EvidenceRejected": "rejected",
                "ProposalSnoozed": "snoozed",
                "ProposalReopened": "pending",
            }[event_type]
            cursor.execute(
                f"SELECT state, story_id FROM proposal_view WHERE proposal_id = {m}",
                (data["proposal_id"],),
            )
            before = cursor.fetchone()
            if before is not None:
                cursor.executemany(self._sql["count"], [(before[0], -1), (state, 1)])
            cursor.execute(
                f"UPDATE proposal_view SET state = {m}, reviewer = {m}, reviewed_at = {m}, "
                f"snoozed_until = {m}, reject_reason = {m}, version = {m} "
                f"WHERE proposal_id = {m}",
                (
                    state,
                    data["reviewer"],
                    recorded_at,
                    _time(data.get("until")),
                    data.get("reason"),
                    version,
                    data["proposal_id"],
                ),
            )
            if before is not None and before[1] is not None:
                self.stories.refresh(cursor, before[1])
        elif event_type == "ItemRevised":
            cursor.execute(
                f"UPDATE item_key_view SET content_hash = {m} WHERE source = {m} AND key = {m}",
                (data["content_hash"], data["source"], data["key"]),
            )
            cursor.execute(
                # canonical_url stays the one the item was discovered under: it is part of
                # the item's identity (ids derive from it), whatever the link says later.
                f"UPDATE item_view SET url = {m}, title = {m}, summary = {m},"
                f" published_at = {m}, content_hash = {m}, version = {m} WHERE item_id = {m}",
                (
                    data.get("url"),
                    data["title"],
                    data.get("summary", ""),
                    _time(data.get("published_at")),
                    data["content_hash"],
                    version,
                    data["item_id"],
                ),
            )
            self.stories.revised(cursor, data)

    @staticmethod
    def _checked(cursor: Any, m: str, data: dict[str, Any], version: int) -> None:
        checked_at = _time(data["checked_at"])
        failed = data["outcome"] == "failed"
        # Validators survive failures: a failed fetch must not cost the next one its 304.
        cursor.execute(
            "UPDATE source_view SET "
            f"next_check_at = {m}, last_checked_at = {m}, last_outcome = {m}, "
            f"last_status = {m}, consecutive_failures = {m}, version = {m}, "
            f"last_error = COALESCE({m}, last_error), "
            f"failing_since = CASE WHEN {m} THEN COALESCE(failing_since, {m}) ELSE NULL END, "
            f"last_success_at = CASE WHEN {m} THEN last_success_at ELSE {m} END, "
            f"etag = CASE WHEN {m} THEN etag ELSE COALESCE({m}, etag) END, "
            f"last_modified = CASE WHEN {m} THEN last_modified ELSE COALESCE({m}, last_modified)"
            f" END WHERE name = {m}",
            (
                _time(data["next_check_at"]),
                checked_at,
                data["outcome"],
                data.get("http_status"),
                data.get("consecutive_failures", 0),
                version,
                data.get("error"),
                failed,
                checked_at,
                failed,
                checked_at,
                failed,
                data.get("etag"),
                failed,
                data.get("last_modified"),
                data["name"],
            ),
        )
