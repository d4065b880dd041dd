"""Reading the files a user edits (the catalogue, the sources file): one clear error each."""

from __future__ import annotations

from pathlib import Path

from monitor.errors import MonitorError


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of ``path``; a MonitorError naming ``what`` and the reason otherwise."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MonitorError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise MonitorError(f"{what} {path} is not UTF-8 text: {exc.reason}") from exc
