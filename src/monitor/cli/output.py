"""How commands print: the consoles, text made safe to show, JSON, progress bars, events.

rich is imported on first use, not here: `monitor --version` and `--help` load none of it
(see bench/startup.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from monitor.dates import local
from monitor.ids import MIN_PREFIX
from monitor.shapes import recorded_json

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress


class _LazyConsole:
    """A rich Console made on first use (rich costs about as much to import as Typer)."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, highlight=False, soft_wrap=True)
        return getattr(self._console, name)


out = cast("Console", _LazyConsole(stderr=False))
err = cast("Console", _LazyConsole(stderr=True))


def escape(text: str) -> str:
    """``text`` as a terminal may show it: rich markup escaped, and without the characters
    that reorder or hide text (:func:`monitor.sources.text.visible`; a title from a feed
    could otherwise read backwards, or rewrite the line with a carriage return). rich is
    imported on first use."""
    from rich.markup import escape as rich_escape

    from monitor.sources.text import visible

    return rich_escape(visible(text))


def print_json(value: Any) -> None:
    from monitor.core import dumps

    sys.stdout.write(dumps(value) + "\n")


def timestamp(value: str | None) -> Any:
    """A read model's stored timestamp as a datetime (None stays None), for display."""
    from monitor.timestamps import parse_timestamp

    return parse_timestamp(value) if value else None


#: the events that bring an id into being, and the id (a correction names an old one)
_MADE_ID = {"StatusAssessed": "assessment", "EvidenceAccepted": "evidence"}


def print_recorded(events: list[Any], as_json: bool, zone: Any) -> None:
    """The events a command recorded: one line each, or their JSON."""
    if as_json:
        print_json(recorded_json(events))
        return
    for e in events:
        # the id later commands take (status correct, evidence retract)
        kind = _MADE_ID.get(e.event_type)
        made = e.data.get(f"{kind}_id") if kind else None
        named = [f"{kind} {made[:MIN_PREFIX]}"] if isinstance(made, str) else []
        more = f" ({', '.join(named)})" if named else ""
        out.print(f"recorded {e.event_type} {e.event_id} at {local(e.recorded_at, zone)}{more}")


def progress_bar(label: str) -> Progress:
    """A progress bar on stderr, shown only on a terminal and gone when done."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def count_progress(progress: Progress, label: str) -> Callable[[int], None]:
    """A task on ``progress`` without a total, and the callback that advances it."""
    task = progress.add_task(label, total=None)

    def update(done: int) -> None:
        progress.update(task, completed=done)

    return update
