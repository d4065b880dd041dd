"""The review queue: ``monitor queue`` (stories waiting), ``monitor review`` (accept,
reject, snooze) and ``monitor undo`` (a compensating event for a decision).

The root app (:mod:`monitor.cli`) registers these commands.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from monitor.cli.options import STATUS_HELP, ByOpt, JsonOpt, open_monitor
from monitor.cli.output import err, escape, out, print_json, print_recorded, timestamp
from monitor.cli.tables import Column, print_table
from monitor.dates import local_date, parse_moment
from monitor.ids import short_ids


def queue(
    commitment: Annotated[str | None, typer.Option(help="Only this commitment.")] = None,
    min_score: Annotated[float, typer.Option(help="Only proposals scoring at least this.")] = 0.0,
    source: Annotated[str | None, typer.Option(help="Only items from this source.")] = None,
    filter_: Annotated[
        str | None,
        typer.Option("--filter", help='e.g. "score<0.5 age>7" (commitment, source, score, age).'),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many stories.")] = 50,
    page: Annotated[int, typer.Option(help="Which page of --limit stories.", min=1)] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Stories waiting for review, best first: one row per story (however many outlets told
    it), with its other sources and each commitment proposed for it. Review a row with
    `monitor review STORY accept|reject|snooze [--commitment ID]`."""
    from monitor.application.stories import story_json

    with open_monitor() as monitor:
        rows = monitor.review.stories.page(
            commitment=commitment,
            min_score=min_score,
            source=source,
            expression=filter_,
            limit=limit,
            offset=(page - 1) * limit,
        )
        zone = monitor.settings.timezone
    if as_json:
        print_json([story_json(row) for row in rows])
        return
    ids = short_ids(row.story_id for row in rows)
    columns = [
        Column("story", key=True),
        Column("score", one_line=True),
        Column("commitments", one_line=True),
        Column("published", one_line=True),
        Column("title"),
        Column("matched", wide=True),  # also in `monitor match --explain`, --json
    ]
    cells = []
    for row in rows:
        others = row.outlets[1:]
        told = f"\n  also: {', '.join(others)}" if others else ""
        terms = dict.fromkeys(t for c in row.commitments for t in c.matched_terms)
        cells.append(
            [
                ids[row.story_id],
                f"{row.score:.2f}",
                "\n".join(
                    f"{c.commitment_id} {c.score:.2f}"
                    + (f" x{len(c.proposals)}" if len(c.proposals) > 1 else "")
                    for c in row.commitments
                ),
                local_date(timestamp(row.first_at), zone),
                row.title + told,
                ", ".join(terms),
            ]
        )
    print_table(f"{len(rows)} story(ies) waiting", columns, cells)


def review(
    args: Annotated[
        list[str],
        typer.Argument(
            help="STORY ACTION (a story id from `monitor queue`, or a proposal id), or only "
            "ACTION with --filter. ACTION: accept, reject, snooze.",
            metavar="[STORY] ACTION",
        ),
    ],
    by: ByOpt = "",
    commitment: Annotated[
        list[str] | None,
        typer.Option(
            "--commitment",
            help="The commitment the decision is about, when the story waits on several "
            "(repeatable).",
        ),
    ] = None,
    status: Annotated[
        str | None, typer.Option(help="accept: also set this status (" + STATUS_HELP + ").")
    ] = None,
    rationale: Annotated[str, typer.Option(help="accept with --status: why.")] = "",
    effective: Annotated[
        str | None, typer.Option(help="accept with --status: when it took effect (YYYY-MM-DD).")
    ] = None,
    reason: Annotated[
        str,
        typer.Option(help="reject: irrelevant, duplicate, unreliable, before-commitment, other."),
    ] = "",
    note: Annotated[str | None, typer.Option(help="reject: a note for the record.")] = None,
    until: Annotated[str | None, typer.Option(help="snooze: until when (YYYY-MM-DD).")] = None,
    filter_: Annotated[
        str | None,
        typer.Option(
            "--filter",
            help='Act on every waiting proposal matching e.g. "commitment=EPCC23-SEMI-03 '
            'score<0.3 age>30" (keys: commitment, source, score, age in days).',
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do it without asking (for scripts).")] = False,
) -> None:
    """Accept (optionally setting a status), reject or snooze a story or proposals; records
    who did it.

    A story is decided as one: accepting records one evidence with every member's URL and
    closes the other members' proposals as duplicates of it."""
    if filter_ is None and len(args) != 2:
        raise typer.BadParameter("give STORY ACTION (or ACTION with --filter)")
    if filter_ is not None and len(args) != 1:
        raise typer.BadParameter("with --filter give only the ACTION")
    if filter_ is not None and commitment:
        raise typer.BadParameter("with --filter, name the commitment in it: commitment=ID")
    action = args[-1]
    with open_monitor() as monitor:
        zone = monitor.settings.timezone
        options: dict[str, Any] = {
            "by": by,
            "status": status,
            "rationale": rationale,
            "effective_at": parse_moment(effective, zone) if effective else None,
            "reason": reason,
            "note": note,
            "until": parse_moment(until, zone) if until else None,
        }
        if filter_ is None:
            events = monitor.review.decide(
                args[0], action, commitments=tuple(commitment or ()), **options
            )
            print_recorded(events, False, zone)
            return
        selected = monitor.review.select_proposals(filter_)
        if not selected:
            out.print("no waiting proposal matches the filter")
            return
        for p in selected[:20]:
            out.print(f"  {p.proposal_id[:8]}  {p.score:.2f}  {p.commitment_id}  {escape(p.title)}")
        if len(selected) > 20:
            out.print(f"  ... and {len(selected) - 20} more")
        question = f"{action} these {len(selected)} proposal(s)?"
        if not yes and not (sys.stdin.isatty() and typer.confirm(question)):
            err.print("nothing done (confirm interactively, or pass --yes)")
            raise typer.Exit(2)  # not confirmed: the user must say --yes
        for p in selected:
            monitor.review.decide(p.proposal_id, action, **options)
        out.print(f"{action}: {len(selected)} proposal(s)")


def undo(
    event_id: Annotated[
        str,
        typer.Argument(
            help="The event to undo: its id or 8+ characters of it (`monitor history` lists them)."
        ),
    ],
    rationale: Annotated[str, typer.Option(help="Why it is undone (required).")] = "",
    by: ByOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Undo a review decision, an accepted evidence or an assessment: a compensating event,
    never a deletion."""
    with open_monitor() as monitor:
        events = monitor.review.undo(event_id, by=by, rationale=rationale)
        zone = monitor.settings.timezone
    print_recorded(events, as_json, zone)
