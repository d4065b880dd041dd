"""``monitor report``: the scorecard as of a date, in HTML, Markdown, CSV or JSON (a thin
adapter over :mod:`monitor.application.report`; docs/report.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli.options import open_monitor
from monitor.cli.output import err
from monitor.errors import CommandRejected

if TYPE_CHECKING:
    from monitor.application.report import Report

FORMATS = ("html", "md", "csv", "json")
#: a file's extension -> the format it gets when --format is not given
EXTENSIONS = {".html": "html", ".htm": "html", ".md": "md", ".csv": "csv", ".json": "json"}


def format_for(given: str | None, out: Path | None) -> str:
    """The format asked for, or the one ``out``'s extension names (Markdown without one)."""
    if given is not None:
        if given not in FORMATS:
            raise CommandRejected(f"unknown format {given!r} (one of: {', '.join(FORMATS)})")
        return given
    if out is None:
        return "md"
    found = EXTENSIONS.get(out.suffix.lower())
    if found is None:
        raise CommandRejected(
            f"cannot tell the format from {out.name!r}: give --format ({', '.join(FORMATS)})"
        )
    return found


def report(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="YYYY-MM-DD (end of that day in your zone; default today)."),
    ] = None,
    recorded: Annotated[
        bool,
        typer.Option(
            "--recorded",
            help="What monitor showed on that date (events recorded by then) instead of the "
            "status in effect then as known now.",
        ),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option("--since", help="YYYY-MM-DD: also list the statuses that moved since."),
    ] = None,
    format_: Annotated[
        str | None,
        typer.Option("--format", help="html, md, csv or json (default: from --out, else md)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="The file to write (default: standard output).", dir_okay=False),
    ] = None,
) -> None:
    """The scorecard: every active commitment's status and score as of a date."""
    from monitor.dates import parse_moment

    chosen = format_for(format_, out)
    if out is None and chosen == "html" and sys.stdout.isatty():
        raise CommandRejected("an HTML report is a file: give --out FILE.html (or redirect)")
    with open_monitor() as monitor:
        zone = monitor.settings.timezone
        day = as_of or monitor.clock.now().astimezone(zone).date().isoformat()
        moment = parse_moment(day, zone, end_of_day=True)
        start = parse_moment(since, zone, end_of_day=True) if since else None
        result = monitor.report(moment, clock="recorded" if recorded else "effective", since=start)
    text = render(result, chosen)
    if out is None:
        sys.stdout.write(text)
        return
    from monitor.files import replaced_atomically

    try:
        with replaced_atomically(out) as target:
            target.write(text.encode("utf-8"))
    except OSError as exc:
        raise CommandRejected(f"cannot write {out}: {exc.strerror or exc}") from exc
    err.print(
        f"wrote {out} ({chosen}, {len(result.entries)} commitments) from the journal's head "
        f"{result.head}; check it with: monitor verify --head {result.head}"
    )


def render(result: Report, chosen: str) -> str:
    """The report in the format chosen."""
    from monitor.application.report import csv_text, markdown

    if chosen == "json":
        from monitor.core import dumps
        from monitor.shapes import report_json

        return dumps(report_json(result)) + "\n"
    if chosen == "csv":
        return csv_text(result)
    if chosen == "html":
        from monitor.web.report import render_html

        return render_html(result)
    return markdown(result)
