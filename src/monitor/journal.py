"""The portable journal: chain verification, JSON Lines export and import.

An exported journal is one canonical JSON object per line, in position order, each with its
stored hash, so that ``import`` into an empty store reproduces the same positions and hashes
and ``verify`` checks the copy exactly as it checks the database.

Beside it, ``journal.head.json`` carries the head (position, hash, and a signature when heads
are signed): a file of its own, so that the journal stays the same lines any earlier reader
imports. Verification and import may be given heads published elsewhere (:mod:`monitor.store
.heads`): a journal that does not hold them was cut short or rewritten, whatever its chain says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import count as numbered
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from pydantic import ValidationError

from monitor.errors import IntegrityViolation, MonitorError, UnknownEventType
from monitor.events import EventRegistry
from monitor.files import replaced_atomically
from monitor.store.hashing import GENESIS_HASH, canonical_json, event_hash
from monitor.store.heads import Head
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
#: the longest journal line read (without its line end): the largest event written is far
#: smaller, and a file of one endless line must not be read into memory whole
MAX_LINE = 1024 * 1024


#: a head the journal must hold, and who gives it ("--head", "journal.head.json")
Witness = tuple[Head, str]

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


class ChainChecker:
    """Checks rows one by one: hash chain, position order, stream versions, ids, payloads."""

    def __init__(
        self,
        registry: EventRegistry,
        validate_payloads: bool = True,
        heads: Iterable[Witness] = (),
    ) -> None:
        self.registry = registry
        self.validate_payloads = validate_payloads
        self.report = VerifyReport(last_hash=GENESIS_HASH)
        self._versions: dict[str, int] = {}
        self._ids: set[str] = set()
        #: heads published elsewhere that the journal must hold, by position, until met
        self._heads: dict[int, list[Witness]] = {}
        for witness in heads:
            self._heads.setdefault(witness[0].position, []).append(witness)

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
        for head, given_by in self._heads.pop(position, ()):
            if head.hash != stored_hash:
                self._problem(
                    f"position {position} holds hash {stored_hash[:16]}…, not {head.hash[:16]}… "
                    f"as {given_by} says: the journal was rewritten at or before that position"
                )
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
        """The report, once every row is checked: heads never met are problems now."""
        last = self.report.last_position
        for position, witnesses in sorted(self._heads.items()):
            for head, given_by in witnesses:
                if position == 0 and head.hash == GENESIS_HASH:
                    continue  # the start of every chain
                if position <= last:
                    self._problem(
                        f"the journal has no event at position {position}, where {given_by} "
                        f"puts head {head.hash[:16]}…: events were removed or renumbered"
                    )
                else:
                    self._problem(
                        f"the journal ends at position {last}, before head "
                        f"{position}:{head.hash[:16]}… that {given_by} gives: events were "
                        "removed from the end"
                    )
        self._heads.clear()
        self.report.streams = len(self._versions)
        return self.report


def verify_rows(
    rows: Iterable[Row],
    registry: EventRegistry,
    progress: Progress | None = None,
    heads: Iterable[Witness] = (),
) -> VerifyReport:
    """Check a whole journal, from position 1, and that it holds every head in ``heads``."""
    checker = ChainChecker(registry, heads=heads)
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


@dataclass(frozen=True, slots=True)
class Exported:
    """What an export wrote: the journal, its head, and the file that carries the head."""

    path: Path
    events: int
    head: Head
    head_file: Path

    def __iter__(self) -> Iterator[Any]:
        # (file, events, last hash): what export returned before it published heads
        return iter((self.path, self.events, self.head.hash))


def head_file(journal: Path) -> Path:
    """Where the head of the journal file ``journal`` is kept: ``journal.head.json`` beside
    ``journal.jsonl``."""
    return journal.with_suffix(".head.json")


def export_journal(
    store: SqlEventStore,
    target: Path,
    progress: Progress | None = None,
    sign: Callable[[Head], Head] | None = None,
) -> Exported:
    """Write every event to ``target`` atomically, then its head (signed by ``sign``) beside it.

    ``target`` is a file, or a folder (an existing one, or any path without a suffix) in
    which ``journal.jsonl`` is written.
    """
    path = target / "journal.jsonl" if target.is_dir() or not target.suffix else target
    path.parent.mkdir(parents=True, exist_ok=True)
    count, head = 0, Head(0, GENESIS_HASH)
    with replaced_atomically(path) as out:
        for row in store.iter_rows():
            out.write(row_to_line(row).encode("utf-8") + b"\n")
            count += 1
            head = Head(row[0], row[9])
            if progress and count % 10_000 == 0:
                progress(count)
    if sign is not None:
        head = sign(head)
    record: dict[str, Any] = {"events": count, "position": head.position, "hash": head.hash}
    if head.signature is not None:
        record["signature"] = head.signature
    with replaced_atomically(head_file(path)) as out:
        out.write(canonical_json(record).encode("utf-8") + b"\n")
    return Exported(path, count, head, head_file(path))


def read_head_file(path: Path) -> Head:
    """The head an export wrote in ``path``."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return Head(int(record["position"]), str(record["hash"]), record.get("signature"))
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise IntegrityViolation(
            f"{path}: not the head an export writes ({exc}); move it away to import without it"
        ) from exc


def read_journal(stream: IO[bytes]) -> Iterator[Row]:
    """Rows of a journal file, skipping blank lines; a line over :data:`MAX_LINE` bytes is
    refused before it is read whole."""
    for number in numbered(1):
        raw = stream.readline(MAX_LINE + 2)  # room for the longest line and its "\r\n"
        if not raw:
            return
        line = raw.rstrip(b"\r\n")
        if len(line) > MAX_LINE:
            raise IntegrityViolation(
                f"line {number}: longer than {MAX_LINE // (1024 * 1024)} MiB, no journal line "
                "is; nothing was imported"
            )
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IntegrityViolation(f"line {number}: not UTF-8 text ({exc.reason})") from exc
        if text.strip():
            yield line_to_row(text, number)


def import_journal(
    store: SqlEventStore,
    path: Path,
    registry: EventRegistry,
    progress: Progress | None = None,
    heads: Iterable[Witness] = (),
) -> VerifyReport:
    """Load a journal into an empty store; refuse (writing nothing) if its chain is broken or
    it does not hold every head in ``heads``, nor the head its export wrote beside it."""
    if not path.is_file():
        raise MonitorError(f"{path}: no such journal file")
    beside = head_file(path)
    expected = [*heads]
    if beside.is_file():
        expected.append((read_head_file(beside), f"{beside.name} beside it"))
    checker = ChainChecker(registry, heads=expected)

    def refuse_if_broken() -> None:
        if checker.report.problems:
            raise IntegrityViolation(f"{path}: {checker.report.problems[0]}; nothing was imported")

    def checked() -> Iterator[Row]:
        with path.open("rb") as stream:
            for row in read_journal(stream):
                checker.check(row)
                refuse_if_broken()
                if progress and checker.report.events % 10_000 == 0:
                    progress(checker.report.events)
                yield row
        checker.finish()  # still inside the import's transaction: a head not met refuses all
        refuse_if_broken()

    store.import_rows(checked())
    return checker.finish()
