"""Snapshots of long streams' folded states: a cache on disk, never a source.

The first write to a commitment after a start folds its whole stream; a commitment with
10,000 events takes a quarter of a second. A snapshot keeps the folded state at a version,
with the hash the journal gave the event at that version; a later fold starts from it and
reads only the events after it.

- **Verified against the journal.** The journal's hashes chain every event to all before
  it, so a snapshot whose hash is the one the journal holds at its version was folded from
  exactly this journal's events; any other (a journal imported since, a file from another
  database, a corrupt or older-format file) is dropped and the stream folded from the
  start. ``monitor verify`` also folds each snapshotted stream again and compares.
- **Rebuildable.** Snapshots live in files under the data folder (``snapshots/``), one per
  stream, each host its own; deleting them loses nothing (``monitor rebuild`` does). A
  state is stored as JSON through pydantic (the library that validates the events): no
  code runs when one is read.
- **Cheap to keep.** One is written when a fold had to read at least
  :data:`SNAPSHOT_AFTER` events, so a stream is folded from a snapshot at most that many
  events old, and short streams never get one. Written atomically (a temporary file, then a
  rename); failing to write one only logs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from monitor.files import private_folder

log = logging.getLogger(__name__)

S = TypeVar("S")

#: a fold that reads at least this many events leaves a snapshot behind
SNAPSHOT_AFTER = 200


@dataclass(frozen=True, slots=True, eq=False)
class StateCodec(Generic[S]):
    """How a kind of state is written and read: its name and format version, and its type
    (a dataclass or pydantic model that pydantic can dump and validate), given as a function
    so that the type's module is loaded only when a snapshot is first written or read."""

    kind: str
    state_type: Callable[[], type[S]]

    def _adapter(self) -> Any:
        adapter = _ADAPTERS.get(self.kind)
        if adapter is None:
            from pydantic import TypeAdapter  # built on first use: about 50 ms

            adapter = _ADAPTERS[self.kind] = TypeAdapter(self.state_type())
        return adapter

    def dump(self, state: S) -> str:
        return str(self._adapter().dump_json(state).decode("utf-8"))

    def load(self, text: str) -> S:
        return self._adapter().validate_json(text)  # type: ignore[no-any-return]


_ADAPTERS: dict[str, Any] = {}


@dataclass(frozen=True, slots=True)
class Snapshot(Generic[S]):
    """A stream's state at ``version``, when the journal's event there had ``event_hash``."""

    stream: str
    version: int
    event_hash: str
    state: S


class Snapshots:
    """The snapshots in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, stream: str) -> Path:
        return self.folder / (hashlib.sha256(stream.encode()).hexdigest()[:32] + ".json")

    def load(self, stream: str, codec: StateCodec[S]) -> Snapshot[S] | None:
        """The stream's snapshot, if there is one of this kind and format (not yet checked
        against the journal: the caller does)."""
        path = self._path(stream)
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            if body.get("kind") != codec.kind or body.get("stream") != stream:
                return None
            return Snapshot(
                stream, int(body["version"]), str(body["event_hash"]), codec.load(body["state"])
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:  # ValueError: bad JSON/state
            log.warning("snapshot of %s unreadable, dropped: %s", stream, exc)
            self.drop(stream)
            return None

    def save(self, snapshot: Snapshot[S], codec: StateCodec[S]) -> None:
        """Write the snapshot (atomically); a failure is logged, never raised."""
        body = {
            "kind": codec.kind,
            "stream": snapshot.stream,
            "version": snapshot.version,
            "event_hash": snapshot.event_hash,
            "state": codec.dump(snapshot.state),
        }
        try:
            private_folder(self.folder)  # the files: 0600, as mkstemp makes them
            with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=self.folder, suffix=".tmp", delete=False
            ) as out:
                json.dump(body, out)
            os.replace(out.name, self._path(snapshot.stream))
        except OSError as exc:
            log.warning("snapshot of %s not written: %s", snapshot.stream, exc)

    def drop(self, stream: str) -> None:
        self._path(stream).unlink(missing_ok=True)

    def streams(self) -> list[str]:
        """The streams that have a snapshot here."""
        found = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                found.append(str(json.loads(path.read_text(encoding="utf-8"))["stream"]))
            except (OSError, ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)
        return found

    def clear(self) -> int:
        """Delete every snapshot; how many there were."""
        count = 0
        for path in self.folder.glob("*.json"):
            path.unlink(missing_ok=True)
            count += 1
        return count
