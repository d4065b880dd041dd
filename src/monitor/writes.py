"""The one write path: load a stream's state, decide, append at the version read, retry.

Every command that changes one stream does the same five things, and :meth:`Writer.execute`
is where they are done:

1. take the stream's lock in this process, so writers here queue instead of racing (an
   optimistic retry is then needed only against another process or host);
2. bring the stream's folded state up to date: a state cached at version ``v`` reads only
   the events after ``v`` (a write to a 10,000-event stream does not fold 10,000 events);
3. decide (a pure function of the state; a validation error is the user's mistake);
4. append at the version that was read; the store refuses if someone else wrote first;
5. on that refusal, back off and go to 2 (the decision is made again on what is there
   now, and may now be "nothing to do"); after :data:`RETRIES` refusals, give up with one
   message. On success, ``after`` runs (the read models catch up).

The cache holds the states of the most recently written streams, each with its version;
it is only a shortcut: a state is always brought up to the stream's head from the journal
before a decision, so it can never decide on stale data.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from pydantic import ValidationError

from monitor.domain import commitment as commitment_rules
from monitor.domain.commitment import CommitmentState, context_of
from monitor.domain.review import ProposalState, apply_proposal
from monitor.errors import CommandRejected, ConcurrencyError, MonitorError
from monitor.events import REGISTRY, DomainEvent, describe_validation, to_new_event
from monitor.retry import RETRIES, back_off
from monitor.store.records import RecordedEvent, StreamAppend
from monitor.store.sql import SqlEventStore

S = TypeVar("S")

#: how many streams' folded states are kept
CACHE_SIZE = 256
#: locks are striped: a stream takes lock hash(stream) % STRIPES (bounded, whatever the
#: number of streams)
STRIPES = 64


@dataclass(frozen=True, slots=True)
class Aggregate(Generic[S]):
    """How a kind of stream folds: its empty state, one recorded event applied, its version.

    ``apply`` may mutate and return the state it is given.
    """

    empty: Callable[[str], S]
    apply: Callable[[S, RecordedEvent], S]
    version: Callable[[S], int]


#: a stream whose commands need no state, only their place at its end (a user's changes)
VERSION_ONLY: Aggregate[int] = Aggregate(
    empty=lambda stream: 0,
    apply=lambda version, event: event.stream_version,
    version=lambda version: version,
)


#: how a commitment's stream folds
COMMITMENT: Aggregate[CommitmentState] = Aggregate(
    empty=lambda stream: CommitmentState(stream.removeprefix("commitment-")),
    apply=lambda state, event: commitment_rules.apply(
        state, REGISTRY.decode(event), context_of(event)
    ),
    version=lambda state: state.version,
)

#: how a proposal's stream folds
PROPOSAL: Aggregate[ProposalState] = Aggregate(
    empty=lambda stream: ProposalState(),
    apply=lambda state, event: apply_proposal(state, REGISTRY.decode(event), context_of(event)),
    version=lambda state: state.version,
)


class Writer:
    """Executes decisions on streams of one store (one per process and store)."""

    def __init__(
        self,
        store: SqlEventStore,
        *,
        after: Callable[[], object] | None = None,
        retries: int = RETRIES,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self.store = store
        self.after = after
        self.retries = retries
        self._cache_size = cache_size
        self._states: OrderedDict[str, Any] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._locks = [threading.Lock() for _ in range(STRIPES)]
        #: decisions made again after another process wrote first (for tests and benches)
        self.conflicts = 0

    def state(self, stream: str, aggregate: Aggregate[S]) -> S:
        """The stream's state at its head (for a caller that holds the stream's lock)."""
        with self._cache_lock:
            cached = self._states.pop(stream, None)
        state: S = aggregate.empty(stream) if cached is None else cast("S", cached)
        for event in self.store.read_stream(stream, aggregate.version(state) + 1):
            state = aggregate.apply(state, event)
        return state

    def _keep(self, stream: str, state: Any) -> None:
        with self._cache_lock:
            self._states[stream] = state
            self._states.move_to_end(stream)
            while len(self._states) > self._cache_size:
                self._states.popitem(last=False)

    def forget(self) -> None:
        """Drop every cached state (after the journal was replaced by an import)."""
        with self._cache_lock:
            self._states.clear()

    def execute_many(
        self,
        streams: list[tuple[str, Aggregate[Any]]],
        decide: Callable[[list[Any]], list[list[DomainEvent]]],
        metadata: dict[str, Any],
        *,
        what: str,
    ) -> list[RecordedEvent]:
        """:meth:`execute` for a decision on several streams at once (a review writes to the
        proposal and to its commitment): ``decide`` gets their states in order and gives
        each stream's new events; all are appended in one transaction, each at the version
        read, or none is."""
        stripes = sorted({hash(stream) % STRIPES for stream, _ in streams})
        with ExitStack() as held:
            for stripe in stripes:  # always in the same order: no deadlock
                held.enter_context(self._locks[stripe])
            states = [self.state(stream, aggregate) for stream, aggregate in streams]
            for attempt in range(self.retries):
                try:
                    decided = decide(states)
                except ValidationError as exc:
                    self._keep_all(streams, states)
                    raise CommandRejected(f"refused: {describe_validation(exc)}") from exc
                except BaseException:
                    self._keep_all(streams, states)
                    raise
                appends = [
                    StreamAppend(
                        stream,
                        tuple(to_new_event(e, metadata) for e in events),
                        aggregate.version(state),
                    )
                    for (stream, aggregate), state, events in zip(
                        streams, states, decided, strict=True
                    )
                    if events
                ]
                if not appends:
                    self._keep_all(streams, states)
                    return []
                try:
                    results = self.store.append_batch(appends)
                except ConcurrencyError:
                    self.conflicts += 1
                    if attempt + 1 == self.retries:
                        break
                    back_off(attempt)
                    states = [self.state(stream, aggregate) for stream, aggregate in streams]
                    continue
                recorded = self.store.read_positions(p for r in results for p in r.positions)
                index = {stream: i for i, (stream, _) in enumerate(streams)}
                for event in recorded:
                    i = index[event.stream_id]
                    states[i] = streams[i][1].apply(states[i], event)
                self._keep_all(streams, states)
                if self.after is not None:
                    self.after()
                return recorded
        raise MonitorError(f"{what} kept changing while you edited it; try again")

    def _keep_all(self, streams: list[tuple[str, Aggregate[Any]]], states: list[Any]) -> None:
        for (stream, _), state in zip(streams, states, strict=True):
            self._keep(stream, state)

    def execute(
        self,
        stream: str,
        aggregate: Aggregate[S],
        decide: Callable[[S], list[DomainEvent]],
        metadata: dict[str, Any],
        *,
        what: str | None = None,
    ) -> list[RecordedEvent]:
        """Decide on the stream's current state and append what was decided; the recorded
        events (none when the decision was that nothing is left to do).

        ``what`` names the stream for a person in the give-up message ("EPCC23-SC-01").
        """
        return self.execute_many(
            [(stream, aggregate)],
            lambda states: [decide(states[0])],
            metadata,
            what=what or stream,
        )
