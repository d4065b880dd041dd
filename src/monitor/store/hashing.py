"""Canonical JSON and the hash chain.

hash(n) = sha256(hash(n-1) + canonical JSON of event n without its hash), with the genesis
"previous hash" being 64 zeros. Canonical JSON: keys sorted, no insignificant white space,
UTF-8, non-ASCII kept as is. ``data`` and ``metadata`` are stored as canonical JSON text, so
the envelope can be hashed from stored text without re-serialising the payload.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any

GENESIS_HASH = "0" * 64


# One encoder for every call: json.dumps with options builds a new encoder each time.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Serialise ``value`` the one way the hash chain accepts."""
    return _ENCODER.encode(value)


@lru_cache(maxsize=4096)
def _json_string(value: str) -> str:
    # Stream ids and event types repeat: encode each once.
    return _ENCODER.encode(value)


def event_hash(
    previous_hash: str,
    *,
    position: int,
    event_id: str,
    stream_id: str,
    stream_version: int,
    event_type: str,
    schema_version: int,
    data_json: str,
    metadata_json: str,
    recorded_at: str,
) -> str:
    """The chain hash of one event, from its stored (canonical) text."""
    # Keys in sorted order, payloads embedded as their stored canonical text. Event ids
    # (UUIDs) and timestamps (fixed format) never need JSON escaping.
    envelope = (
        '{"data":'
        + data_json
        + ',"event_id":"'
        + event_id
        + '"'
        + ',"event_type":'
        + _json_string(event_type)
        + ',"metadata":'
        + metadata_json
        + ',"position":'
        + str(position)
        + ',"recorded_at":"'
        + recorded_at
        + '"'
        + ',"schema_version":'
        + str(schema_version)
        + ',"stream_id":'
        + _json_string(stream_id)
        + ',"stream_version":'
        + str(stream_version)
        + "}"
    )
    return hashlib.sha256((previous_hash + envelope).encode("utf-8")).hexdigest()
