"""What monitor keeps is its user's alone: the database (with -wal and -shm), the data
folder, snapshots and the digest outbox are made owner-only, and `monitor serve` says at
start-up which existing ones others can read (issue 14)."""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass
from pathlib import Path

from monitor import Monitor, load_settings
from monitor.snapshots import Snapshot, Snapshots, StateCodec

from .servicekit import ServiceProcess, write_service_config
from .test_cli import run
from .test_digest_cli import RECIPIENT


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_and_a_digest_in_the_outbox_are_owner_only(tmp_path: Path) -> None:
    workdir = tmp_path  # the embedded default: SQLite under data/, no SMTP: the outbox
    (workdir / "config").mkdir()
    (workdir / "config" / "monitor.toml").write_text(RECIPIENT, encoding="utf-8")
    run(workdir, "init")
    data = workdir / "data"
    assert (mode(data), mode(data / "monitor.sqlite3")) == (0o700, 0o600)
    sent = run(workdir, "digest", "send", "--now", "--to", "ana@example.org").stdout
    found = re.search(r"written to (\S+)", sent)
    assert found, sent
    eml = Path(found.group(1))
    assert eml.parent == data / "outbox"
    assert (mode(eml.parent), mode(eml)) == (0o700, 0o600)


def test_the_wal_the_shm_and_the_snapshots_are_owner_only(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "monitor.toml").write_text("")
    settings = load_settings(tmp_path / "config" / "monitor.toml", env={})
    with Monitor.open(settings) as monitor:
        monitor.init()
        database = settings.data_dir / "monitor.sqlite3"
        # an open connection keeps SQLite's write-ahead log and its shared memory
        wal, shm = Path(f"{database}-wal"), Path(f"{database}-shm")
        assert (mode(database), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)

    @dataclass
    class State:
        notes: int

    # a folder made on the way to the snapshots (PostgreSQL makes no data folder) too
    folder = tmp_path / "elsewhere" / "snapshots"
    Snapshots(folder).save(Snapshot("s-1", 1, "0" * 64, State(3)), StateCodec("s", lambda: State))
    [written] = folder.iterdir()
    assert (mode(folder.parent), mode(folder), mode(written)) == (0o700, 0o700, 0o600)


def test_serve_warns_about_a_database_others_can_read(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / "config").mkdir(parents=True)
    (project / "config" / "monitor.toml").write_text('[display]\ntimezone = "UTC"\n')
    run(project, "init")
    database = project / "data" / "monitor.sqlite3"
    database.chmod(0o644)
    write_service_config(project)
    with ServiceProcess(project, "--no-web") as service:
        warning = service.wait_for(r"WARNING.* is open to group or others")
        service.wait_for(r"holding the scheduler lease")
        assert service.terminate() == 0
    assert warning.string.endswith(
        f"{database} is open to group or others (mode 644): chmod 600 {database}"
    )
    told = [line for line in service.lines if "open to group or others" in line]
    # one line per file: the -wal and -shm SQLite made with the database's mode, if any
    # was there at the check, never the data folder (0700)
    assert all(re.search(r"monitor\.sqlite3(-wal|-shm)? is open", line) for line in told)
