"""The bodies the JSON API accepts: each field typed and described, so /api/openapi.json
documents them and a bad body gets 422 with the field named (before any command runs).

Strings are strict: a number, an object or ``null`` where text belongs is refused, never
turned into text with ``str()``; and text holds no control characters but tab and line
breaks (a NUL cannot be stored by PostgreSQL, and none of them is ever meant). An unknown
field is refused too: ``"effective_at"`` for ``"effective"`` must not silently mean "now".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StrictStr,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from monitor.status import Status

Reason = Literal["irrelevant", "duplicate", "unreliable", "before-commitment", "other"]

#: text a person wrote: any character but the control characters other than tab, LF, CR
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"
#: a commitment's id as the catalogue writes it (any case: the queue's filter ignores it)
COMMITMENT = r"^[A-Za-z0-9][A-Za-z0-9-]{0,80}$"
#: what ``parse_moment`` reads: a date, or a date and time with an optional offset (a day
#: the calendar lacks, 2025-02-30, passes this form and is refused by the parser: 400)
MOMENT = (
    r"^([1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-(0[1-9]|1[0-2])"
    r"-(0[1-9]|[12][0-9]|3[01])"
    r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?$"
)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _no_control_characters(value: str) -> str:
    if _CONTROL.search(value):
        raise PydanticCustomError(
            "control_character",
            "holds a control character: only tab and line breaks may be in text",
        )
    return value


@dataclass(frozen=True, slots=True)
class _Documented:
    """States ``pattern`` in the JSON schema of a string a validator checks (so that its
    refusal is in words, not a regular expression)."""

    pattern: str

    def __get_pydantic_json_schema__(
        self, core: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core)
        schema["pattern"] = self.pattern
        return schema


#: text, checked in words a person understands; the schema states the same as a pattern
Text = Annotated[StrictStr, AfterValidator(_no_control_characters), _Documented(TEXT)]
CommitmentRef = Annotated[StrictStr, StringConstraints(pattern=COMMITMENT)]
Moment = Annotated[StrictStr, StringConstraints(pattern=MOMENT)]
Evidence = Annotated[
    StrictStr,
    StringConstraints(min_length=1, max_length=2_000),
    AfterValidator(_no_control_characters),
    _Documented(TEXT),
]


class NoteBody(BaseModel):
    """``POST /api/commitments/{id}/notes`` (monitor note add)."""

    model_config = ConfigDict(extra="forbid")
    text: Text = Field(min_length=1, max_length=20_000, description="The note.")


class StatusBody(BaseModel):
    """``POST /api/commitments/{id}/status`` (monitor status set)."""

    model_config = ConfigDict(extra="forbid")
    status: Status = Field(description="The new status.")
    rationale: Text = Field(min_length=1, max_length=20_000, description="Why, in words.")
    effective: Moment | None = Field(
        default=None,
        description="When it became true: an ISO date or time in the display time zone "
        "(default: now).",
    )
    evidence: list[Evidence] = Field(
        default_factory=list,
        max_length=50,
        description="URLs, or ids of accepted evidence, that support the status.",
    )


class ReviewBody(BaseModel):
    """``POST /api/queue/{story or proposal}/{accept|reject|snooze}`` (monitor review)."""

    model_config = ConfigDict(extra="forbid")
    commitment: CommitmentRef | Annotated[list[CommitmentRef], Field(max_length=50)] | None = Field(
        default=None,
        description="Which of the story's commitments the decision is for (default: all).",
    )
    status: Status | None = Field(
        default=None, description="accept: also assess this status with the evidence."
    )
    rationale: Text = Field(default="", max_length=20_000, description="accept: why.")
    reason: Reason = Field(default="other", description="reject: why not.")
    until: Moment | None = Field(
        default=None, description="snooze: until when (ISO date or time, display zone)."
    )
