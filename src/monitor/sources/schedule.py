"""When to check a source next: interval, Cache-Control, Retry-After, backoff with jitter."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

BACKOFF_CAP = 24 * 3600
RETRY_AFTER_CAP = 7 * 86_400
CACHE_CAP = 24 * 3600


def next_check(
    now: datetime,
    *,
    interval: int,
    failed: bool,
    failures: int,
    retry_after: int | None,
    max_age: int | None,
    rng: random.Random,
) -> datetime:
    """The next time to poll; failures back off exponentially (with jitter) up to 24 h."""
    if failed:
        delay = min(BACKOFF_CAP, interval * 2 ** max(0, failures - 1))
        delay = min(BACKOFF_CAP, delay * rng.uniform(0.8, 1.2))
    else:
        # A publisher asking us to cache longer than our interval is obeyed (up to a day).
        delay = max(interval, min(max_age or 0, CACHE_CAP))
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP))
    return now + timedelta(seconds=delay)
