"""Export, import and the event contract in events/schemas/."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource

from monitor import IntegrityViolation, Monitor, StoreNotEmpty, load_settings
from monitor.schemas import generate, render

from .conftest import ROOT
from .test_projections import busy_history

SCHEMAS = ROOT / "events" / "schemas"


def test_event_schemas_on_disk_are_generated_from_the_code() -> None:
    generated = generate()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in SCHEMAS.glob("*.schema.json")}
    assert set(on_disk) == set(generated), "run: python -m monitor.schemas"
    for name, schema in generated.items():
        assert on_disk[name] == render(schema), f"{name} is stale: run python -m monitor.schemas"


def _validate_journal(path: Path) -> int:
    schemas = {p.name: json.loads(p.read_text()) for p in SCHEMAS.glob("*.schema.json")}
    registry: Registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values()
    )
    line_validator = jsonschema.Draft202012Validator(schemas["journal-line.schema.json"])
    count = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        line_validator.validate(record)
        name = f"{record['event_type']}.v{record['schema_version']}.schema.json"
        jsonschema.Draft202012Validator(
            schemas[name], registry=registry, format_checker=jsonschema.FormatChecker()
        ).validate(record["data"])
        count += 1
    return count


def test_exported_journal_validates_and_reimports_identically(
    monitor: Monitor, tmp_path: Path, database_url: str
) -> None:
    busy_history(monitor)
    path, count, head = monitor.export(tmp_path / "out")
    assert path == tmp_path / "out" / "journal.jsonl"
    assert count == monitor.last_position()
    assert _validate_journal(path) == count

    fresh_project = tmp_path / "fresh"
    (fresh_project / "config").mkdir(parents=True)
    (fresh_project / "config" / "monitor.toml").write_text(
        f'[database]\ndatabase_url = "sqlite:///{fresh_project / "m.sqlite3"}"\n'
    )
    settings = load_settings(fresh_project / "config" / "monitor.toml", env={})
    with Monitor.open(settings) as copy:
        report = copy.import_journal(path)
        assert (report.events, report.last_hash) == (count, head)
        assert list(copy.store.iter_rows()) == list(monitor.store.iter_rows())
        assert copy.verify().ok
        assert [v.model_dump() for v in copy.list_commitments()] == [
            v.model_dump() for v in monitor.list_commitments()
        ]
        with pytest.raises(StoreNotEmpty):
            copy.import_journal(path)


def test_a_tampered_journal_is_refused_and_nothing_is_imported(
    monitor: Monitor, tmp_path: Path
) -> None:
    busy_history(monitor)
    path, _count, _head = monitor.export(tmp_path / "journal.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[20] = lines[20].replace("roadmap", "r0admap")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    target = tmp_path / "target"
    (target / "config").mkdir(parents=True)
    (target / "config" / "monitor.toml").write_text(
        f'[database]\ndatabase_url = "sqlite:///{target / "m.sqlite3"}"\n'
    )
    with Monitor.open(load_settings(target / "config" / "monitor.toml", env={})) as copy:
        with pytest.raises(IntegrityViolation, match="position 21"):
            copy.import_journal(bad)
        assert copy.last_position() == 0
