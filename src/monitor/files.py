"""Files on disk: reading the ones a user edits, writing ours so that a crash leaves the
old file or the new one, never half of one, and keeping ours to their owner.

What monitor keeps (the journal's database, its snapshots, the session key, digests not
yet read) is nobody else's business on a shared host: it is made owner-only (files 0600,
folders 0700) when monitor creates it. An existing file keeps its mode (a person chose it);
``monitor serve`` says at start-up which are open to others (:func:`open_to_others`).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from monitor.errors import MonitorError

#: the modes of what monitor creates: its user's alone
OWNER_ONLY_FILE = 0o600
OWNER_ONLY_FOLDER = 0o700
#: read or write by group or others
_SHARED = stat.S_IRGRP | stat.S_IWGRP | stat.S_IROTH | stat.S_IWOTH


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of ``path``; a MonitorError naming ``what`` and the reason otherwise."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MonitorError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise MonitorError(f"{what} {path} is not UTF-8 text: {exc.reason}") from exc


@contextlib.contextmanager
def replaced_atomically(path: Path) -> Iterator[IO[bytes]]:
    """Write ``path`` through a temporary file beside it: flushed, fsynced, renamed over
    ``path``, and the rename made durable. On any error the temporary file goes and
    ``path`` is as it was. OSError reaches the caller, which knows what the file is."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where folders can be opened at all)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not every platform opens folders; the file itself is synced
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def private_folder(path: Path) -> None:
    """Make the folder ``path``, and each missing folder above it, owner-only (0700).

    A folder there already is left as it is. ``Path.mkdir(parents=True, mode=...)`` would
    give the parents it makes the default mode: a data folder made on the way to its
    snapshots folder would be readable by everyone."""
    missing = []
    folder = path
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process
            folder.mkdir(mode=OWNER_ONLY_FOLDER)
    path.mkdir(mode=OWNER_ONLY_FOLDER, exist_ok=True)  # raises if a file stands there


def private_file(path: Path) -> None:
    """Create ``path`` empty and owner-only (0600) unless it exists; never truncates.

    For files another library creates with its own mode: SQLite opens an existing file
    as it is, and gives its -wal and -shm files the database file's mode."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY_FILE))


def open_to_others(paths: list[Path]) -> list[tuple[Path, int]]:
    """Those of ``paths`` that exist and that group or others may read or write, with
    their permission bits."""
    found = []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:  # not there (yet): nothing to say
            continue
        if mode & _SHARED:
            found.append((path, mode))
    return found
