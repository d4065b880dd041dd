"""What monitor keeps to its own user on disk, and which of it is open to others now.

The journal's SQLite file (with its -wal and -shm), the data folder, the snapshots, the
session key and the digest outbox are made owner-only when monitor creates them
(:mod:`monitor.files`). One made before, or opened up by hand, keeps its mode: ``monitor
serve`` says so at start-up, one line for each, with the command that closes it.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from monitor.files import open_to_others
from monitor.settings import Settings


def kept_private(settings: Settings) -> list[Path]:
    """The files and folders of ``settings`` that only monitor's user should read."""
    data = settings.data_dir
    paths = [data, data / "secret_key", data / "snapshots", settings.digest.outbox]
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        database = Path(url.database)
        paths += [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
    return paths


def exposed(settings: Settings) -> list[str]:
    """One warning per private file or folder that group or others may read or write."""
    warnings = []
    for path, mode in open_to_others(kept_private(settings)):
        owner_only = "700" if path.is_dir() else "600"
        warnings.append(
            f"{path} is open to group or others (mode {mode:03o}): chmod {owner_only} {path}"
        )
    return warnings
