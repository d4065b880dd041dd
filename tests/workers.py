"""Processes for the concurrency tests: run as `python tests/workers.py MODE URL ...`.

They are real OS processes (not threads) appending through the public store API, so the
database's own locking is what is tested.
"""

from __future__ import annotations

import json
import sys
import uuid

from monitor.errors import ConcurrencyError
from monitor.store.database import make_engine
from monitor.store.records import NewEvent
from monitor.store.sql import SqlEventStore


def append_with_retry(url: str, worker: str, streams: list[str], count: int) -> None:
    """Append ``count`` single events round-robin over ``streams``, retrying on conflicts."""
    store = SqlEventStore(make_engine(url))
    written: list[str] = []
    conflicts = 0
    for i in range(count):
        stream = streams[i % len(streams)]
        data = {
            "commitment_id": stream,
            "note_id": str(uuid.uuid4()),
            "text": f"{worker} note {i}",
            "author": worker,
        }
        event = NewEvent(uuid.uuid4(), "NoteAdded", 1, data, {"actor": worker})
        while True:
            version = store.stream_version(stream)
            try:
                store.append(stream, [event], version)
                break
            except ConcurrencyError:
                conflicts += 1
        written.append(str(event.event_id))
    store.engine.dispose()
    json.dump({"worker": worker, "ids": written, "conflicts": conflicts}, sys.stdout)


if __name__ == "__main__":
    _, url, worker, streams, count = sys.argv
    append_with_retry(url, worker, streams.split(","), int(count))
