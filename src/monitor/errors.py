"""Errors a user or a caller can act on.

Every error raised by monitor derives from :class:`MonitorError`; its message says what went
wrong and, where there is one, what to do next. Adapters wrap foreign errors
(``raise StoreUnavailable(...) from exc``) so callers never see a driver's exception type.
"""

from __future__ import annotations

from collections.abc import Iterable


class MonitorError(Exception):
    """Base of every error monitor raises on purpose."""


class ConfigError(MonitorError):
    """The configuration (monitor.toml, environment) is invalid."""


class CatalogueError(MonitorError):
    """The commitment catalogue file is malformed; carries every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        first = problems[0] if problems else "invalid catalogue"
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(first + more)


class CommandRejected(MonitorError):
    """A domain rule refused a command (missing rationale, evidence, bad date...)."""


class NotFound(MonitorError):
    """A commitment, event or other named thing does not exist."""


class StoreError(MonitorError):
    """Base for errors of the event store."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or opened."""


class StoreNotInitialised(StoreError):
    """The database has no schema yet, or an old one: run `monitor init`."""


class ConcurrencyError(StoreError):
    """A stream moved on since the caller read it: reload, re-decide, retry.

    Never resolved by overwriting: the caller must look at the new state.
    """

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, not {expected}: "
            "someone else changed it first; reload and try again"
        )


class KeptChanging(MonitorError):
    """A command's streams kept changing under it, every time it decided again: nothing
    was recorded. Another writer won each race; the caller may look and try again (the
    web answers 409, never 400: the request itself was fine)."""


class EventIdConflict(StoreError):
    """Some event ids of an append are stored already, but not as this exact append."""


class StoreNotEmpty(StoreError):
    """An import needs an empty store."""


class IntegrityViolation(StoreError):
    """The hash chain or an invariant of the journal is broken."""


class UnknownEventType(StoreError):
    """An event type or schema version this code does not know."""


def unknown(kind: str, given: str, known: Iterable[str]) -> NotFound:
    """The error for a name that is not one of ``known`` (a topic, a commitment, a source),
    suggesting the nearest, compared without regard to case: ``unknown topic 'chip': did you
    mean 'chips'?``. A filter that matches nothing because of a typo must not look like an
    empty result."""
    from difflib import get_close_matches

    names = sorted(set(known))
    by_fold = {name.casefold(): name for name in names}
    near = get_close_matches(given.casefold(), list(by_fold), n=1, cutoff=0.6)
    if near:
        return NotFound(f"unknown {kind} {given!r}: did you mean {by_fold[near[0]]!r}?")
    listed = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return NotFound(f"unknown {kind} {given!r} (known: {listed or 'none yet'})")
