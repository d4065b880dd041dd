"""The bounds of every request and what a request gives back: plain data, in a module of
its own, so that reading the settings and planning a check do not load the HTTP client."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["MIB", "FetchLimits", "FetchResult", "Validators"]

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


@dataclass(frozen=True, slots=True)
class Validators:
    """What the last successful fetch told us, for a conditional request."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of one fetch: a body, "not modified", or a failure with its reason."""

    url: str
    outcome: str  # "ok", "not_modified", "failed"
    status: int | None = None
    body: bytes = b""
    content_type: str | None = None
    final_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    max_age: int | None = None
    retry_after: int | None = None
    error: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
