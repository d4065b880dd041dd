"""The commitments: ``monitor list``, ``show``, ``history``, ``counts``, and what records on
one: ``monitor status set|correct``, ``note add``, ``evidence retract``.

The root app (:mod:`monitor.cli`) registers the top-level commands in the order ``--help``
lists them; the sub-apps ``status``, ``note`` and ``evidence`` are this module's own.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from monitor.cli.options import STATUS_HELP, ByOpt, JsonOpt, open_monitor
from monitor.cli.output import err, escape, out, print_json, print_recorded, timestamp
from monitor.cli.tables import Column, print_table
from monitor.dates import local, local_date, parse_moment
from monitor.ids import short_ids
from monitor.shapes import commitment_json, history_json
from monitor.status import Status

status_app = typer.Typer(help="Assess or correct a commitment's status.", no_args_is_help=True)
note_app = typer.Typer(help="Annotate a commitment.", no_args_is_help=True)
evidence_app = typer.Typer(help="Manage accepted evidence.", no_args_is_help=True)


def list_(
    status: Annotated[str | None, typer.Option(help=STATUS_HELP)] = None,
    topic: Annotated[str | None, typer.Option(help="A topic or agenda tag, e.g. S2 or ai.")] = None,
    retired: Annotated[bool, typer.Option("--retired", help="Include retired ones.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List the commitments with their current status."""
    with open_monitor() as monitor:
        views = monitor.list_commitments(status, topic, retired)
        zone = monitor.settings.timezone
    if as_json:
        print_json([commitment_json(v) for v in views])
        return
    columns = [
        Column("id", key=True),
        Column("status", one_line=True),
        Column("since", one_line=True),
        Column("ev", justify="right", one_line=True),
        Column("title"),
        Column("topics", wide=True),
    ]
    rows = [
        [
            v.commitment_id,
            v.status,
            local_date(timestamp(v.status_effective_at), zone),
            str(v.evidence_count),
            v.title + (" [retired]" if v.retired else ""),
            ", ".join(json.loads(v.topics)),
        ]
        for v in views
    ]
    print_table(f"{len(views)} commitment(s)", columns, rows)


def show(
    commitment_id: Annotated[str, typer.Argument(help="For example EPCC23-SEMI-03.")],
    as_json: JsonOpt = False,
) -> None:
    """Source words, provenance, parties, evidence and the dated timeline of one commitment."""
    from rich.table import Table

    from monitor.core import show_record

    with open_monitor() as monitor:
        state, timeline = monitor.show(commitment_id)
        zone = monitor.settings.timezone
    reg = state.registration
    assert reg is not None
    latest = state.latest_assessment()
    if as_json:
        print_json(show_record(state, timeline))
        return
    out.print(f"[bold]{reg.commitment_id}[/bold]  {escape(reg.title)}")
    since = f" since {local_date(latest.effective_at, zone)}" if latest else ""
    out.print(
        f"status: [bold]{state.status().value}[/bold]{since}"
        + ("  [retired]" if state.retired else "")
    )
    out.print(f"source words ({reg.provenance}): “{escape(reg.source_words)}”")
    out.print(f"from: {escape(reg.source_document)}; {escape(reg.locator)}")
    for url in reg.source_urls:
        out.print(f"  {url}")
    out.print(f"parties: {', '.join(reg.parties)}   topics: {', '.join(reg.topics)}")
    deadline = f"   deadline: {reg.deadline} ({reg.deadline_text})" if reg.deadline else ""
    out.print(f"made on: {reg.made_on}{deadline}")
    if state.assessments:
        out.print("assessments (`status correct ID`, `status withdraw ID`):")
        ids = short_ids(state.assessments)
        for a in sorted(state.assessments.values(), key=lambda a: (a.effective_at, a.position)):
            mark = " (corrected)" if a.corrected else ""
            out.print(
                f"  {ids[str(a.assessment_id)]}  {a.status.value}  effective "
                f"{local_date(a.effective_at, zone)}  by {escape(a.assessor)}{mark}"
            )
    if state.evidence:
        out.print("evidence (`evidence retract ID`):")
        ids = short_ids(state.evidence)
        for e in state.evidence.values():
            mark = " (retracted)" if e.retracted else ""
            out.print(f"  {ids[str(e.evidence_id)]}  {escape(e.title or e.url)}{mark}")
    table = Table(title="timeline", title_justify="left")
    for name in ("recorded", "effective", "by", "what"):
        table.add_column(name)
    for t in timeline:
        table.add_row(
            local(timestamp(t.recorded_at), zone),
            local_date(timestamp(t.effective_at), zone),
            escape(t.actor or ""),
            escape(t.summary),
        )
    out.print(table)


def history(
    commitment_id: Annotated[str, typer.Argument(help="For example EPCC23-SEMI-03.")],
    as_of: Annotated[
        str, typer.Option("--as-of", help="YYYY-MM-DD (end of that day in your zone).")
    ],
    recorded: Annotated[
        bool,
        typer.Option(
            "--recorded",
            help="What monitor showed then (events recorded by that day) instead of the status "
            "in effect then (events that took effect by that day, as known now).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """The status of a commitment as of a date, by either clock."""
    with open_monitor() as monitor:
        zone = monitor.settings.timezone
        moment = parse_moment(as_of, zone, end_of_day=True)
        result = monitor.history(commitment_id, moment, "recorded" if recorded else "effective")
        # unique in the whole journal, since that is where `monitor undo` looks them up
        ids = monitor.short_event_ids(event.event_id for event, _ in result.events)
    if as_json:
        print_json(history_json(result))
        return
    clock = "as recorded by" if recorded else "in effect on"
    a = result.assessment
    detail = f" (effective {local_date(a.effective_at, zone)}, by {a.assessor})" if a else ""
    out.print(f"{commitment_id} {clock} {as_of}: [bold]{result.status.value}[/bold]{detail}")
    if a:
        out.print(f"rationale: {escape(a.rationale)}")
    title = "events recorded by then" if recorded else "events (later effects marked 'after')"
    rows = []
    for event, payload in result.events:
        effective = getattr(payload, "effective_at", None)
        shown = local_date(effective, zone) if effective else ""
        if effective and effective > result.as_of:
            shown += " (after)"
        rows.append(
            [
                ids[str(event.event_id)],
                str(event.position),
                local(event.recorded_at, zone),
                event.event_type,
                shown,
            ]
        )
    columns = [
        Column("event", key=True),  # what `monitor undo` takes
        Column("position", justify="right", one_line=True, wide=True),
        Column("recorded", one_line=True),
        Column("type"),
        Column("effective", one_line=True),
    ]
    print_table(title, columns, rows)


def counts(as_json: JsonOpt = False) -> None:
    """How many commitments stand at each status, overall and per topic."""
    from rich.table import Table

    with open_monitor() as monitor:
        result = monitor.counts()
    if as_json:
        print_json(result)
        return
    table = Table()
    table.add_column("group", no_wrap=True)
    table.add_column("total", justify="right")
    table.add_column("by status")
    order = [s.value for s in Status]
    for group, values in result.items():
        parts = [f"{s} {values[s]}" for s in order if values.get(s)]
        table.add_row(group, str(sum(values.values())), ", ".join(parts))
    out.print(table)


@status_app.command("set")
def status_set(
    commitment_id: Annotated[str, typer.Argument(help="For example EPCC23-SEMI-03.")],
    status: Annotated[str, typer.Argument(help=STATUS_HELP)],
    rationale: Annotated[str, typer.Option(help="Why this status (required).")] = "",
    evidence: Annotated[
        list[str] | None,
        typer.Option("--evidence", help="A URL, or the id of accepted evidence (repeatable)."),
    ] = None,
    effective: Annotated[
        str | None,
        typer.Option(
            help="When it took effect in the world: YYYY-MM-DD (default: today, and the "
            "command says so)."
        ),
    ] = None,
    note: Annotated[
        str | None,
        typer.Option(help="For 'stalled' after a passed deadline: stands in for evidence."),
    ] = None,
    by: ByOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Assess a commitment's status, with rationale, evidence and effective date."""
    with open_monitor() as monitor:
        zone = monitor.settings.timezone
        effective_at = parse_moment(effective, zone) if effective else monitor.clock.now()
        events = monitor.set_status(
            commitment_id,
            status,
            rationale=rationale,
            by=by,
            effective_at=effective_at,
            evidence=evidence or [],
            note=note,
        )
    print_recorded(events, as_json, zone)
    if not effective:  # said after it worked: an error stays one line
        err.print(
            f"effective {local_date(effective_at, zone)} (today): when it took effect in "
            "the world; give --effective YYYY-MM-DD for another day"
        )


@status_app.command("correct")
def status_correct(
    commitment_id: Annotated[str, typer.Argument(help="For example EPCC23-SEMI-03.")],
    assessment_id: Annotated[
        str, typer.Argument(help="The assessment to correct: its id as `show` lists it.")
    ],
    status: Annotated[str, typer.Argument(help=STATUS_HELP)],
    rationale: Annotated[str, typer.Option(help="The corrected rationale.")] = "",
    reason: Annotated[str, typer.Option(help="Why the earlier assessment was wrong.")] = "",
    effective: Annotated[
        str | None, typer.Option(help="Corrected effective date (default: keep the old one).")
    ] = None,
    by: ByOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Correct an earlier assessment (recorded as a new event; the original stays)."""
    with open_monitor() as monitor:
        zone = monitor.settings.timezone
        effective_at = parse_moment(effective, zone) if effective else None
        events = monitor.correct_assessment(
            commitment_id,
            assessment_id,
            status,
            rationale=rationale,
            reason=reason,
            by=by,
            effective_at=effective_at,
        )
    print_recorded(events, as_json, zone)


@note_app.command("add")
def note_add(
    commitment_id: Annotated[str, typer.Argument(help="For example EPCC23-SEMI-03.")],
    text: Annotated[str, typer.Argument(help="The note.")],
    by: ByOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Add a note to a commitment's timeline."""
    with open_monitor() as monitor:
        events = monitor.add_note(commitment_id, text, by=by)
        zone = monitor.settings.timezone
    print_recorded(events, as_json, zone)


@evidence_app.command("retract")
def evidence_retract(
    commitment_id: Annotated[str, typer.Argument(help="For example EPCC23-SEMI-03.")],
    evidence_id: Annotated[
        str, typer.Argument(help="The accepted evidence: its id as `show` lists it.")
    ],
    reason: Annotated[str, typer.Option(help="Why it no longer counts.")] = "",
    by: ByOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Withdraw accepted evidence (history keeps it, marked retracted)."""
    with open_monitor() as monitor:
        events = monitor.retract_evidence(commitment_id, evidence_id, reason=reason, by=by)
        zone = monitor.settings.timezone
        warning = monitor.unsupported(commitment_id)
    print_recorded(events, as_json, zone)
    if warning:
        err.print(f"warning: {escape(warning)}")
