"""The bounds of every request: a module of its own, so that reading the settings does not
load the HTTP client."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MIB", "FetchLimits"]

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """The bounds of every request (defaults suit real feeds)."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    deadline: float = 60.0
    max_body: int = 10 * MIB
    max_decoded: int = 10 * MIB
    max_redirects: int = 5
    concurrency: int = 16
    per_host: int = 2
    #: a feedparser run on hostile markup can take minutes and gigabytes: both are capped
    #: (the memory as address space a parse worker may add to what it starts with)
    parse_timeout: float = 30.0
    parse_memory: int = 1024 * MIB
