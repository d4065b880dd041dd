"""Sources: ``monitor sources`` (their health), ``sources add|import|export``, and
``monitor poll``, which checks them.

The sub-app ``sources`` is this module's own; the root app (:mod:`monitor.cli`) adds it and
registers ``poll``.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer

from monitor.cli.options import ByOpt, JsonOpt, open_monitor
from monitor.cli.output import err, escape, out, print_json, progress_bar, timestamp
from monitor.cli.tables import Column, print_table
from monitor.dates import local
from monitor.shapes import source_json

if TYPE_CHECKING:
    from monitor.domain.check_plan import SourcePlan

sources_app = typer.Typer(help="Feeds and news searches: health, add, import, export.")


@sources_app.callback(invoke_without_command=True)
def sources_list(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    removed: Annotated[bool, typer.Option("--removed", help="Include removed sources.")] = False,
) -> None:
    """Sources and their health: last success, last error, next check, backoff, items."""
    if ctx.invoked_subcommand is not None:
        return
    with open_monitor() as monitor:
        views = monitor.sources.all(include_removed=removed)
        zone = monitor.settings.timezone
    if as_json:
        print_json([source_json(v) for v in views])
        return
    columns = [
        Column("name", key=True),
        Column("health", one_line=True),
        Column("last success", one_line=True, wide=True),
        Column("next check", one_line=True),
        Column("items", justify="right", one_line=True, wide=True),
        Column("prop.", justify="right", one_line=True, wide=True),
        Column("error"),
    ]
    rows = []
    for v in views:
        if v.removed:
            health = "removed"
        elif v.last_outcome is None:
            health = "never checked"
        elif v.consecutive_failures:
            health = f"failing x{v.consecutive_failures}"
        else:
            health = "ok"
        rows.append(
            [
                v.name,
                health,
                local(timestamp(v.last_success_at), zone),
                local(timestamp(v.next_check_at), zone) or "now",
                str(v.items_seen),
                str(v.proposals),
                v.last_error or "",
            ]
        )
    print_table(f"{len(views)} source(s)", columns, rows)


@sources_app.command("add")
def sources_add(
    url: Annotated[str, typer.Argument(help="The feed's URL (RSS or Atom).")],
    name: Annotated[str, typer.Option(help="A short unique name: lowercase, digits, hyphens.")],
    interval: Annotated[str, typer.Option(help="How often to check: 30m, 2h, 1d.")] = "1h",
    kind: Annotated[str, typer.Option(help="feed or news-search.")] = "feed",
    by: ByOpt = "cli",
) -> None:
    """Add a source by hand (kept in the database; sources.toml is not changed)."""
    from monitor.sources.config import format_interval

    with open_monitor() as monitor:
        view = monitor.sources.add(url, name, interval=interval, kind=kind, by=by)
    out.print(f"added {view.name}: {view.url} every {format_interval(view.interval_seconds)}")


@sources_app.command("import")
def sources_import(
    file: Annotated[Path, typer.Argument(help="An OPML file, as feed readers export.")],
    by: ByOpt = "cli",
) -> None:
    """Add every feed of an OPML file (names and URLs already known are skipped)."""
    with open_monitor() as monitor:
        done = monitor.sources.import_opml(file, by=by)
    listed = f": {', '.join(done.added)}" if done.added else ""
    out.print(
        f"added {len(done.added)} source(s){listed}; {len(done.known)} already known; "
        f"{len(done.refused)} refused"
    )
    for reason in done.refused:
        out.print(f"  refused {escape(reason)}")


@sources_app.command("export")
def sources_export() -> None:
    """Print every active source as OPML (monitor sources export > feeds.opml)."""
    with open_monitor() as monitor:
        document = monitor.sources.export_opml()
    sys.stdout.buffer.write(document + b"\n")


def poll(
    everything: Annotated[bool, typer.Option("--all", help="Every source, due or not.")] = False,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Only this source (repeatable).")
    ] = None,
    chunk: Annotated[int, typer.Option(help="Sources recorded per transaction.", hidden=True)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Check due sources once now (or --all, or --source NAME) and record what they hold."""
    with open_monitor() as monitor:
        sources = monitor.sources.due(source, everything)
        if not sources:
            if as_json:
                print_json({"sources": 0})
            else:
                out.print("no source is due (use --all to check every source now)")
            return
        with progress_bar("polling") as progress:
            task = progress.add_task("sources", total=len(sources))

            def recorded(plan: SourcePlan, done: int, total: int) -> None:
                progress.update(task, completed=done)
                if not as_json:
                    detail = f"{plan.items_new} new, {plan.items_revised} edited, "
                    detail += f"{plan.proposals} proposed"
                    if plan.outcome == "failed":
                        detail = escape(plan.error or "failed")
                    out.print(f"checked {plan.name}: {plan.outcome.replace('_', ' ')}; {detail}")

            report = monitor.sources.poll(sources, on_recorded=recorded, chunk=chunk)
    if as_json:
        print_json(dataclasses.asdict(report))
        return
    out.print(
        f"{report.sources} source(s): {report.ok} ok, {report.not_modified} not modified, "
        f"{report.failed} failed; {report.items_new} new item(s), {report.items_revised} "
        f"edited, {report.proposals} proposal(s)"
    )
    for name in report.skipped:
        out.print(f"skipped {name}: changed by someone else meanwhile; it stays due")
    if report.sources and report.failed == report.sources:
        # nothing could be read: say where each failure was (a name alone hides a DNS
        # failure or a proxy), and fail the command for scripts and cron
        hosts = {v.name: urlsplit(v.url).hostname or v.url for v in sources}
        err.print(f"error: every source failed ({report.failed}):")
        for name, error in report.failures:
            err.print(f"  {escape(name)} ({escape(hosts.get(name, '?'))}): {escape(error)}")
        raise typer.Exit(1)
