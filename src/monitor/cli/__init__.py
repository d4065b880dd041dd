"""The command line: a thin Typer layer over :class:`monitor.core.Monitor`.

Exit codes: 0 success, 1 a problem the user can fix (one line on stderr, no traceback),
2 wrong usage (unknown option, missing argument). ``--json`` prints machine-readable output.

This module is the root app: the global options (``--config``, ``--version``), the entry
point :func:`main`, and every command with the module that holds it, in the order
``--help`` lists them. Each area has its module (``commitments``, ``sources``, ``review``,
``journal``...); what they share is in ``output`` (how commands print) and ``options``
(``--json``, ``--by``, the statuses, the Monitor that ``--config`` names).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli import (
    accounts,
    commitments,
    digest,
    journal,
    matching,
    review,
    serve,
    setup,
    sources,
)
from monitor.cli.options import root_options
from monitor.cli.output import err, escape
from monitor.errors import (
    CatalogueError,
    CommandRejected,
    ConfigError,
    MonitorError,
    NotFound,
    StoreNotEmpty,
    StoreNotInitialised,
)
from monitor.version import __version__

__all__ = ["app", "main"]

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


# -- the commands, in the order --help lists them -------------------------------------------

app.command()(setup.init)
app.command()(setup.sync)
app.command("config")(setup.show_config)

app.command("list")(commitments.list_)
app.command()(commitments.show)
app.command()(commitments.history)
app.command()(commitments.counts)

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

# the sub-apps, each its module's own (Typer lists them after the commands)
app.add_typer(commitments.status_app, name="status")
app.add_typer(commitments.note_app, name="note")
app.add_typer(commitments.evidence_app, name="evidence")
app.add_typer(accounts.user_app, name="user")
app.add_typer(accounts.token_app, name="token")
app.add_typer(sources.sources_app, name="sources")
app.add_typer(digest.digest_app, name="digest")


#: what a user got wrong and can put right (exit 2, as for a usage error): a refused
#: command, an unknown name, the configuration, the catalogue, a store not made yet or not
#: empty. Anything else (the database down, a stream that kept changing, a chain that does
#: not verify, mail not delivered) exits 1.
USER_MISTAKES: tuple[type[MonitorError], ...] = (
    CommandRejected, NotFound, ConfigError, CatalogueError, StoreNotInitialised, StoreNotEmpty,
)  # fmt: skip


def main() -> None:
    """Entry point: run the app, turning MonitorError into one line; exit 2 for a user's
    mistake, 1 for a failure."""
    if sys.argv[1:] == ["--version"]:
        # asked by scripts and package managers: answered without building every command
        sys.stdout.write(f"monitor {__version__}\n")
        return
    try:
        app()
    except CatalogueError as exc:
        # Every problem, one per line: fixing a catalogue one error per run is tedious.
        err.print(f"error: the catalogue has {len(exc.problems)} problem(s); nothing was written")
        for problem in exc.problems:
            err.print(f"  {escape(problem)}")
        sys.exit(2)
    except MonitorError as exc:
        err.print(f"error: {escape(str(exc))}")
        sys.exit(2 if isinstance(exc, USER_MISTAKES) else 1)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
