"""The queries on the commitments' read model (commitment_view, commitment_topic_view,
timeline_view): the application asks these typed functions, never writes SQL itself."""

from __future__ import annotations

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from monitor.projections.commitments import CommitmentTopicView, CommitmentView, TimelineView


def commitment_ids(engine: Engine) -> list[str]:
    """Every commitment ever registered, retired ones too."""
    with Session(engine) as session:
        return list(session.exec(select(CommitmentView.commitment_id)).all())


def active_with_deadline(engine: Engine) -> list[str]:
    """The commitments not retired that have a deadline."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(CommitmentView.commitment_id).where(
                    col(CommitmentView.deadline).is_not(None),
                    CommitmentView.retired == False,  # noqa: E712
                )
            ).all()
        )


def topics(engine: Engine) -> list[str]:
    """Every topic of a commitment in the catalogue, as written."""
    with Session(engine) as session:
        return sorted(set(session.exec(select(CommitmentTopicView.topic)).all()))


def commitments(
    engine: Engine,
    *,
    status: str | None = None,
    topic: str | None = None,
    include_retired: bool = False,
) -> list[CommitmentView]:
    """The commitments in id order, by status and by topic (any case), retired ones on
    request."""
    query = select(CommitmentView).order_by(col(CommitmentView.commitment_id))
    if status:
        query = query.where(CommitmentView.status == status)
    if topic:
        query = query.where(
            col(CommitmentView.commitment_id).in_(
                select(CommitmentTopicView.commitment_id).where(
                    func.lower(CommitmentTopicView.topic) == topic.lower()
                )
            )
        )
    if not include_retired:
        query = query.where(CommitmentView.retired == False)  # noqa: E712
    with Session(engine) as session:
        return list(session.exec(query).all())


def timeline(engine: Engine, commitment_id: str) -> list[TimelineView]:
    """One commitment's recorded events in order, as one-line summaries."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(TimelineView)
                .where(TimelineView.commitment_id == commitment_id)
                .order_by(col(TimelineView.position))
            ).all()
        )
