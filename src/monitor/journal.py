"""The portable journal: chain verification, JSON Lines export and import.

An exported journal is one canonical JSON object per line, in position order, each with its
stored hash, so that ``import`` into an empty store reproduces the same positions and hashes
and ``verify`` checks the copy exactly as it checks the database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from pydantic import ValidationError

from monitor.errors import IntegrityViolation, MonitorError, UnknownEventType
from monitor.events import EventRegistry
from monitor.files import replaced_atomically
from monitor.store.hashing import GENESIS_HASH, canonical_json, event_hash
from monitor.store.records import VerifyReport
from monitor.store.sql import Row, SqlEventStore

FIELDS = (
    "position",
    "event_id",
    "stream_id",
    "stream_version",
    "event_type",
    "schema_version",
    "data",
    "metadata",
    "recorded_at",
    "hash",
)
Progress = Callable[[int], None]
MAX_PROBLEMS = 100


TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


class ChainChecker:
    """Checks rows one by one: hash chain, position order, stream versions, ids, payloads."""

    def __init__(self, registry: EventRegistry, validate_payloads: bool = True) -> None:
        self.registry = registry
        self.validate_payloads = validate_payloads
        self.report = VerifyReport(last_hash=GENESIS_HASH)
        self._versions: dict[str, int] = {}
        self._ids: set[str] = set()

    def _problem(self, message: str) -> None:
        if len(self.report.problems) < MAX_PROBLEMS:
            self.report.problems.append(message)
        elif len(self.report.problems) == MAX_PROBLEMS:
            self.report.problems.append("... more problems not listed")

    def check(self, row: Row) -> None:
        position, event_id, stream_id, version, event_type, schema_version = row[:6]
        data_json, metadata_json, recorded_at, stored_hash = row[6:]
        report = self.report
        if position <= report.last_position:
            self._problem(f"position {position}: out of order after {report.last_position}")
        expected = event_hash(
            report.last_hash,
            position=position,
            event_id=event_id,
            stream_id=stream_id,
            stream_version=version,
            event_type=event_type,
            schema_version=schema_version,
            data_json=data_json,
            metadata_json=metadata_json,
            recorded_at=recorded_at,
        )
        if expected != stored_hash:
            self._problem(
                f"position {position} ({event_type} in {stream_id}): hash does not match the "
                "chain: the event was modified, or an event before it was removed or moved"
            )
        previous_version = self._versions.get(stream_id, 0)
        if version != previous_version + 1:
            self._problem(
                f"position {position}: {stream_id} jumps from version {previous_version} to "
                f"{version}: an event of this stream is missing or moved"
            )
        self._versions[stream_id] = version
        self._check_envelope(position, event_id, recorded_at)
        if self.validate_payloads:
            self._check_payload(position, event_type, schema_version, data_json)
        report.events += 1
        report.last_position = position
        # Continue the chain from the stored hash so one break is reported once.
        report.last_hash = stored_hash

    def _check_envelope(self, position: int, event_id: str, recorded_at: str) -> None:
        try:
            if str(UUID(event_id)) != event_id:
                raise ValueError(event_id)
        except ValueError:
            self._problem(f"position {position}: event id {event_id!r} is not a UUID")
        if event_id in self._ids:
            self._problem(f"position {position}: event id {event_id} appears twice")
        self._ids.add(event_id)
        if not TIMESTAMP.match(recorded_at):
            self._problem(f"position {position}: recorded_at {recorded_at!r} is malformed")

    def _check_payload(self, position: int, event_type: str, version: int, data: str) -> None:
        cls = self.registry.types.get(event_type)
        if cls is None:
            self._problem(f"position {position}: unknown event type {event_type!r}")
            return
        try:
            cls.model_validate(self.registry.upcast(event_type, version, json.loads(data)))
        except (ValidationError, UnknownEventType, ValueError) as exc:
            first = str(exc).splitlines()[0]
            self._problem(f"position {position}: {event_type} v{version} payload invalid: {first}")

    def finish(self) -> VerifyReport:
        self.report.streams = len(self._versions)
        return self.report


def verify_rows(
    rows: Iterable[Row], registry: EventRegistry, progress: Progress | None = None
) -> VerifyReport:
    """Check a whole journal, from position 1."""
    checker = ChainChecker(registry)
    for count, row in enumerate(rows, start=1):
        checker.check(row)
        if progress and count % 10_000 == 0:
            progress(count)
    return checker.finish()


def row_to_line(row: Row) -> str:
    """One journal line: canonical JSON with data and metadata as objects."""
    record: dict[str, Any] = dict(zip(FIELDS, row, strict=True))
    record["data"] = json.loads(record["data"])
    record["metadata"] = json.loads(record["metadata"])
    return canonical_json(record)


def line_to_row(line: str, number: int) -> Row:
    """Parse one journal line back into a stored row (payloads re-canonicalised)."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise IntegrityViolation(f"line {number}: not JSON: {exc}") from exc
    if not isinstance(record, dict) or set(record) != set(FIELDS):
        raise IntegrityViolation(f"line {number}: expected the fields {', '.join(FIELDS)}")
    ints = ("position", "stream_version", "schema_version")
    strs = ("event_id", "stream_id", "event_type", "recorded_at", "hash")
    if not all(isinstance(record[k], int) for k in ints) or not all(
        isinstance(record[k], str) for k in strs
    ):
        raise IntegrityViolation(f"line {number}: a field has the wrong type")
    if not isinstance(record["data"], dict) or not isinstance(record["metadata"], dict):
        raise IntegrityViolation(f"line {number}: data and metadata must be objects")
    return (
        record["position"],
        record["event_id"],
        record["stream_id"],
        record["stream_version"],
        record["event_type"],
        record["schema_version"],
        canonical_json(record["data"]),
        canonical_json(record["metadata"]),
        record["recorded_at"],
        record["hash"],
    )


def export_journal(
    store: SqlEventStore, target: Path, progress: Progress | None = None
) -> tuple[Path, int, str]:
    """Write every event to ``target`` atomically.

    ``target`` is a file, or a folder (an existing one, or any path without a suffix) in
    which ``journal.jsonl`` is written.
    """
    path = target / "journal.jsonl" if target.is_dir() or not target.suffix else target
    path.parent.mkdir(parents=True, exist_ok=True)
    count, last_hash = 0, GENESIS_HASH
    with replaced_atomically(path) as out:
        for row in store.iter_rows():
            out.write(row_to_line(row).encode("utf-8") + b"\n")
            count += 1
            last_hash = row[9]
            if progress and count % 10_000 == 0:
                progress(count)
    return path, count, last_hash


def read_journal(stream: IO[str]) -> Iterator[Row]:
    """Rows of a journal file, skipping blank lines."""
    number = 0
    try:
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield line_to_row(line, number)
    except UnicodeDecodeError as exc:
        raise IntegrityViolation(f"line {number + 1}: not UTF-8 text ({exc.reason})") from exc


def import_journal(
    store: SqlEventStore, path: Path, registry: EventRegistry, progress: Progress | None = None
) -> VerifyReport:
    """Load a journal into an empty store; refuse (writing nothing) if its chain is broken."""
    if not path.is_file():
        raise MonitorError(f"{path}: no such journal file")
    checker = ChainChecker(registry)

    def checked() -> Iterator[Row]:
        with path.open(encoding="utf-8") as stream:
            for row in read_journal(stream):
                checker.check(row)
                if checker.report.problems:
                    raise IntegrityViolation(
                        f"{path}: {checker.report.problems[0]}; nothing was imported"
                    )
                if progress and checker.report.events % 10_000 == 0:
                    progress(checker.report.events)
                yield row

    store.import_rows(checked())
    return checker.finish()
