"""The command line: a thin Typer layer over :class:`monitor.core.Monitor`.

Exit codes: 0 success, 1 a problem the user can fix (one line on stderr, no traceback),
2 wrong usage (unknown option, missing argument). ``--json`` prints machine-readable output.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor.cli import accounts, commitments, digest, journal, matching, review, serve, sources
from monitor.cli.options import JsonOpt, open_monitor, root_options
from monitor.cli.output import err, escape, out, print_json
from monitor.errors import CatalogueError, MonitorError
from monitor.version import __version__

if TYPE_CHECKING:
    from monitor.core import SyncReport

# Every import that loads the database, the models or the terminal library waits for the
# command that needs it: `monitor --version` and `--help` load none of them (see
# bench/startup.py).

app = typer.Typer(
    help="Track whether governments keep the commitments they sign.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(commitments.status_app, name="status")
app.add_typer(commitments.note_app, name="note")
app.add_typer(commitments.evidence_app, name="evidence")
app.add_typer(accounts.user_app, name="user")
app.add_typer(accounts.token_app, name="token")
app.add_typer(sources.sources_app, name="sources")
app.add_typer(digest.digest_app, name="digest")


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"monitor {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="monitor.toml to use (default: $MONITOR_CONFIG, then ./config/monitor.toml).",
            dir_okay=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    root_options.config = config


def _sync_lines(report: SyncReport) -> list[str]:
    lines = [f"registered {cid}" for cid in report.registered]
    lines += [f"revised {cid}: {', '.join(f)}" for cid, f in report.revised.items()]
    lines += [f"retired {cid}" for cid in report.retired]
    lines += [f"reinstated {cid}" for cid in report.reinstated]
    return lines


def _sync_json(report: SyncReport) -> dict[str, Any]:
    return {
        "registered": report.registered,
        "revised": report.revised,
        "retired": report.retired,
        "reinstated": report.reinstated,
    }


# -- setup ------------------------------------------------------------------------------------


@app.command()
def init(as_json: JsonOpt = False) -> None:
    """Create or upgrade the database, then load the catalogue and sources (safe to rerun)."""
    from monitor.settings import describe

    with open_monitor() as monitor:
        before, after = monitor.migrate()
        report = monitor.sync()
        sources = monitor.intake.sync_sources()
        summary = monitor.database_summary()
    if as_json:
        print_json(
            {
                "schema_before": before,
                "schema": after,
                **_sync_json(report),
                "sources": sources,
                **summary,
            }
        )
        return
    where = describe(monitor.settings)["database_url"]
    schema = (
        f"created schema {after}"
        if before is None
        else (
            f"upgraded schema {before} -> {after}" if before != after else f"schema {after} current"
        )
    )
    out.print(f"{where}: {schema}")
    for line in _sync_lines(report):
        out.print(line)
    for kind, names in sources.items():
        out.print(f"sources {kind}: {', '.join(names)}")
    out.print(
        f"catalogue: {len(report.registered)} registered, {len(report.revised)} revised, "
        f"{len(report.retired)} retired; {summary['events']} events in the journal"
    )


@app.command()
def sync(
    reason: Annotated[
        str | None, typer.Option(help="Why the catalogue changed (recorded on revisions).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record what changed in the catalogue and sources files (no change, no events)."""
    with open_monitor() as monitor:
        report = monitor.sync(reason)
        sources = monitor.intake.sync_sources()
    if as_json:
        print_json({**_sync_json(report), "sources": sources})
        return
    for line in _sync_lines(report):
        out.print(line)
    if not report.changed:
        out.print("catalogue unchanged: nothing recorded")
    for kind, names in sources.items():
        out.print(f"{kind}: {', '.join(names)}")
    if not sources:
        out.print("sources unchanged: nothing recorded")


@app.command("config")
def show_config(as_json: JsonOpt = False) -> None:
    """Show the settings in effect (file, environment and defaults combined)."""
    from monitor.settings import describe, load_settings

    settings = load_settings(root_options.config)
    values = describe(settings)
    if as_json:
        print_json(values)
        return
    for key, value in values.items():
        out.print(f"{key} = {value}")


# -- queries ----------------------------------------------------------------------------------


app.command("list")(commitments.list_)
app.command()(commitments.show)
app.command()(commitments.history)
app.command()(commitments.counts)


# -- sources, polls, queue -------------------------------------------------------------------


app.command()(sources.poll)


app.command()(review.queue)
app.command()(review.review)
app.command()(review.undo)


app.command()(serve.web)
app.command()(serve.serve)


app.command()(matching.match)
app.command()(matching.rematch)


app.command()(journal.verify)
app.command()(journal.export)
app.command("import")(journal.import_)
app.command()(journal.rebuild)


def main() -> None:
    """Entry point: run the app, turning MonitorError into one line and exit code 1."""
    try:
        app()
    except CatalogueError as exc:
        # Every problem, one per line: fixing a catalogue one error per run is tedious.
        err.print(f"error: the catalogue has {len(exc.problems)} problem(s); nothing was written")
        for problem in exc.problems:
            err.print(f"  {escape(problem)}")
        sys.exit(1)
    except MonitorError as exc:
        err.print(f"error: {escape(str(exc))}")
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
