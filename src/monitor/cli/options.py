"""What several commands share: the --json and --by options, the list of statuses, and the
global --config with the Monitor it opens.

The database and the models are imported when a command opens the Monitor, not here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.status import Status

if TYPE_CHECKING:
    from monitor.core import Monitor

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ByOpt = Annotated[str, typer.Option("--by", help="Who does this (recorded in the journal).")]
STATUS_HELP = "One of: " + ", ".join(s.value for s in Status)


class _RootOptions:
    config: Path | None = None


root_options = _RootOptions()
"""Set by the root callback: ``root_options.config`` is ``monitor --config FILE``."""


@contextmanager
def open_monitor() -> Iterator[Monitor]:
    """The Monitor for the settings ``--config`` names, closed when the command is done."""
    from monitor.core import Monitor
    from monitor.settings import load_settings

    settings = load_settings(root_options.config)
    with Monitor.open(settings) as monitor:
        yield monitor
