"""The status scale (docs: DESIGN.md): where a commitment stands.

Its own module, with nothing but the standard library, so that the command line can name
the statuses in its help without loading the event models.
"""

from enum import StrEnum

__all__ = ["Status"]


class Status(StrEnum):
    """Where a commitment stands (after PolitiFact and the G7 Research Group)."""

    NOT_YET_ASSESSED = "not_yet_assessed"
    IN_PROGRESS = "in_progress"
    STALLED = "stalled"
    FULFILLED = "fulfilled"
    PARTIALLY_FULFILLED = "partially_fulfilled"
    NOT_FULFILLED = "not_fulfilled"
    SUPERSEDED = "superseded"
    WITHDRAWN = "withdrawn"
