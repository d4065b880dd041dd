"""The schema is made and upgraded by Alembic; a first-revision database upgrades to head."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from monitor import Monitor, StoreNotInitialised, load_settings, projections
from monitor.events import REGISTRY
from monitor.journal import verify_rows
from monitor.store import migrate
from monitor.store.database import make_engine
from monitor.store.records import NewEvent
from monitor.store.sql import SqlEventStore


def test_a_first_revision_database_upgrades_to_head(database_url: str, project) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    migrate.upgrade(engine, "0001")
    assert migrate.current_revision(engine) == "0001"
    store = SqlEventStore(engine)
    note = {
        "commitment_id": "EPCC23-SC-01",
        "note_id": str(uuid.uuid4()),
        "text": "old",
        "author": "a",
    }
    store.append("commitment-EPCC23-SC-01", [NewEvent(uuid.uuid4(), "NoteAdded", 1, note)], 0)
    settings = load_settings(project / "config" / "monitor.toml", env={})
    with Monitor(settings, engine) as monitor:
        with pytest.raises(StoreNotInitialised, match="run `monitor init` to upgrade"):
            monitor.list_commitments()
        before, after = monitor.migrate()
        assert (before, after) == ("0001", migrate.head_revision())
        assert verify_rows(store.iter_rows(), REGISTRY).ok
        assert store.last_position() == 1  # the old event survived the upgrade


def test_the_recorded_head_is_the_newest_script() -> None:
    # checking a schema reads HEAD_REVISION without loading Alembic: it must name the
    # newest migration script, or every database would be told to upgrade (or not told)
    assert migrate.head_revision() == migrate.scripts_head()


def test_the_schema_revision_is_read_as_alembic_reads_it(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert migrate.current_revision(engine) is None  # empty database
        migrate.upgrade(engine, "0003")
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == "0003"
        assert migrate.current_revision(engine) == "0003"
    finally:
        engine.dispose()


def test_an_empty_database_says_to_run_init(database_url: str, project) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(project / "config" / "monitor.toml", env={})
    with (
        Monitor.open(settings) as monitor,
        pytest.raises(StoreNotInitialised, match="monitor init"),
    ):
        monitor.list_commitments()


def test_migrations_match_the_read_model_classes(database_url: str) -> None:
    projections.load_all()  # every read model's tables in SQLModel.metadata
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    # Only differences that matter: tables or columns missing on either side.
    relevant = [
        d for d in diff if d[0] in ("add_table", "remove_table", "add_column", "remove_column")
    ]
    # The journal, and what is kept beside it (accounts, the API's remembered answers),
    # are no read models.
    kept_beside = ("events", "alembic_version", "accounts", "api_tokens", "idempotency_keys")
    relevant = [d for d in relevant if not (d[0] == "remove_table" and d[1].name in kept_beside)]
    assert relevant == []
    engine.dispose()


@pytest.mark.postgres
def test_init_creates_the_schema_a_postgresql_url_names() -> None:
    """`?options=-csearch_path=NAME` with no such schema yet: init makes it (it used to fail
    with a page of SQL from Alembic)."""
    from urllib.parse import quote

    from sqlalchemy import create_engine, text

    from .conftest import _postgres_base_url

    base = _postgres_base_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    separator = "&" if "?" in base else "?"
    engine = make_engine(f"{base}{separator}options={quote(f'-csearch_path={schema}')}")
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        with admin.connect() as conn:
            tables = conn.execute(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = :s"), {"s": schema}
            ).scalar_one()
        assert tables > 10
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
