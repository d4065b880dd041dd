"""The commitment catalogue file: parse, validate, and diff against recorded history.

Pure: :func:`parse_catalogue` takes the file's text, :func:`plan_sync` takes the current
states; the core does the reading and the appending. A malformed file raises
:class:`CatalogueError` naming the file, the entry and the field of every problem, so that
nothing is written until the whole file is valid.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from monitor.commitment import CommitmentState
from monitor.errors import CatalogueError
from monitor.events import (
    CommitmentRegistered,
    CommitmentReinstated,
    CommitmentRetired,
    CommitmentRevised,
    DomainEvent,
    FieldChange,
)

ID_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,80}$")
ENTRY_KEYS = {
    "id",
    "title",
    "source_words",
    "provenance",
    "source_document",
    "locator",
    "source_urls",
    "parties",
    "topics",
    "made_on",
    "deadline",
    "deadline_text",
    "match",
}
STATEMENT_KEYS = {"id", "title", "date", "place", "sources", "match"}
# Fields compared by sync; commitment_id is the identity, never a change.
COMPARED = [f for f in CommitmentRegistered.model_fields if f != "commitment_id"]


@dataclass(frozen=True, slots=True)
class Catalogue:
    """A validated catalogue: the statement and its commitments in file order."""

    statement_id: str
    statement_title: str
    commitments: tuple[CommitmentRegistered, ...]


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def parse_catalogue(text: str, filename: str) -> Catalogue:
    """Validate the whole file; raise :class:`CatalogueError` listing every problem."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError([f"{filename}: not valid TOML: {exc}"]) from exc
    problems: list[str] = []
    statement = raw.get("statement")
    if not isinstance(statement, dict):
        raise CatalogueError([f"{filename}: missing [statement] table (id, title, date)"])
    for key in sorted(set(statement) - STATEMENT_KEYS):
        problems.append(f"{filename}: [statement]: unknown field {key!r}")
    for key in ("id", "title", "date"):
        if key not in statement:
            problems.append(f"{filename}: [statement]: field {key!r} is required")
    entries = raw.get("commitment")
    if not isinstance(entries, list) or not entries:
        problems.append(f"{filename}: no [[commitment]] entries")
        entries = []
    seen: dict[str, int] = {}
    parsed: list[CommitmentRegistered] = []
    for index, entry in enumerate(entries, start=1):
        label = f"{filename}: commitment #{index}"
        if not isinstance(entry, dict):
            problems.append(f"{label}: must be a table")
            continue
        cid = entry.get("id")
        if isinstance(cid, str):
            label += f" ({cid})"
            if not ID_PATTERN.match(cid):
                problems.append(f"{label}: field 'id': use capitals, digits and hyphens")
            elif cid in seen:
                problems.append(f"{label}: field 'id': duplicate of commitment #{seen[cid]}")
            seen.setdefault(cid, index)
        else:
            problems.append(f"{label}: field 'id' is required and must be a string")
        for key in sorted(set(entry) - ENTRY_KEYS):
            problems.append(f"{label}: unknown field {key!r}")
        payload = _registration_payload(entry, statement)
        try:
            parsed.append(CommitmentRegistered.model_validate(payload))
        except ValidationError as exc:
            for error in exc.errors():
                field = _loc(error["loc"]).replace("commitment_id", "id")
                problems.append(f"{label}: field {field!r}: {error['msg']}")
    if problems:
        raise CatalogueError(problems)
    return Catalogue(str(statement["id"]), str(statement["title"]), tuple(parsed))


def _registration_payload(entry: Mapping[str, Any], statement: Mapping[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in entry.items() if k in ENTRY_KEYS and k != "id"}
    return {
        "commitment_id": entry.get("id"),
        "statement_id": statement.get("id"),
        "made_on": statement.get("date"),
        "statement_match": statement.get("match", {}),
        **fields,
    }


def plan_sync(
    catalogue: Catalogue, states: Mapping[str, CommitmentState], reason: str | None = None
) -> dict[str, list[DomainEvent]]:
    """The events that bring recorded history in line with the file, per commitment id.

    New ids are registered, changed ones revised (with old and new value of each field),
    ids gone from the file retired, returning ones reinstated. No change: no events.
    """
    plan: dict[str, list[DomainEvent]] = {}
    in_file = set()
    for spec in catalogue.commitments:
        cid = spec.commitment_id
        in_file.add(cid)
        state = states.get(cid)
        events: list[DomainEvent] = []
        if state is None or state.registration is None:
            events.append(spec)
        else:
            if state.retired:
                events.append(
                    CommitmentReinstated(
                        commitment_id=cid, reason=reason or "back in the catalogue file"
                    )
                )
            changes = _changes(state.registration, spec)
            if changes:
                events.append(
                    CommitmentRevised(
                        commitment_id=cid,
                        changes=changes,
                        reason=reason or "catalogue file changed: " + ", ".join(sorted(changes)),
                    )
                )
        if events:
            plan[cid] = events
    for cid, state in states.items():
        if cid not in in_file and state.registration is not None and not state.retired:
            plan[cid] = [
                CommitmentRetired(
                    commitment_id=cid, reason=reason or "removed from the catalogue file"
                )
            ]
    return plan


def _changes(old: CommitmentRegistered, new: CommitmentRegistered) -> dict[str, FieldChange]:
    before, after = old.model_dump(mode="json"), new.model_dump(mode="json")
    return {
        name: FieldChange(old=before[name], new=after[name])
        for name in COMPARED
        if before[name] != after[name]
    }
