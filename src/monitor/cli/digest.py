"""The daily digest email: ``monitor digest preview|send|status``.

The sub-app ``digest`` is this module's own; the root app (:mod:`monitor.cli`) adds it.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from monitor.cli.options import JsonOpt, open_monitor
from monitor.cli.output import err, escape, out, print_json
from monitor.cli.tables import Column, print_table
from monitor.dates import local, parse_moment
from monitor.errors import MonitorError

digest_app = typer.Typer(
    help="The daily digest email: preview, send, status.", no_args_is_help=True
)


NO_RECIPIENTS = "no digest recipients: add a [[digest.recipients]] table to config/monitor.toml"


@digest_app.command("preview")
def digest_preview(
    to: Annotated[str, typer.Option("--to", help="A recipient's address (config/monitor.toml).")],
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write the HTML part to this file.", dir_okay=False),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Report from this date (YYYY-MM-DD, in the recipient's zone) instead of "
            "since their last digest."
        ),
    ] = None,
) -> None:
    """Print the digest a recipient would get now (its text part); nothing is sent or recorded."""
    with open_monitor() as monitor:
        recipient = monitor.digests.recipient(to)
        moment = parse_moment(since, recipient.timezone) if since else None
        preview = monitor.digests.preview(to, monitor.clock.now(), moment)
    if html is not None:
        try:
            html.write_text(preview.rendered.html, encoding="utf-8")
        except OSError as exc:
            raise MonitorError(f"cannot write {html}: {exc.strerror or exc}") from exc
        err.print(f"wrote the HTML part to {escape(str(html))}")
    sys.stdout.write(f"Subject: {preview.rendered.subject}\n\n{preview.rendered.text}")


@digest_app.command("send")
def digest_send(
    now: Annotated[
        bool,
        typer.Option(
            "--now",
            help="Send today's digest now, before its send time (still once per local day; "
            "one that failed today is tried again).",
        ),
    ] = False,
    to: Annotated[str | None, typer.Option("--to", help="Only this recipient.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Send the digests that are due (catch-ups and retries too); exit 1 if one failed."""
    with open_monitor() as monitor:
        if not monitor.digests.recipients:
            raise MonitorError(NO_RECIPIENTS)
        moment = monitor.clock.now()
        if now:
            results = monitor.digests.send_now(moment, to)
        else:
            results = monitor.digests.send_due(moment, to)
        due = {r.address: monitor.next_digest_due(r.address, moment) for r in results}
        zones = {r.address: r.timezone for r in monitor.digests.recipients}
    if as_json:
        print_json([{**dataclasses.asdict(r), "next_due": due[r.address]} for r in results])
    for r in results:
        if as_json:
            break
        zone = zones[r.address]
        if r.outcome == "sent":
            where = "written to" if r.destination and r.destination.endswith(".eml") else "sent to"
            out.print(
                f"{r.address}: digest of {r.local_day} ({r.trigger}) {where} "
                f"{escape(r.destination or '')}"
            )
        elif r.outcome == "skipped":
            out.print(f"{r.address}: nothing new for {r.local_day}; skipped (digest.when_empty)")
        elif r.outcome == "not due":
            out.print(
                f"{r.address}: {_not_due(r.reason, r.local_day, local(due[r.address], zone))}"
            )
        elif r.outcome == "deferred":
            err.print(
                f"{r.address}: digest of {r.local_day or 'today'} not sent: "
                f"{escape(r.error or '')}; "
                f"tried again from {local(due[r.address], zone)}"
            )
        else:
            err.print(
                f"{r.address}: digest of {r.local_day} failed: {escape(r.error or '')} "
                "(not retried; see `monitor digest status`)"
            )
    if any(r.outcome in ("failed", "deferred") for r in results):
        raise typer.Exit(1)


def _not_due(reason: str, day: Any, next_due: str) -> str:
    return {
        "sent": f"the digest of {day} is sent already; next at {next_due}",
        "skipped": f"the digest of {day} was skipped (nothing new); next at {next_due}",
        "failed": f"the digest of {day} failed for good; try again with --now; next at {next_due}",
        "in progress": f"another process is sending the digest of {day}",
        "retry later": f"the digest of {day} failed for now; tried again from {next_due}",
    }.get(reason, f"not due yet; next at {next_due} (--now sends today's now)")


@digest_app.command("status")
def digest_status(as_json: JsonOpt = False) -> None:
    """Per recipient: last digest sent, next one due (in their zone), last error, and in
    words what is waiting and why."""
    with open_monitor() as monitor:
        now = monitor.clock.now()
        rows = monitor.digests.status(now)
    if as_json:
        print_json(
            [
                {
                    "address": s.recipient.address,
                    "timezone": s.recipient.timezone.key,
                    "send_time": s.recipient.send_time.strftime("%H:%M"),
                    "last_sent_at": s.last_sent_at,
                    "last_sent_day": s.last_sent_day,
                    "last_destination": s.last_destination,
                    "next_due": s.next_due,
                    "in_progress": s.in_progress,
                    "last_error": s.last_error,
                    "last_error_day": s.last_error_day,
                    "last_error_permanent": s.last_error_permanent,
                    "summary": s.in_words(now),
                }
                for s in rows
            ]
        )
        return
    if not rows:
        out.print(NO_RECIPIENTS)
        return
    columns = [
        Column("recipient", key=True),
        Column("zone", one_line=True),
        Column("last sent", one_line=True),
        Column("next due", one_line=True),
        Column("last error"),
    ]
    cells = []
    for s in rows:
        zone = s.recipient.timezone
        error = ""
        if s.last_error:
            kind = "permanent" if s.last_error_permanent else "will retry"
            error = f"{s.last_error_day}: {s.last_error} ({kind})"
        cells.append(
            [
                s.recipient.address,
                f"{zone.key} {s.recipient.send_time:%H:%M}",
                local(s.last_sent_at, zone) or "never",
                "in progress" if s.in_progress else local(s.next_due, zone),
                error,
            ]
        )
    print_table(f"{len(rows)} recipient(s)", columns, cells)
    for s in rows:
        out.print(f"{s.recipient.address}: {escape(s.in_words(now))}")
