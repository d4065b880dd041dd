"""Files on disk: reading the ones a user edits, writing ours so that a crash leaves the
old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from monitor.errors import MonitorError


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
