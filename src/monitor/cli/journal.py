"""The journal: ``monitor verify`` (the hash chain), ``export`` and ``import`` (JSON
Lines), ``rebuild`` (the read models from the events).

The root app (:mod:`monitor.cli`) registers these commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.options import JsonOpt, open_monitor
from monitor.cli.output import count_progress, err, escape, out, print_json, progress_bar


def verify(as_json: JsonOpt = False) -> None:
    """Check the hash chain and the journal's invariants end to end; exit 1 on any break."""
    with open_monitor() as monitor, progress_bar("verifying") as progress:
        report = monitor.verify(count_progress(progress, "events"))
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "events": report.events,
                "streams": report.streams,
                "last_position": report.last_position,
                "last_hash": report.last_hash,
                "problems": report.problems,
            }
        )
    elif report.ok:
        out.print(
            f"ok: {report.events} events in {report.streams} streams, chain intact up to "
            f"position {report.last_position} (head {report.last_hash[:16]})"
        )
    else:
        for problem in report.problems:
            err.print(f"broken: {escape(problem)}")
    if not report.ok:
        raise typer.Exit(1)


def export(
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="A folder (writes journal.jsonl) or a .jsonl file "
            "[default: events/ in the project folder].",
        ),
    ] = None,
) -> None:
    """Write the whole journal as hash-chained JSON Lines (re-importable)."""
    with open_monitor() as monitor, progress_bar("exporting") as progress:
        path, count, last_hash = monitor.export(out_path, count_progress(progress, "events"))
    out.print(f"wrote {count} events to {path} (head {last_hash[:16]})")


def import_(
    file: Annotated[Path, typer.Argument(help="A journal written by `monitor export`.")],
) -> None:
    """Load an exported journal into an empty store: same positions and hashes."""
    with open_monitor() as monitor, progress_bar("importing") as progress:
        report = monitor.import_journal(file, count_progress(progress, "events"))
    out.print(
        f"imported {report.events} events in {report.streams} streams, chain verified "
        f"(head {report.last_hash[:16]})"
    )


def rebuild() -> None:
    """Drop the read models and rebuild them from the journal, with a progress bar."""
    with open_monitor() as monitor, progress_bar("rebuilding") as progress:
        task = progress.add_task("events", total=monitor.last_position() or None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None)

        count = monitor.rebuild(update)
    out.print(f"rebuilt the projections from {count} events")
