"""The queries on the items' read model (item_view, item_key_view, and the proposals made
about items): the sources and matching capabilities and the poller ask these typed
functions, never write SQL themselves.

The functions taking a ``Connection`` read in the caller's transaction, so that several of
them see one snapshot (:meth:`SqlEventStore.read_transaction`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, bindparam, text
from sqlmodel import Session, col, select

from monitor.domain.check_plan import KnownItem, KnownKey, Lookup
from monitor.projections.items import ItemView

#: how many values one ``IN (...)`` binds at most
CHUNK = 500


def item_ids_starting(engine: Engine, prefix: str, limit: int = 2) -> list[str]:
    """The ids of items whose id starts with ``prefix`` (taken literally), at most
    ``limit`` of them."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(ItemView.item_id)
                .where(col(ItemView.item_id).startswith(prefix, autoescape=True))
                .limit(limit)
            ).all()
        )


def item_ids_after(conn: Connection, after: str, limit: int) -> list[str]:
    """One page of item ids in id order, the first ``limit`` greater than ``after``:
    a walk over every item with bounded memory (keyset pagination)."""
    return [
        row[0]
        for row in conn.execute(
            text("SELECT item_id FROM item_view WHERE item_id > :after ORDER BY item_id LIMIT :n"),
            {"after": after, "n": limit},
        )
    ]


def lookup(conn: Connection, keys: set[tuple[str, str]], urls: set[str]) -> Lookup:
    """What is known of these items: by (source, key), by canonical URL, and the ids of the
    proposals already made about them. Read in batches of :data:`CHUNK` values."""
    found = Lookup()
    if not keys:
        return found  # a round of 304s and failures: nothing to look up
    names = sorted({source for source, _key in keys})
    rows: list[Any] = []
    for chunk in _chunks(sorted({key for _source, key in keys}), CHUNK):
        rows += conn.execute(
            text(
                "SELECT k.source, k.key, k.content_hash, i.item_id, i.source, "
                "i.content_hash, i.version "
                "FROM item_key_view k JOIN item_view i ON i.item_id = k.item_id "
                "WHERE k.key IN :keys AND k.source IN :names"
            ).bindparams(bindparam("keys", expanding=True), bindparam("names", expanding=True)),
            {"keys": chunk, "names": names},
        ).all()
    items: dict[str, KnownItem] = {}
    for source, key, key_hash, item_id, origin, digest, version in rows:
        if (source, key) in keys:
            known = items.setdefault(item_id, KnownItem(UUID(item_id), origin, digest, version))
            found.keys[(source, key)] = KnownKey(known, key_hash)
    for chunk in _chunks(sorted(urls), CHUNK):
        for url, item_id, origin, digest, version in conn.execute(
            text(
                "SELECT canonical_url, item_id, source, content_hash, version "
                "FROM item_view WHERE canonical_url IN :urls"
            ).bindparams(bindparam("urls", expanding=True)),
            {"urls": chunk},
        ):
            found.by_url[url] = items.setdefault(
                item_id, KnownItem(UUID(item_id), origin, digest, version)
            )
    for chunk in _chunks(sorted(items), CHUNK):
        for (proposal_id,) in conn.execute(
            text("SELECT proposal_id FROM proposal_view WHERE item_id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": chunk},
        ):
            found.proposed.add(UUID(proposal_id))
    return found


def _chunks(values: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
