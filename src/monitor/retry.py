"""Retrying a decision after a ConcurrencyError: how often, and how long to wait between."""

from __future__ import annotations

import random
import time

#: attempts before a command gives up and asks the user to try again. Generous: four
#: writers on one commitment on a busy two-core machine lost ten times in a row now and
#: then; twenty attempts with the jittered waits below wait 3.5 s at the very most.
RETRIES = 20


def back_off(attempt: int) -> None:
    """Wait a random moment before deciding again, so racing writers spread out."""
    time.sleep(random.uniform(0, min(0.25, 0.002 * 2**attempt)))  # noqa: S311 (not crypto)
