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


def _forge(tmp_path: Path, lines: list[dict]) -> Path:
    """A journal with a correct hash chain over whatever the lines say."""
    from monitor.store.hashing import GENESIS_HASH, canonical_json, event_hash

    previous = GENESIS_HASH
    out = []
    for line in lines:
        previous = event_hash(
            previous,
            position=line["position"],
            event_id=line["event_id"],
            stream_id=line["stream_id"],
            stream_version=line["stream_version"],
            event_type=line["event_type"],
            schema_version=line["schema_version"],
            data_json=canonical_json(line["data"]),
            metadata_json=canonical_json(line["metadata"]),
            recorded_at=line["recorded_at"],
        )
        out.append(canonical_json({**line, "hash": previous}))
    path = tmp_path / "forged.jsonl"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def _note_line(position: int, event_id: str, recorded_at: str = "2026-01-01T00:00:00.000000Z"):
    return {
        "position": position,
        "event_id": event_id,
        "stream_id": "commitment-X-1",
        "stream_version": position,
        "event_type": "NoteAdded",
        "schema_version": 1,
        "data": {
            "commitment_id": "X-1",
            "note_id": "00000000-0000-4000-8000-000000000000",
            "text": "t",
            "author": "a",
        },
        "metadata": {},
        "recorded_at": recorded_at,
    }


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([_note_line(1, "not-a-uuid")], "is not a UUID"),
        (
            [
                _note_line(1, "00000000-0000-4000-8000-000000000001"),
                _note_line(2, "00000000-0000-4000-8000-000000000001"),
            ],
            "appears twice",
        ),
        ([_note_line(1, "00000000-0000-4000-8000-000000000001", "yesterday")], "recorded_at"),
    ],
    ids=["bad-uuid", "duplicate-id", "bad-time"],
)
def test_structurally_invalid_journals_are_refused(
    tmp_path: Path, lines: list[dict], message: str
) -> None:
    path = _forge(tmp_path, lines)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "monitor.toml").write_text("")
    with Monitor.open(load_settings(tmp_path / "config" / "monitor.toml", env={})) as copy:
        with pytest.raises(IntegrityViolation, match=message):
            copy.import_journal(path)
        assert copy.last_position() == 0
        path.write_bytes(b"\xff\xfe not utf-8\n")
        with pytest.raises(IntegrityViolation, match="not UTF-8"):
            copy.import_journal(path)


BEFORE_ISSUE_12 = ROOT / "tests" / "data" / "journal-before-issue-12.jsonl"


def test_a_journal_written_before_the_application_layer_reads_the_same(
    project: Path, tmp_path: Path
) -> None:
    """A journal exported by the code before issue 12's restructuring (commit bb06b34: the
    catalogue synced, two statuses set with evidence, a note) imports, verifies, reads the
    same and exports byte for byte as it was written, on each backend."""
    settings = load_settings(project / "config" / "monitor.toml", env={})
    with Monitor.open(settings) as monitor:
        report = monitor.import_journal(BEFORE_ISSUE_12)
        lines = BEFORE_ISSUE_12.read_text(encoding="utf-8").splitlines()
        assert report.events == len(lines) == 24
        assert report.last_hash == json.loads(lines[-1])["hash"]
        assert monitor.verify().ok
        statuses = {v.commitment_id: v.status for v in monitor.list_commitments()}
        assert len(statuses) == 19
        assert statuses["EPCC23-SEMI-03"] == "in_progress"
        assert statuses["EPCC23-COER-03"] == "fulfilled"
        state, _ = monitor.show("EPCC23-SC-02")
        assert [event.text for _, event in state.notes] == ["watch the critical minerals talks"]
        path, count, _ = monitor.export(tmp_path / "again")
        assert count == 24
        assert path.read_bytes() == BEFORE_ISSUE_12.read_bytes()
