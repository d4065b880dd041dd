"""Setting up: ``monitor init`` (the database, the catalogue, the sources), ``monitor sync``
(what changed in the catalogue and sources files) and ``monitor config`` (the settings in
effect).

The root app (:mod:`monitor.cli`) registers these commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor.cli.options import JsonOpt, open_monitor, root_options
from monitor.cli.output import escape, out, print_json

if TYPE_CHECKING:
    from monitor.core import SyncReport


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


def init(as_json: JsonOpt = False) -> None:
    """Create or upgrade the database, then load the catalogue and sources (safe to rerun)."""
    from monitor.settings import describe

    with open_monitor() as monitor:
        before, after = monitor.migrate()
        report = monitor.sync()
        sources = monitor.sources.sync()
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
    settings = monitor.settings
    out.print(f"data folder: {settings.data_dir}; catalogue: {settings.catalogue}")
    for line in _sync_lines(report):
        out.print(line)
    for kind, names in sources.items():
        out.print(f"sources {kind}: {', '.join(names)}")
    out.print(
        f"catalogue: {len(report.registered)} registered, {len(report.revised)} revised, "
        f"{len(report.retired)} retired; {summary['events']} events in the journal"
    )


def sync(
    reason: Annotated[
        str | None, typer.Option(help="Why the catalogue changed (recorded on revisions).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record what changed in the catalogue and sources files (no change, no events)."""
    with open_monitor() as monitor:
        report = monitor.sync(reason)
        sources = monitor.sources.sync()
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


def show_config(as_json: JsonOpt = False) -> None:
    """Show every setting in effect and where it came from (the config file, a MONITOR_*
    environment variable, or the default); secrets masked."""
    from monitor.settings import describe, load_settings, sources_of

    settings = load_settings(root_options.config)
    shown = sources_of(root_options.config)
    if as_json:
        print_json(
            {
                "config_file": str(settings.config_file) if settings.config_file else None,
                "settings": [
                    {"name": s.name, "value": s.value, "source": s.source, "env": s.env}
                    for s in shown
                ],
                "resolved": describe(settings),
            }
        )
        return
    out.print(f"config file: {settings.config_file or '(none: defaults and environment)'}")
    out.print(f"data folder: {settings.data_dir}")
    out.print(f"catalogue:   {settings.catalogue}")
    width = max(len(s.name) for s in shown)
    for s in shown:
        origin = f"{s.source} ({s.env})" if s.source == "environment" else s.source
        line = f"{s.name:<{width}} = {s.value!r}  [{origin}]"
        out.print(escape(line), highlight=False)
