"""Sources and polling: the sources file, sources added by hand or from OPML, their health,
which are due, and one round of checks (``monitor sources``, ``monitor poll``, the scheduler).

A capability of the application layer: given a context, the items read model and the
matching capability (a poll proposes what the current rules match).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from monitor import files
from monitor.errors import CommandRejected, MonitorError, NotFound
from monitor.events import DomainEvent, SourceRegistered, describe_validation, source_stream
from monitor.projections import source_queries
from monitor.projections.items import SourceView
from monitor.sources import config as source_config
from monitor.sources.limits import FetchLimits
from monitor.sources.poller import Poller, PollReport, Recorded
from monitor.store.records import StreamAppend
from monitor.timestamps import format_timestamp
from monitor.writes import SOURCE, Loaded

if TYPE_CHECKING:
    from monitor.application.context import Context
    from monitor.application.matching import Matching
    from monitor.projections.items import IntakeProjection


@dataclass(frozen=True, slots=True)
class OpmlImport:
    """What `sources import` did with an OPML file's feeds."""

    added: list[str]
    #: feeds whose name or URL a source has already
    known: list[str]
    #: outlines that cannot be a source, each with why
    refused: list[str]


class Sources:
    """The sources and their checks."""

    def __init__(self, context: Context, items: IntakeProjection, matching: Matching) -> None:
        self.context = context
        self.store = context.store
        self.items = items
        self.matching = matching

    def sync(self, path: Path | None = None) -> dict[str, list[str]]:
        """Bring the sources file into the store (CLI and OPML sources are left alone)."""
        source = path or self.context.settings.sources
        if not source.is_file():
            return {}
        body = files.read_text(source, "the sources file")
        rules = self.matching.registered_rules()
        wanted = source_config.parse_sources(
            body,
            source.name,
            rules.get,
            allow_private=self.context.settings.allow_private_addresses,
        )
        self.items.catch_up()
        known = {
            v.name: source_config.KnownSource(_spec(v), v.removed, v.version)
            for v in self.all(include_removed=True)
        }
        planned: dict[str, list[DomainEvent]] = {}

        def decide(loaded: Loaded) -> list[StreamAppend]:
            # the versions come from the journal, read now; the read model only says
            # what is known
            for name in sorted({*known, *(s.name for s in wanted)}):
                state = loaded.state(source_stream(name), SOURCE)
                if name in known:
                    known[name] = replace(known[name], version=state.version, removed=state.removed)
            planned.clear()
            planned.update(source_config.plan_source_sync(wanted, known))
            meta = {"actor": "sources-sync"}
            return [loaded.append(source_stream(n), e, meta) for n, e in planned.items()]

        self.context.writer.run(decide, what="the sources")
        plan = planned
        summary: dict[str, list[str]] = {}
        for name, events in sorted(plan.items()):
            summary.setdefault(events[0].event_type, []).append(name)
        return summary

    def add(
        self, url: str, name: str, *, interval: str = "1h", kind: str = "feed", by: str = "cli"
    ) -> SourceView:
        """Register a source by hand (it lives in the database, not in sources.toml)."""
        self.context.require_schema()
        try:
            try:
                seconds = source_config.parse_interval(interval)
            except ValueError as exc:
                raise ValueError(f"interval: {exc}") from exc
            spec = SourceRegistered(
                name=name,
                url=url,
                kind=kind,
                interval_seconds=seconds,
                origin="cli",
            )
        except (ValueError, ValidationError) as exc:
            raise CommandRejected(f"source refused: {_first_error(exc)}") from exc
        if not source_config.NAME_PATTERN.match(name):
            raise CommandRejected("source refused: name: use lowercase letters, digits, hyphens")
        if not source_config.usable_url(url):
            raise CommandRejected("source refused: url: must be an http(s) URL with a valid host")
        private = source_config.private_target(url, self.context.settings.allow_private_addresses)
        if private:
            raise CommandRejected(f"source refused: url: {private}")
        self._register([spec], by)
        return self.get(name)

    def import_opml(self, path: Path, *, by: str = "cli") -> OpmlImport:
        """Register every feed of an OPML file whose name and URL are not taken: what was
        added, what was known already, and what could not be a source."""
        self.context.require_schema()
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise MonitorError(f"cannot read {path}: {exc.strerror}") from exc
        refused: list[str] = []
        specs = source_config.parse_opml(
            body, refused=refused, allow_private=self.context.settings.allow_private_addresses
        )
        taken = {v.name for v in self.all(include_removed=True) if not v.removed}
        urls = {v.url for v in self.all()}
        fresh = [s for s in specs if s.name not in taken and s.url not in urls]
        self._register(fresh, by)
        known = [s.name for s in specs if s not in fresh]
        return OpmlImport([s.name for s in fresh], known, refused)

    def export_opml(self) -> bytes:
        """Every active source as OPML 2.0."""
        return source_config.render_opml([{"name": v.name, "url": v.url} for v in self.all()])

    def _register(self, specs: list[SourceRegistered], by: str) -> None:
        if not specs:
            return

        def decide(loaded: Loaded) -> list[StreamAppend]:
            appends = []
            for spec in specs:
                stream = source_stream(spec.name)
                state = loaded.state(stream, SOURCE)
                if state.version and not state.removed:  # free: never used, or removed
                    raise CommandRejected(f"a source named {spec.name!r} exists already")
                appends.append(loaded.append(stream, [spec], {"actor": by}))
            return appends

        self.context.writer.run(decide, what="the sources")
        self.items.catch_up()

    def all(self, include_removed: bool = False) -> list[SourceView]:
        """Every source with its health."""
        self.context.require_schema()
        self.items.catch_up()
        return source_queries.sources(self.context.engine, include_removed=include_removed)

    def get(self, name: str) -> SourceView:
        for view in self.all(include_removed=True):
            if view.name == name:
                return view
        raise NotFound(f"no source named {name!r}: see `monitor sources`")

    def due(self, names: list[str] | None = None, everything: bool = False) -> list[SourceView]:
        """The sources to check now: due ones, all of them, or the named ones."""
        active = self.all()
        if names:
            by_name = {v.name: v for v in active}
            missing = [n for n in names if n not in by_name]
            if missing:
                raise NotFound(
                    f"unknown source {', '.join(map(repr, missing))}: see `monitor sources`"
                )
            return [by_name[n] for n in names]
        if everything:
            return active
        now = format_timestamp(self.context.clock.now())
        return [v for v in active if v.next_check_at is None or v.next_check_at <= now]

    def poll(
        self,
        sources: list[SourceView],
        *,
        on_recorded: Recorded | None = None,
        limits: FetchLimits | None = None,
        chunk: int = 50,
        stop: threading.Event | None = None,
    ) -> PollReport:
        """One round over ``sources``: fetch, parse, record items, proposals and health.

        ``stop`` set mid-round: what is recorded stays, the rest is abandoned untouched
        (those sources are still due, so the next round checks them).
        """
        poller = Poller(
            self.store,
            self.items,
            self.context.clock,
            self.matching.matcher,
            limits=limits or self.context.settings.fetch_limits,
            allow_private_addresses=self.context.settings.allow_private_addresses,
            chunk=chunk,
        )
        return poller.run(sources, on_recorded, stop=stop)


def _spec(view: SourceView) -> SourceRegistered:
    return SourceRegistered(
        name=view.name,
        url=view.url,
        kind=view.kind,
        interval_seconds=view.interval_seconds,
        language=view.language,
        note=view.note,
        origin=view.origin,
    )


def _first_error(exc: Exception) -> str:
    return describe_validation(exc) if isinstance(exc, ValidationError) else str(exc)
