"""The dashboard's figures, read from the read models in one snapshot.

Everything here reads projection tables (never folds a stream), so the cost of a dashboard
does not grow with the journal: counts are two GROUP BYs over the commitments, the table is
one page of them, "last reviewed" is one index lookup per commitment on that page, and the
statuses over time are one sweep over the assessments in force.

The capabilities ask :func:`dashboard`, :func:`counts`, :func:`status_over_time` and
:func:`waiting`; the functions taking a ``Session`` are their parts, read in the caller's
snapshot.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from datetime import time as clock_time
from typing import Any

from sqlalchemy import Engine, Row, func, text
from sqlmodel import Session, col, select

from monitor.projections.commitments import CommitmentTopicView, CommitmentView
from monitor.status import Status
from monitor.timestamps import format_timestamp

#: one point of the chart: a month's last day and the commitments by status on it
ChartPoint = tuple[date, dict[str, int]]
#: the counts and the chart, with what they were computed from (the commitments'
#: fingerprint and the day): the dashboard reuses them while that holds
Figures = tuple[tuple[tuple[int, int], date], dict[str, dict[str, int]], list[ChartPoint]]


@dataclass(frozen=True, slots=True)
class Overview:
    """What the dashboard shows: totals for all commitments, rows for one page of them."""

    total: int
    counts: dict[str, dict[str, int]]
    chart: list[ChartPoint]
    rows: list[Row[Any]]
    reviewed: dict[str, str]
    waiting: int
    page: int
    more: bool


def count_by_status(session: Session) -> dict[str, dict[str, int]]:
    """Active commitments by status, and by topic and status (``topic:NAME`` keys)."""
    active = CommitmentView.retired == False  # noqa: E712
    by_status = session.exec(
        select(CommitmentView.status, func.count()).where(active).group_by(CommitmentView.status)
    ).all()
    by_topic = session.exec(
        select(CommitmentTopicView.topic, CommitmentView.status, func.count())
        .join(
            CommitmentView,
            col(CommitmentView.commitment_id) == col(CommitmentTopicView.commitment_id),
        )
        .where(active)
        .group_by(CommitmentTopicView.topic, CommitmentView.status)
    ).all()
    result: dict[str, dict[str, int]] = {"status": dict(by_status)}
    for topic, status, n in by_topic:
        result.setdefault(f"topic:{topic}", {})[status] = n
    return result


def commitments_fingerprint(session: Session) -> tuple[int, int]:
    """(commitments, sum of their stream versions): changes whenever any commitment does."""
    row = (
        session.connection()
        .execute(text("SELECT COUNT(*), COALESCE(SUM(version), 0) FROM commitment_view"))
        .one()
    )
    return int(row[0]), int(row[1])


def chart_inputs(session: Session) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(commitment, made_on) of active commitments; assessments in force, in effect order."""
    made = session.exec(
        select(CommitmentView.commitment_id, CommitmentView.made_on).where(
            CommitmentView.retired == False  # noqa: E712
        )
    ).all()
    assessed = session.connection().execute(
        text(
            "SELECT commitment_id, effective_at, status FROM assessment_view "
            "ORDER BY effective_at, position"
        )
    )
    return [(c, m) for c, m in made], [(c, e, s) for c, e, s in assessed]


#: the most months the status chart shows: from the first commitment's month (the
#: statement's) to today, up to ten years
CHART_MONTHS = 120


def month_ends(first: date, today: date, months: int) -> list[date]:
    """The last day of each month from ``first``'s month to today (today for this month)."""
    ends: list[date] = []
    year, month = today.year, today.month
    while len(ends) < months:
        first_of_next = date(year + month // 12, month % 12 + 1, 1)
        ends.append(min(first_of_next - timedelta(days=1), today))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        if date(year, month, 1) < date(first.year, first.month, 1):
            break
    return list(reversed(ends))


def statuses_over_time(
    made: list[tuple[str, str]],
    assessed: list[tuple[str, str, str]],
    today: date,
    zone: tzinfo,
    months: int = CHART_MONTHS,
) -> list[ChartPoint]:
    """Commitments by status at each month's end (by effective time), oldest first.

    ``made`` is (commitment, made_on) of the commitments to count; ``assessed`` is every
    assessment in force as (commitment, effective_at UTC text, status), in effect order.
    One sweep: commitments join on the day they were made, an assessment moves its
    commitment from its old status to the new one from the moment it took effect.
    """
    if not made:
        return []
    joins = sorted((date.fromisoformat(m), c) for c, m in made)
    counted = {c for _, c in joins}
    unassessed = Status.NOT_YET_ASSESSED.value
    status: dict[str, str] = {}
    counts: Counter[str] = Counter()
    joined: set[str] = set()
    i = j = 0
    points: list[ChartPoint] = []
    for day in month_ends(joins[0][0], today, months):
        cutoff = format_timestamp(
            datetime.combine(day + timedelta(days=1), clock_time(0), tzinfo=zone)
        )
        while i < len(joins) and joins[i][0] <= day:
            commitment = joins[i][1]
            joined.add(commitment)
            counts[status.get(commitment, unassessed)] += 1
            i += 1
        while j < len(assessed) and assessed[j][1] < cutoff:
            commitment, _at, new = assessed[j]
            j += 1
            if commitment not in counted:
                continue
            if commitment in joined:
                counts[status.get(commitment, unassessed)] -= 1
                counts[new] += 1
            status[commitment] = new
        points.append((day, {s: n for s, n in counts.items() if n}))
    return points


def page_of_commitments(session: Session, page: int, per_page: int) -> tuple[list[Row[Any]], bool]:
    """Active commitments by id, one page; and whether another page follows.

    Plain rows (the columns of commitment_view, by name), not ORM objects: the page only
    reads them, and building and validating a model per row was a third of its cost.
    """
    table = CommitmentView.__table__  # type: ignore[attr-defined]
    rows = list(
        session.connection().execute(
            table.select()
            .where(table.c.retired == False)  # noqa: E712
            .order_by(table.c.commitment_id)
            .offset((page - 1) * per_page)
            .limit(per_page + 1)
        )
    )
    return rows[:per_page], len(rows) > per_page


def last_reviewed(session: Session, commitment_ids: list[str]) -> dict[str, str]:
    """Per commitment, when a proposal about it was last reviewed (UTC text)."""
    if not commitment_ids:
        return {}
    marks = ", ".join(f":c{n}" for n in range(len(commitment_ids)))
    params: dict[str, Any] = {f"c{n}": cid for n, cid in enumerate(commitment_ids)}
    rows = session.connection().execute(
        text(
            "SELECT commitment_id, MAX(reviewed_at) FROM proposal_view "
            f"WHERE commitment_id IN ({marks}) AND reviewed_at IS NOT NULL "
            "GROUP BY commitment_id"
        ),
        params,
    )
    return {str(c): str(at) for c, at in rows}


def waiting_count(session: Session, now: datetime) -> int:
    """Proposals waiting for review: pending, or snoozed until a moment now past."""
    count = (
        session.connection()
        .execute(
            text(
                "SELECT COALESCE((SELECT n FROM proposal_count_view WHERE state = 'pending'), 0)"
                " + (SELECT COUNT(*) FROM proposal_view"
                " WHERE state = 'snoozed' AND snoozed_until <= :now)"
            ),
            {"now": format_timestamp(now)},
        )
        .scalar_one()
    )
    return int(count)


def counts(engine: Engine) -> dict[str, dict[str, int]]:
    """Active commitments by status, and by topic and status (``topic:NAME`` keys)."""
    with Session(engine) as session:
        return count_by_status(session)


def status_over_time(
    engine: Engine, today: date, zone: tzinfo, months: int = CHART_MONTHS
) -> list[ChartPoint]:
    """Active commitments by status at each month's end (effective time), oldest first."""
    with Session(engine) as session:
        made, assessed = chart_inputs(session)
    return statuses_over_time(made, assessed, today, zone, months)


def waiting(engine: Engine, now: datetime) -> int:
    """Proposals waiting for review: pending, or snoozed until a moment now past."""
    with Session(engine) as session:
        return waiting_count(session, now)


def dashboard(
    engine: Engine,
    *,
    page: int,
    per_page: int,
    now: datetime,
    zone: tzinfo,
    cached: Figures | None = None,
) -> tuple[Overview, Figures]:
    """The dashboard: totals and the chart for all commitments, one page of rows, all read
    in one snapshot; and the counts and chart with their key, to pass back as ``cached``.

    Counts and chart change only when a commitment's stream does (or the day does): every
    such event raises that commitment's version, so the sum of versions names the state
    they were computed from, and ``cached`` is used while it names the same one.
    """
    today = now.astimezone(zone).date()
    with Session(engine) as session:
        key = (commitments_fingerprint(session), today)
        if cached is not None and cached[0] == key:
            figures = cached
        else:
            counted = count_by_status(session)
            made, assessed = chart_inputs(session)
            figures = (key, counted, statuses_over_time(made, assessed, today, zone))
        rows, more = page_of_commitments(session, page, per_page)
        reviewed = last_reviewed(session, [r.commitment_id for r in rows])
        waiting = waiting_count(session, now)
    overview = Overview(
        total=sum(figures[1]["status"].values()),
        counts=figures[1],
        chart=figures[2],
        rows=rows,
        reviewed=reviewed,
        waiting=waiting,
        page=page,
        more=more,
    )
    return overview, figures
