"""JSON Schemas of the event contract, generated from the event classes.

``python -m monitor.schemas [FOLDER]`` writes ``FOLDER/<EventType>.v<N>.schema.json`` for every
event type and version, plus ``journal-line.schema.json`` for one line of an exported journal.
A test regenerates them and fails when ``events/schemas/`` is out of date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from monitor.events import REGISTRY, EventRegistry
from monitor.journal import FIELDS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://monitor.invalid/events/schemas/"


def event_schema_name(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.schema.json"


def journal_line_schema() -> dict[str, Any]:
    """One line of `monitor export`: the envelope; ``data`` is checked per type and version."""
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": BASE_ID + "journal-line.schema.json",
        "title": "JournalLine",
        "description": "One event of an exported monitor journal (JSON Lines, canonical JSON).",
        "type": "object",
        "additionalProperties": False,
        "required": list(FIELDS),
        "properties": {
            "position": {"type": "integer", "minimum": 1},
            "event_id": {"type": "string", "format": "uuid"},
            "stream_id": {"type": "string", "minLength": 1, "maxLength": 200},
            "stream_version": {"type": "integer", "minimum": 1},
            "event_type": {"type": "string", "minLength": 1, "maxLength": 100},
            "schema_version": {"type": "integer", "minimum": 1},
            "data": {"type": "object"},
            "metadata": {
                "type": "object",
                "properties": {"actor": {"type": "string"}},
            },
            "recorded_at": {
                "type": "string",
                "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$",
            },
            "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        },
    }


def generate(registry: EventRegistry = REGISTRY) -> dict[str, dict[str, Any]]:
    """File name -> schema, for every event type and every version still readable."""
    out: dict[str, dict[str, Any]] = {"journal-line.schema.json": journal_line_schema()}
    for event_type, cls in sorted(registry.types.items()):
        schema = cls.model_json_schema(mode="serialization")
        name = event_schema_name(event_type, cls.schema_version)
        out[name] = {"$schema": SCHEMA_DIALECT, "$id": BASE_ID + name, **schema}
        for version, old in registry.old_schemas().get(event_type, {}).items():
            old_name = event_schema_name(event_type, version)
            out[old_name] = {"$schema": SCHEMA_DIALECT, "$id": BASE_ID + old_name, **old}
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write(folder: Path) -> list[Path]:
    """Write every schema into ``folder``, removing schemas no longer generated."""
    folder.mkdir(parents=True, exist_ok=True)
    schemas = generate()
    for stale in folder.glob("*.schema.json"):
        if stale.name not in schemas:
            stale.unlink()
    written = []
    for name, schema in schemas.items():
        path = folder / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("events/schemas")
    for path in write(target):
        print(path)
