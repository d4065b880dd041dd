"""What a capability is given to work with: settings, clock, database, journal, the one
write path and the schema check. Nothing else, and never the composition root
(:class:`~monitor.core.Monitor` builds one and hands it out)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from monitor.clock import Clock
    from monitor.settings import Settings
    from monitor.store.sql import SqlEventStore
    from monitor.writes import Writer


class Context(Protocol):
    """What a capability may use (a Monitor has these too, so tests may pass one)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def engine(self) -> Engine: ...
    @property
    def store(self) -> SqlEventStore: ...
    @property
    def writer(self) -> Writer: ...
    def require_schema(self) -> None: ...


@dataclass(frozen=True, slots=True)
class AppContext:
    """The context the composition root hands to each capability."""

    settings: Settings
    clock: Clock
    engine: Engine
    store: SqlEventStore
    writer: Writer
    check_schema: Callable[[], None]

    def require_schema(self) -> None:
        """Refuse to work on a database that is missing or behind this code's schema."""
        self.check_schema()
