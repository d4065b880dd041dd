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

from monitor.domain.commitment import CommitmentState
from monitor.errors import CatalogueError
from monitor.events import (
    CommitmentRegistered,
    CommitmentReinstated,
    CommitmentRetired,
    CommitmentRevised,
    Concept,
    DomainEvent,
    FieldChange,
    MatchRules,
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
TOP_KEYS = {"schema", "statement", "concepts", "commitment"}
CONCEPT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,60}$")
RULE_CONCEPT_FIELDS = ("all_of", "any_of", "none_of", "near")
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
    for key in sorted(set(raw) - TOP_KEYS):
        problems.append(f"{filename}: unknown top-level field {key!r}")
    shared = _shared_concepts(raw.get("concepts", {}), filename, problems)
    statement = raw.get("statement")
    if not isinstance(statement, dict):
        raise CatalogueError([f"{filename}: missing [statement] table (id, title, date)"])
    statement, everywhere = _statement_none_of(statement, shared, filename, problems)
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
            spec = CommitmentRegistered.model_validate(payload)
        except ValidationError as exc:
            for error in exc.errors():
                field = _loc(error["loc"]).replace("commitment_id", "id")
                problems.append(f"{label}: field {field!r}: {error['msg']}")
            continue
        resolved = _resolve_rules(spec.match, shared, label, problems, everywhere)
        parsed.append(spec.model_copy(update={"match": resolved}))
    if problems:
        raise CatalogueError(problems)
    return Catalogue(str(statement["id"]), str(statement["title"]), tuple(parsed))


def _shared_concepts(raw: Any, filename: str, problems: list[str]) -> dict[str, Concept]:
    """The file's [concepts] table: vocabulary any commitment's rules may name."""
    if not isinstance(raw, dict):
        problems.append(f"{filename}: [concepts] must be a table of name = {{ en = [...] }}")
        return {}
    concepts: dict[str, Concept] = {}
    for name, value in raw.items():
        where = f"{filename}: [concepts] {name!r}"
        if not CONCEPT_NAME.match(name):
            problems.append(f"{where}: use lower-case letters, digits, '_' and '-'")
            continue
        try:
            concepts[name] = Concept.model_validate(value)
        except ValidationError as exc:
            for error in exc.errors():
                problems.append(f"{where}: field {_loc(error['loc'])!r}: {error['msg']}")
            continue
        _check_variants(concepts[name], where, problems)
    return concepts


def _check_variants(concept: Concept, where: str, problems: list[str]) -> None:
    if not concept.en and not concept.ja:
        problems.append(f"{where}: give at least one variant in 'en' or 'ja'")
    for variant in (*concept.en, *concept.ja):
        if not variant.strip():
            problems.append(f"{where}: an empty variant matches everything; remove it")


def _statement_none_of(
    statement: dict[str, Any], shared: Mapping[str, Concept], filename: str, problems: list[str]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """[statement.match] none_of: concepts that veto every rule (the concept form)."""
    match = statement.get("match")
    if not isinstance(match, dict) or "none_of" not in match:
        return statement, ()
    none_of = match["none_of"]
    if not isinstance(none_of, list) or not all(isinstance(n, str) for n in none_of):
        problems.append(f"{filename}: [statement.match]: 'none_of' must be a list of concepts")
        none_of = []
    for key in sorted(set(match) - {"none_of"}):
        problems.append(
            f"{filename}: [statement.match]: field {key!r}: with 'none_of', the statement's"
            " names are a concept of [concepts], not term lists"
        )
    for name in none_of:
        if name not in shared:
            problems.append(
                f"{filename}: [statement.match]: 'none_of': unknown concept {name!r}"
                " (define it under [concepts])"
            )
    return {k: v for k, v in statement.items() if k != "match"}, tuple(none_of)


def _resolve_rules(
    rules: MatchRules,
    shared: Mapping[str, Concept],
    label: str,
    problems: list[str],
    everywhere: tuple[str, ...] = (),
) -> MatchRules:
    """The rules with every concept they name embedded (the event is self-contained)."""
    if rules.rules and everywhere:
        rules = rules.model_copy(
            update={
                "rules": tuple(
                    r.model_copy(
                        update={
                            "none_of": (*r.none_of, *(n for n in everywhere if n not in r.none_of))
                        }
                    )
                    for r in rules.rules
                )
            }
        )
    if not rules.rules:
        if rules.concepts:
            problems.append(
                f"{label}: field 'match.concepts': no [[commitment.match.rules]] use them"
            )
        return rules
    if rules.terms_en or rules.terms_ja or rules.ambiguous:
        problems.append(f"{label}: field 'match': use either rules or the old term lists, not both")
    local = dict(rules.concepts)
    for name, concept in local.items():
        where = f"{label}: field 'match.concepts.{name}'"
        if not CONCEPT_NAME.match(name):
            problems.append(f"{where}: use lower-case letters, digits, '_' and '-'")
        _check_variants(concept, where, problems)
    used: dict[str, Concept] = {}
    names: set[str] = set()
    for index, rule in enumerate(rules.rules):
        where = f"{label}: field 'match.rules[{index}]' ({rule.name})"
        if rule.name in names:
            problems.append(f"{where}: another rule of this commitment has this name")
        names.add(rule.name)
        if not rule.all_of and not rule.any_of:
            problems.append(f"{where}: give 'all_of' or 'any_of' (what must be present)")
        if len(rule.near) == 1:
            problems.append(f"{where}: 'near' needs at least two concepts")
        if isinstance(rule.within, int) and not 1 <= rule.within <= 200:
            problems.append(f"{where}: 'within' is a number of words from 1 to 200, or 'sentence'")
        for field in RULE_CONCEPT_FIELDS:
            for name in getattr(rule, field):
                found = local.get(name) or shared.get(name)
                if found is None:
                    problems.append(
                        f"{where}: field '{field}': unknown concept {name!r}"
                        " (define it under [concepts] or match.concepts)"
                    )
                else:
                    used[name] = found
    return rules.model_copy(update={"concepts": dict(sorted(used.items()))})


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
