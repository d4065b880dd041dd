"""The bodies the JSON API accepts: each field typed and described, so /api/openapi.json
documents them and a bad body gets 422 with the field named (before any command runs)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from monitor.status import Status

Reason = Literal["irrelevant", "duplicate", "unreliable", "before-commitment", "other"]


class NoteBody(BaseModel):
    """``POST /api/commitments/{id}/notes`` (monitor note add)."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=20_000, description="The note.")


class StatusBody(BaseModel):
    """``POST /api/commitments/{id}/status`` (monitor status set)."""

    model_config = ConfigDict(extra="forbid")
    status: Status = Field(description="The new status.")
    rationale: str = Field(min_length=1, max_length=20_000, description="Why, in words.")
    effective: str | None = Field(
        default=None,
        description="When it became true: an ISO date or time in the display time zone "
        "(default: now).",
    )
    evidence: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="URLs, or ids of accepted evidence, that support the status.",
    )


class ReviewBody(BaseModel):
    """``POST /api/queue/{story or proposal}/{accept|reject|snooze}`` (monitor review)."""

    model_config = ConfigDict(extra="forbid")
    commitment: str | list[str] | None = Field(
        default=None,
        description="Which of the story's commitments the decision is for (default: all).",
    )
    status: Status | None = Field(
        default=None, description="accept: also assess this status with the evidence."
    )
    rationale: str = Field(default="", max_length=20_000, description="accept: why.")
    reason: Reason = Field(default="other", description="reject: why not.")
    until: str | None = Field(
        default=None, description="snooze: until when (ISO date or time, display zone)."
    )
