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
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from pydantic import ValidationError

from monitor.errors import CommandRejected, ConcurrencyError, KeptChanging
from monitor.retry import RETRIES, back_off
from monitor.snapshots import SNAPSHOT_AFTER, Snapshot, Snapshots, StateCodec
from monitor.store.records import RecordedEvent, StreamAppend
from monitor.store.sql import SqlEventStore

if TYPE_CHECKING:
    from monitor.domain.commitment import CommitmentState
    from monitor.domain.digest_schedule import DigestLog
    from monitor.domain.review import ProposalState
    from monitor.events import DomainEvent

S = TypeVar("S")

#: how many streams' folded states are kept
CACHE_SIZE = 256
#: locks are striped: a stream takes lock hash(stream) % STRIPES (bounded, whatever the
#: number of streams)
STRIPES = 64


@dataclass(frozen=True, slots=True, eq=False)  # one of each; compared by identity
class Aggregate(Generic[S]):
    """How a kind of stream folds: its empty state, one recorded event applied, its version.

    ``apply`` may mutate and return the state it is given.
    """

    empty: Callable[[str], S]
    apply: Callable[[S, RecordedEvent], S]
    version: Callable[[S], int]
    #: how its state is kept in a snapshot (None: its streams stay short, none is kept)
    codec: StateCodec[S] | None = None


#: a stream whose commands need no state, only their place at its end (a user's changes)
VERSION_ONLY: Aggregate[int] = Aggregate(
    empty=lambda stream: 0,
    apply=lambda version, event: event.stream_version,
    version=lambda version: version,
)


@dataclass(frozen=True, slots=True)
class SourceState:
    """What a write to a source's stream needs: its version, and whether it was removed."""

    version: int = 0
    removed: bool = False


#: how a source's stream folds (its checks are on it too, so it moves with every poll)
SOURCE: Aggregate[SourceState] = Aggregate(
    empty=lambda stream: SourceState(),
    apply=lambda state, event: SourceState(
        event.stream_version,
        event.event_type == "SourceRemoved"
        or (state.removed and event.event_type != "SourceRegistered"),
    ),
    version=lambda state: state.version,
)


# The deciders and the event types are imported when a stream is first folded or written:
# a command that only reads (`monitor list`) loads neither.


def _digest_log(stream: str) -> DigestLog:
    from monitor.domain.digest_schedule import DigestLog

    return DigestLog(stream.removeprefix("digest-"))


def _digest_apply(log: DigestLog, event: RecordedEvent) -> DigestLog:
    from monitor.domain.commitment import context_of
    from monitor.domain.digest_schedule import apply_to_log
    from monitor.events import REGISTRY

    return apply_to_log(log, REGISTRY.decode(event), context_of(event))


#: how a recipient's digest stream folds: its claims and what became of each
DIGEST: Aggregate[DigestLog] = Aggregate(
    empty=_digest_log, apply=_digest_apply, version=lambda log: log.version
)


#: how a commitment's stream folds
def _commitment_type() -> type[CommitmentState]:
    from monitor.domain.commitment import CommitmentState

    return CommitmentState


def _commitment(stream: str) -> CommitmentState:
    return _commitment_type()(stream.removeprefix("commitment-"))


def _commitment_apply(state: CommitmentState, event: RecordedEvent) -> CommitmentState:
    from monitor.domain.commitment import apply, context_of
    from monitor.events import REGISTRY

    return apply(state, REGISTRY.decode(event), context_of(event))


COMMITMENT: Aggregate[CommitmentState] = Aggregate(
    empty=_commitment,
    apply=_commitment_apply,
    version=lambda state: state.version,
    codec=StateCodec("commitment/1", _commitment_type),
)


def _proposal(stream: str) -> ProposalState:
    from monitor.domain.review import ProposalState

    return ProposalState()


def _proposal_apply(state: ProposalState, event: RecordedEvent) -> ProposalState:
    from monitor.domain.commitment import context_of
    from monitor.domain.review import apply_proposal
    from monitor.events import REGISTRY

    return apply_proposal(state, REGISTRY.decode(event), context_of(event))


#: how a proposal's stream folds
PROPOSAL: Aggregate[ProposalState] = Aggregate(
    empty=_proposal, apply=_proposal_apply, version=lambda state: state.version
)


#: the kinds of stream kept in snapshots, by the prefix of their stream names
SNAPSHOTTED: dict[str, Aggregate[Any]] = {"commitment": COMMITMENT}


class Loaded:
    """The streams one decision read, each at the version it was read at.

    A decision asks for each stream's state through :meth:`state` and says what to append
    through :meth:`append`, which expects the version that was read: the decision cannot
    append at a version it did not see.
    """

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        #: stream -> (how it folds, its state as read)
        self.states: dict[str, tuple[Aggregate[Any], Any]] = {}

    def state(self, stream: str, aggregate: Aggregate[S]) -> S:
        """The stream's state at its head (read once per attempt)."""
        known = self.states.get(stream)
        if known is None:
            state = self._writer.state(stream, aggregate)
            self.states[stream] = (aggregate, state)
            return state
        return cast("S", known[1])

    def append(
        self, stream: str, events: list[DomainEvent], metadata: dict[str, Any]
    ) -> StreamAppend:
        """``events`` to append to ``stream``, at the version its state was read at."""
        from monitor.events import to_new_event

        aggregate, state = self.states[stream]
        return StreamAppend(
            stream, tuple(to_new_event(e, metadata) for e in events), aggregate.version(state)
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
        snapshots: Snapshots | None = None,
    ) -> None:
        self.store = store
        #: folded states of long streams on disk (None: every cold fold starts at event 1)
        self.snapshots = snapshots
        self.after = after
        self.retries = retries
        self._cache_size = cache_size
        #: (stream, how it folds) -> its state; keyed by both so that a stream read as two
        #: kinds (a digest's claims, a digest's version) never gets the other's state
        self._states: OrderedDict[tuple[str, Aggregate[Any]], Any] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._locks = [threading.Lock() for _ in range(STRIPES)]
        #: decisions made again after another process wrote first (for tests and benches)
        self.conflicts = 0
        #: called with the appends just before they are made: where a test lets another
        #: writer get in first, to show every command meets a real conflict the same way
        self.before_append: Callable[[list[StreamAppend]], object] | None = None

    def state(self, stream: str, aggregate: Aggregate[S]) -> S:
        """The stream's state at its head (for a caller that holds the stream's lock): from
        the cache, else from a snapshot the journal confirms, else from the first event."""
        with self._cache_lock:
            cached = self._states.pop((stream, aggregate), None)
        if cached is not None:
            state = cast("S", cached)
            events = self.store.read_stream(stream, aggregate.version(state) + 1)
        else:
            state, events = self._cold(stream, aggregate)
        for event in events:
            state = aggregate.apply(state, event)
        codec = aggregate.codec
        if codec is not None and self.snapshots is not None and len(events) >= SNAPSHOT_AFTER:
            snapshot = Snapshot(stream, aggregate.version(state), events[-1].hash, state)
            self.snapshots.save(snapshot, codec)
        return state

    def _cold(self, stream: str, aggregate: Aggregate[S]) -> tuple[S, list[RecordedEvent]]:
        """A state to start from and the events still to fold onto it."""
        codec = aggregate.codec
        if codec is not None and self.snapshots is not None:
            snapshot = self.snapshots.load(stream, codec)
            if snapshot is not None:
                # the event it was taken at, and all after: one read
                events = self.store.read_stream(stream, snapshot.version)
                if events and events[0].hash == snapshot.event_hash:
                    return snapshot.state, events[1:]
                self.snapshots.drop(stream)  # taken of another journal: useless
        return aggregate.empty(stream), self.store.read_stream(stream)

    def check_snapshots(self) -> tuple[int, list[str]]:
        """Fold each snapshotted stream from its first event and compare with its snapshot:
        (how many were checked, the streams whose snapshot was wrong and was dropped)."""
        if self.snapshots is None:
            return 0, []
        checked, wrong = 0, []
        for stream in self.snapshots.streams():
            aggregate = SNAPSHOTTED.get(stream.partition("-")[0])
            codec = aggregate.codec if aggregate is not None else None
            snapshot = self.snapshots.load(stream, codec) if codec is not None else None
            if aggregate is None or snapshot is None:
                continue
            checked += 1
            state = aggregate.empty(stream)
            events = self.store.read_stream(stream)[: snapshot.version]
            for event in events:
                state = aggregate.apply(state, event)
            confirmed = bool(events) and events[-1].hash == snapshot.event_hash
            if not confirmed or state != snapshot.state:
                wrong.append(stream)
                self.snapshots.drop(stream)
        return checked, wrong

    def _keep(self, stream: str, aggregate: Aggregate[Any], state: Any) -> None:
        with self._cache_lock:
            self._states[stream, aggregate] = state
            self._states.move_to_end((stream, aggregate))
            while len(self._states) > self._cache_size:
                self._states.popitem(last=False)

    def _keep_loaded(self, loaded: Loaded) -> None:
        for stream, (aggregate, state) in loaded.states.items():
            self._keep(stream, aggregate, state)

    def forget(self) -> None:
        """Drop every cached state and snapshot (after the journal was replaced by an
        import, or to rebuild)."""
        with self._cache_lock:
            self._states.clear()
        if self.snapshots is not None:
            self.snapshots.clear()

    def run(
        self, decide: Callable[[Loaded], list[StreamAppend]], *, what: str
    ) -> list[RecordedEvent]:
        """The write path itself: ``decide`` reads the streams it needs through the
        :class:`Loaded` it is given and returns what to append (in one transaction, each
        stream at the version read, or nothing); on a conflict it is asked again, on what
        is there now. The recorded events, or none when the decision was that nothing is
        left to do.

        For a decision whose streams are known only once it reads (a story's proposals, an
        undo); :meth:`execute` and :meth:`execute_many` also serialise the writers of this
        process on their streams first.
        """
        for attempt in range(self.retries):
            loaded = Loaded(self)
            try:
                appends = [a for a in decide(loaded) if a.events]
            except ValidationError as exc:
                from monitor.events import describe_validation

                self._keep_loaded(loaded)
                raise CommandRejected(f"refused: {describe_validation(exc)}") from exc
            except BaseException:
                self._keep_loaded(loaded)
                raise
            if not appends:
                self._keep_loaded(loaded)
                return []
            try:
                if self.before_append is not None:
                    self.before_append(appends)
                results = self.store.append_batch(appends)
            except ConcurrencyError:
                self.conflicts += 1
                self._keep_loaded(loaded)  # valid at their versions: caught up next time
                if attempt + 1 < self.retries:
                    back_off(attempt)
                continue
            recorded = self.store.read_positions(p for r in results for p in r.positions)
            for event in recorded:
                known = loaded.states.get(event.stream_id)
                if known is not None:
                    loaded.states[event.stream_id] = (known[0], known[0].apply(known[1], event))
            self._keep_loaded(loaded)
            if self.after is not None:
                self.after()
            return recorded
        raise KeptChanging(f"{what} kept changing while you edited it; try again")

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

        def decide_loaded(loaded: Loaded) -> list[StreamAppend]:
            states = [loaded.state(stream, aggregate) for stream, aggregate in streams]
            decided = decide(states)
            return [
                loaded.append(stream, events, metadata)
                for (stream, _), events in zip(streams, decided, strict=True)
                if events
            ]

        stripes = sorted({hash(stream) % STRIPES for stream, _ in streams})
        with ExitStack() as held:
            for stripe in stripes:  # always in the same order: no deadlock
                held.enter_context(self._locks[stripe])
            return self.run(decide_loaded, what=what)

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
