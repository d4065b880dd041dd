"""The queries on the sources' read model (source_view): the sources capability and the
poller ask these typed functions, never write SQL themselves."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, bindparam, text
from sqlmodel import Session, col, select

from monitor.projections.items import SourceView


def sources(engine: Engine, *, include_removed: bool = False) -> list[SourceView]:
    """Every source with its health, by name; removed ones on request."""
    query = select(SourceView).order_by(col(SourceView.name))
    if not include_removed:
        query = query.where(SourceView.removed == False)  # noqa: E712
    with Session(engine) as session:
        return list(session.exec(query).all())


def versions(conn: Connection, names: Sequence[str]) -> dict[str, int]:
    """The stream version of each named source known to the read model, read in the
    caller's transaction (a snapshot: :meth:`SqlEventStore.read_transaction`)."""
    rows = conn.execute(
        text("SELECT name, version FROM source_view WHERE name IN :names").bindparams(
            bindparam("names", expanding=True)
        ),
        {"names": list(names)},
    ).all()
    return {name: int(version) for name, version in rows}
