"""Identifiers.

Event ids are UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Being
roughly time-ordered, new ids land at the right edge of the unique index on ``event_id``
instead of on a random page, which keeps each append's write (and its fsync) small.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar
from uuid import UUID

T = TypeVar("T")


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


#: the fewest characters of an id shown to people, and accepted from them (as git does)
MIN_PREFIX = 8


#: what an id given by a person may hold: hexadecimal digits and hyphens (a UUID, or its start)
ID_TEXT = re.compile(r"^[0-9a-f-]+$")


def id_prefix(ref: str, kind: str) -> str:
    """``ref`` as an id or the start of one (lower case, trimmed), or a clear refusal.

    Checked before any look-up, so that what is not an id never reaches a query: a ``%``
    or ``_`` would be a wildcard to ``LIKE``, and a NUL a driver's error.
    """
    from monitor.errors import CommandRejected

    text = ref.strip().lower()
    if not ID_TEXT.match(text) or len(text) > 36:
        shown = ref if len(ref) <= 40 else ref[:37] + "..."
        raise CommandRejected(
            f"{shown!r} is not an id: {kind} ids are hexadecimal digits and hyphens, "
            "such as 0b1c2083 (the start of one is enough)"
        )
    return text


def one_by_prefix(
    ref: str,
    kind: str,
    starting: Callable[[str], Sequence[T]],
    *,
    where: str,
    minimum: int = MIN_PREFIX,
) -> T:
    """The one thing whose id ``ref`` is or starts (at least ``minimum`` characters), found
    by ``starting(prefix)`` (which returns at most two); else a refusal that says what to
    give, or ``where`` the ids are shown."""
    from monitor.errors import CommandRejected, NotFound

    text = id_prefix(ref, kind)
    if len(text) < minimum:
        raise CommandRejected(f"give at least {minimum} characters of the {kind} id")
    found = starting(text)
    if not found:
        raise NotFound(f"no {kind} {text!r}: {where}")
    if len(found) > 1:
        raise CommandRejected(f"{text!r} matches several {kind} ids: give more of it")
    return found[0]


def short_ids(ids: Iterable[UUID | str]) -> dict[str, str]:
    """Each id (as text) -> its shortest prefix of at least :data:`MIN_PREFIX` characters
    that no other id of ``ids`` starts with."""
    texts = sorted({str(i) for i in ids})
    return {
        text: unique_prefix(text, texts[max(index - 1, 0) : index] + texts[index + 1 : index + 2])
        for index, text in enumerate(texts)
    }


def unique_prefix(text: str, neighbours: Iterable[str]) -> str:
    """The shortest prefix of ``text``, at least :data:`MIN_PREFIX` characters, that none
    of ``neighbours`` starts with: its neighbours in sorted order are the ids it shares
    the longest start with, so they are the only ones to compare."""
    shared = 0
    for other in neighbours:
        common = 0
        while common < min(len(text), len(other)) and text[common] == other[common]:
            common += 1
        shared = max(shared, common)
    return text[: max(MIN_PREFIX, shared + 1)]


def resolve(ref: UUID | str, known: Iterable[UUID], kind: str) -> UUID:
    """The one id of ``known`` that ``ref`` is, or starts (at least :data:`MIN_PREFIX`
    characters, any case); a clear refusal otherwise."""
    from monitor.errors import CommandRejected, NotFound

    if isinstance(ref, UUID):
        return ref  # a whole id: the decider says whether it is there
    text = id_prefix(ref, kind)
    if len(text) == 36:
        try:
            return UUID(text)
        except ValueError:
            pass
    if len(text) < MIN_PREFIX:
        raise CommandRejected(f"give at least {MIN_PREFIX} characters of the {kind} id")
    found = [k for k in known if str(k).startswith(text)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFound(f"no {kind} {text}")
    raise CommandRejected(f"{text!r} starts {len(found)} {kind} ids: give more of it")
