"""The command line: a thin Typer layer over :class:`monitor.core.Monitor`.

Exit codes: 0 success, 1 a failure (one line on stderr, no traceback), 2 a user's mistake
(wrong usage, a refused command, an unknown name, the configuration). ``--json`` prints
machine-readable output.

This module is the root app: the global options (``--config``, ``--version``), the entry
point :func:`main`, and every command with the module that holds it, in the order
``--help`` lists them (a run builds only the command it runs: :func:`build`). Each area has
its module (``commitments``, ``sources``, ``review``, ``journal``...); what they share is in
``output`` (how commands print) and ``options`` (``--json``, ``--by``, the statuses, the
Monitor that ``--config`` names).
"""

from __future__ import annotations

import sys
from importlib import import_module
from pathlib import Path
from typing import Annotated, Any

import typer

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

__all__ = ["COMMANDS", "SUB_APPS", "app", "build", "main"]

# Every import that loads the database, the models or the terminal library waits for the
# command that needs it: `monitor --version` and `--help` load none of them (see
# bench/startup.py).

#: every command, in the order --help lists them: its name -> (the module, the function)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("setup", "init"),
    "sync": ("setup", "sync"),
    "config": ("setup", "show_config"),
    "list": ("commitments", "list_"),
    "show": ("commitments", "show"),
    "history": ("commitments", "history"),
    "counts": ("commitments", "counts"),
    "report": ("report", "report"),
    "poll": ("sources", "poll"),
    "queue": ("review", "queue"),
    "review": ("review", "review"),
    "undo": ("review", "undo"),
    "web": ("serve", "web"),
    "serve": ("serve", "serve"),
    "match": ("matching", "match"),
    "rematch": ("matching", "rematch"),
    "verify": ("journal", "verify"),
    "export": ("journal", "export"),
    "import": ("journal", "import_"),
    "rebuild": ("journal", "rebuild"),
}

#: the sub-apps, each its module's own (Typer lists them after the commands)
SUB_APPS: dict[str, tuple[str, str]] = {
    "status": ("commitments", "status_app"),
    "note": ("commitments", "note_app"),
    "evidence": ("commitments", "evidence_app"),
    "user": ("accounts", "user_app"),
    "token": ("accounts", "token_app"),
    "sources": ("sources", "sources_app"),
    "digest": ("digest", "digest_app"),
}


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"monitor {__version__}\n")
        raise typer.Exit()


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


def _attr(module: str, name: str) -> Any:
    return getattr(import_module(f"monitor.cli.{module}"), name)


def build(only: str | None = None) -> typer.Typer:
    """The root app with every command, or with ``only`` the one named: a command needs
    neither the other commands' modules nor Typer's work on their parameters, which is
    most of a short command's start-up (bench/startup.py). Its usage, help and errors are
    the same either way: the root's options and the command's own are all it shows."""
    root = typer.Typer(
        help="Track whether governments keep the commitments they sign.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    root.callback()(_main)
    for name, (module, function) in COMMANDS.items():
        if only in (None, name):
            root.command(name)(_attr(module, function))
    for name, (module, sub_app) in SUB_APPS.items():
        if only in (None, name):
            root.add_typer(_attr(module, sub_app), name=name)
    return root


def __getattr__(name: str) -> Any:
    # `monitor.cli.app`, the whole tree (tests and tools use it), built on first use
    if name == "app":
        whole = globals()["app"] = build()
        return whole
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _command_named(args: list[str]) -> str | None:
    """The command ``args`` run, if the root's options before it are all understood."""
    rest = iter(args)
    for arg in rest:
        if arg in ("--config", "-c"):
            next(rest, None)
        elif arg.startswith("--config="):
            continue
        elif arg in COMMANDS or arg in SUB_APPS:
            return arg
        else:
            return None  # --help, --version, a typo: the whole tree answers
    return None


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
        build(_command_named(sys.argv[1:]))(prog_name="monitor")
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
