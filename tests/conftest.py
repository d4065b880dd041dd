"""Shared fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL comes from $MONITOR_TEST_POSTGRES_URL. Locally, without it, PostgreSQL tests are
skipped with a visible reason; in CI (CI=true) a missing or unreachable server fails them.
Each test gets its own PostgreSQL schema, dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from monitor import FixedClock, Monitor, load_settings

from .feedserver import FeedServer

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "config" / "commitments.toml"
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
POSTGRES_ENV = "MONITOR_TEST_POSTGRES_URL"
#: the [poll] table of every test project: the feed server is on 127.0.0.1, an address the
#: fetcher refuses unless allowed (tests that add their own [poll] keys add them to it)
ALLOW_LOOPBACK = "[poll]\nallow_private_addresses = true\n"


def _postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    in_ci = os.environ.get("CI") == "true"
    if not url:
        if in_ci:
            pytest.fail(f"{POSTGRES_ENV} must be set in CI: the PostgreSQL tests may not skip")
        pytest.skip(
            f"PostgreSQL tests skipped: set {POSTGRES_ENV} (e.g. postgresql://postgres@127.0.0.1/test)"
        )
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'monitor.sqlite3'}"
        return
    base = _postgres_base_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError as exc:
        # The URL was given on purpose: an unreachable server is a failure, not a skip.
        admin.dispose()
        pytest.fail(f"PostgreSQL at {base} ({POSTGRES_ENV}) is unreachable: {exc.orig}")
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def project(tmp_path: Path, database_url: str) -> Path:
    """A project folder with config/monitor.toml pointing at the test database; its sources
    may be fetched from loopback (the feed server), which production refuses."""
    config = tmp_path / "project" / "config"
    config.mkdir(parents=True)
    shutil.copy(CATALOGUE, config / "commitments.toml")
    (config / "monitor.toml").write_text(
        f'[database]\ndatabase_url = "{database_url}"\n\n[display]\ntimezone = "UTC"\n'
        f"\n{ALLOW_LOOPBACK}",
        encoding="utf-8",
    )
    return config.parent


@pytest.fixture(scope="session")
def feed_server() -> Iterator[FeedServer]:
    """One loopback feed server for the session (tests use their own feed names)."""
    with FeedServer() as server:
        yield server


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def monitor(project: Path, clock: FixedClock) -> Iterator[Monitor]:
    """An initialised monitor (schema + the real catalogue) on each backend."""
    settings = load_settings(project / "config" / "monitor.toml", env={})
    with Monitor.open(settings, clock) as m:
        m.init()
        yield m
