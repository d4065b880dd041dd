"""Identifiers.

Event ids are UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Being
roughly time-ordered, new ids land at the right edge of the unique index on ``event_id``
instead of on a random page, which keeps each append's write (and its fsync) small.
"""

from __future__ import annotations

import os
import time
from uuid import UUID


def uuid7(unix_ms: int | None = None) -> UUID:
    """A version-7 UUID for the given (default: current) Unix time in milliseconds."""
    ms = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a: 12 bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & 0x3FFF_FFFF_FFFF_FFFF  # rand_b: 62 bits
    return UUID(int=value)
