"""The journal capability: the schema (create, upgrade, check), verifying the chain,
export and import, rebuilding the read models, and the figures of the journal's state.

It is given the settings, the database, the journal and the write path, and the read
models it keeps: ``read_models`` (every one, to rebuild) and ``followed`` (those whose lag
counts for health and verification).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Engine, text

from monitor.errors import CommandRejected, MonitorError, StoreNotInitialised
from monitor.ids import unique_prefix
from monitor.projections.runner import Projection
from monitor.settings import Settings
from monitor.store import migrate
from monitor.store.heads import Head, public_key_of, published, signature_holds
from monitor.store.records import VerifyReport
from monitor.store.sql import SqlEventStore
from monitor.writes import Writer

if TYPE_CHECKING:
    from monitor.journal import Exported

Progress = Callable[[int, int], None]


class Journal:
    """The schema and the journal as a whole (reached as ``Monitor.journal``)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        store: SqlEventStore,
        writer: Writer,
        *,
        read_models: Callable[[], Sequence[Projection]],
        followed: Callable[[], Sequence[Projection]],
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.store = store
        self.writer = writer
        self.read_models = read_models
        self._followed = followed
        self._schema_checked = False

    def migrate(self) -> tuple[str | None, str]:
        """Create or upgrade the schema; returns (revision before, revision after)."""
        before = migrate.current_revision(self.engine)
        migrate.upgrade(self.engine)
        self._schema_checked = False
        return before, migrate.head_revision()

    def require_schema(self) -> None:
        """Refuse to work on a database that is missing or behind this code's schema.

        Checked once per Monitor: schemas only move forward, through `monitor init`, and a
        newer schema than this code's is refused by the migration itself.
        """
        if self._schema_checked:
            return
        current = migrate.current_revision(self.engine)
        if current is None:
            raise StoreNotInitialised("the database has no monitor schema yet: run `monitor init`")
        if current != migrate.head_revision():
            raise StoreNotInitialised(
                f"the database schema is at revision {current}, this monitor needs "
                f"{migrate.head_revision()}: run `monitor init` to upgrade"
            )
        self._schema_checked = True

    def verify(
        self,
        progress: Callable[[int], None] | None = None,
        *,
        head: Head | None = None,
        public_key: str | None = None,
    ) -> VerifyReport:
        """Check the hash chain and invariants end to end; with ``head`` (published
        elsewhere: a digest, an export, a note), that the journal still holds it; with its
        signature and ``public_key``, that the key's owner published it."""
        self.require_schema()
        from monitor.events import REGISTRY
        from monitor.journal import verify_rows

        signature_problem = self._check_signature(head, public_key)
        witnesses = [(head, "--head")] if head is not None else []
        report = verify_rows(self.store.iter_rows(), REGISTRY, progress, witnesses)
        if signature_problem:
            report.problems.insert(0, signature_problem)
        checkpoint = max(p.checkpoint() for p in self._followed())
        if checkpoint > report.last_position:
            report.problems.append(
                f"the projections have seen events up to position {checkpoint} but the journal "
                f"ends at {report.last_position}: events were removed from the end"
            )
        # snapshots are a cache, but one that disagrees with a fold of the journal is a bug
        _, wrong = self.writer.check_snapshots()
        report.problems += [
            f"the snapshot of {stream} did not match its events folded again; dropped"
            for stream in wrong
        ]
        return report

    @staticmethod
    def _check_signature(head: Head | None, public_key: str | None) -> str | None:
        """Why the head's signature does not hold, or None (also when there is none to check);
        a signature without its key, or a key without a signature, is refused."""
        if head is None or (head.signature is None and public_key is None):
            return None
        if head.signature is None or public_key is None:
            raise CommandRejected(
                "--signature and --public-key go together: give both to check a signed head"
            )
        if signature_holds(head, public_key):
            return None
        return (
            f"the signature over head {head.position}:{head.hash[:16]}… does not verify with "
            "that public key: the head or the signature was altered, or another key signed it"
        )

    def head(self, at: int | None = None) -> Head:
        """The journal's newest position and hash (or those at position ``at``) as monitor
        publishes it: signed when MONITOR_HEAD_SIGNING_KEY is set."""
        self.require_schema()
        return published(self.store.head(at), self.settings.head_signing_key)

    def signing_public_key(self) -> str | None:
        """The base64 public key that checks published heads, when heads are signed."""
        key = self.settings.head_signing_key
        return public_key_of(key) if key else None

    def export(
        self, target: Path | None = None, progress: Callable[[int], None] | None = None
    ) -> Exported:
        """Write the journal as JSON Lines, and its head (signed when heads are signed) in
        ``journal.head.json`` beside it.

        The default target is ``events/journal.jsonl`` in the project folder.
        """
        self.require_schema()
        destination = target if target is not None else self.settings.base_dir / "events"
        key = self.settings.head_signing_key
        if key:
            public_key_of(key)  # a key that is not one is refused before anything is written
        try:
            from monitor.journal import export_journal

            return export_journal(
                self.store, destination, progress, lambda head: published(head, key)
            )
        except OSError as exc:
            raise MonitorError(
                f"cannot write the journal to {destination}: {exc.strerror or exc}"
            ) from exc

    def import_journal(
        self,
        path: Path,
        progress: Callable[[int], None] | None = None,
        *,
        head: Head | None = None,
    ) -> VerifyReport:
        """Load an exported journal into an empty store, then build the projections; refused
        (nothing imported) when it does not hold ``head`` or the head exported beside it."""
        self.migrate()
        from monitor.events import REGISTRY
        from monitor.journal import import_journal

        witnesses = [(head, "--head")] if head is not None else []
        report = import_journal(self.store, path, REGISTRY, progress, witnesses)
        self.writer.forget()  # the journal is new: no cached state stands for it
        for read_model in self.read_models():
            read_model.rebuild()
        return report

    def rebuild(self, progress: Progress | None = None) -> int:
        """Drop every read model and fold every event again (the write path's cached
        states and snapshots go too: they are taken again as streams are written)."""
        self.require_schema()
        self.writer.forget()
        first, *others = self.read_models()
        count = first.rebuild(progress)
        for read_model in others:
            read_model.rebuild(progress)
        return count

    def short_event_ids(self, event_ids: Iterable[UUID | str]) -> dict[str, str]:
        """Each event id (as text) -> its shortest prefix of 8+ characters that no other
        event of the journal starts with: what `monitor undo` takes back (an id unique only
        among the events shown could name several)."""
        wanted = [str(e) for e in event_ids]
        neighbours = self.store.event_id_neighbours(wanted)
        return {e: unique_prefix(e, neighbours[e]) for e in wanted}

    def last_position(self) -> int:
        return self.store.last_position()

    def catch_up_a_little(self) -> int:
        """Fold at most one batch into each read model the pages follow, then the lag: what
        a readiness probe does, so a small lag is cleared at once and a long one (after an
        import, a new read model) shrinks with each probe, none of which waits for all."""
        for read_model in self._followed():
            read_model.catch_up(batches=1)
        return self.projection_lag()

    def projection_lag(self) -> int:
        """Events recorded but not yet in every read model (0 when all caught up)."""
        head = self.store.last_position()
        behind = [head - p.checkpoint() for p in self._followed()]
        return max(0, *behind)

    def database_summary(self) -> dict[str, Any]:
        """Counts for `monitor init` and status displays."""
        with self.engine.connect() as conn:
            events = conn.execute(text("SELECT COUNT(*) FROM events")).scalar_one()
        return {"events": int(events), "last_position": self.store.last_position()}
