"""When a recipient's digest is due, and what a sender must do about it. Pure: no I/O.

A recipient's stream holds claims (:class:`DigestClaimed`) and their outcomes (sent,
skipped, failed). :func:`fold_log` turns it into a :class:`DigestLog`; :func:`plan_digest`
decides, for a moment ``now``, whether a digest is to be claimed and which: the day's
scheduled one, one catch-up after downtime (never one per missed day), the recovery of a
claim whose sender vanished, or the retry of a transient failure.

Local days and send times are the recipient's; every moment here is UTC-aware.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from uuid import UUID

from monitor.digest.config import Recipient
from monitor.domain.commitment import EventContext
from monitor.events import (
    DigestClaimed,
    DigestFailed,
    DigestSent,
    DigestSkipped,
    DigestTrigger,
    DomainEvent,
)

#: a claim without an outcome for this long is taken to be abandoned (its sender crashed);
#: longer than the longest send (timeouts and in-send retries) can take
CLAIM_LEASE = timedelta(minutes=10)
#: first wait after a send that failed transiently, doubled each time up to RETRY_CAP
RETRY_FIRST = timedelta(minutes=5)
RETRY_CAP = timedelta(hours=1)
#: a window longer than this reports several days: the digest says it is a catch-up
CATCH_UP_AFTER = timedelta(hours=36)

Outcome = Literal["pending", "sent", "skipped", "failed"]


def send_moment(recipient: Recipient, day: date) -> datetime:
    """The UTC moment of the recipient's send time on a local ``day``.

    On a daylight-saving change day a send time that does not exist (02:30 when clocks
    jump from 02:00 to 03:00) falls after the jump (03:30); one that exists twice (01:30
    when clocks go back) means its first occurrence.
    """
    local = datetime.combine(day, recipient.send_time, tzinfo=recipient.timezone)
    return local.astimezone(UTC)


def local_day(recipient: Recipient, moment: datetime) -> date:
    """The recipient's calendar day at ``moment``."""
    return moment.astimezone(recipient.timezone).date()


def message_id(address: str, day: date, sender: str) -> str:
    """The Message-ID of a recipient's digest of a local day: the same on every attempt.

    Built from the address (hashed, so the id does not expose it) and the day, so a resend
    after a crash carries the id of the message it repeats and mail clients can fold them.
    """
    token = hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()[:20]
    domain = sender.rsplit("@", 1)[-1] or "localhost"
    return f"<digest.{day:%Y%m%d}.{token}@{domain}>"


@dataclass(slots=True)
class Claim:
    """One claim of a recipient's stream and what became of it."""

    claim_id: UUID
    event: DigestClaimed
    outcome: Outcome = "pending"
    sent: DigestSent | None = None
    failure: DigestFailed | None = None

    @property
    def local_day(self) -> date:
        return self.event.local_day


@dataclass(slots=True)
class DigestLog:
    """A recipient's digests so far: every claim in order, and the stream's version."""

    address: str
    version: int = 0
    claims: list[Claim] = field(default_factory=list)

    @property
    def last(self) -> Claim | None:
        return self.claims[-1] if self.claims else None

    def copy(self) -> DigestLog:
        """A copy that later events applied to this log leave alone."""
        return DigestLog(self.address, self.version, [replace(c) for c in self.claims])

    @property
    def last_completed(self) -> Claim | None:
        """The newest claim that was sent or skipped: the next window starts after it."""
        for claim in reversed(self.claims):
            if claim.outcome in ("sent", "skipped"):
                return claim
        return None

    @property
    def last_sent(self) -> Claim | None:
        for claim in reversed(self.claims):
            if claim.outcome == "sent":
                return claim
        return None

    @property
    def last_failure(self) -> Claim | None:
        for claim in reversed(self.claims):
            if claim.outcome == "failed":
                return claim
        return None

    def window_start(self) -> tuple[int, datetime | None] | None:
        """Where the next new digest's window starts: (after this position, at this time).

        Right after the last digest sent (or skipped); with none, where the first claim's
        window started, so digests that never arrived are covered by the next one.
        """
        completed = self.last_completed
        if completed is not None:
            return completed.event.until_position, completed.event.covers_until
        if self.claims:
            first = self.claims[0].event
            return first.after_position, first.covers_from
        return None

    def claims_of(self, day: date) -> list[Claim]:
        return [c for c in self.claims if c.local_day == day]

    def undelivered(self) -> list[Claim]:
        """Days since the last completed digest that were claimed but never delivered.

        One entry per day (its newest claim): a permanent failure, a transient one that was
        overtaken by a later day, or a claim whose sender vanished.
        """
        completed = self.last_completed
        start = self.claims.index(completed) + 1 if completed else 0
        by_day: dict[date, Claim] = {}
        for claim in self.claims[start:]:
            by_day[claim.local_day] = claim
        return [c for c in by_day.values() if c.outcome in ("failed", "pending")]


def fold_log(address: str, events: Iterable[tuple[DomainEvent, EventContext]]) -> DigestLog:
    """The log of one recipient's stream."""
    log = DigestLog(address)
    for event, ctx in events:
        apply_to_log(log, event, ctx)
    return log


def apply_to_log(log: DigestLog, event: DomainEvent, ctx: EventContext) -> DigestLog:
    """``log`` with one more event of its stream (changed in place, and returned)."""
    log.version += 1
    if isinstance(event, DigestClaimed):
        log.claims.append(Claim(ctx.event_id, event))
        return log
    if not isinstance(event, DigestSent | DigestSkipped | DigestFailed):
        return log
    # the claim an outcome is about: nearly always the newest, so looked for from the end
    found = next((c for c in reversed(log.claims) if c.claim_id == event.claim_id), None)
    if found is None:
        return log
    if isinstance(event, DigestSent):
        found.outcome, found.sent = "sent", event
    elif isinstance(event, DigestSkipped):
        found.outcome = "skipped"
    elif found.outcome != "sent":  # a late failure never hides a send of the same claim
        found.outcome, found.failure = "failed", event
    return log


@dataclass(frozen=True, slots=True)
class Plan:
    """A digest to claim now: for which local day, why, and which earlier claim it repeats."""

    local_day: date
    trigger: DigestTrigger
    attempt: int
    #: the claim whose window and Message-ID a recovery or retry reuses
    repeats: Claim | None = None


@dataclass(frozen=True, slots=True)
class Wait:
    """Nothing to claim now, and why (for `digest status` and the scheduler)."""

    reason: Literal["not yet", "sent", "skipped", "failed", "in progress", "retry later"]
    local_day: date | None = None


def plan_digest(
    recipient: Recipient,
    log: DigestLog,
    now: datetime,
    *,
    manual: bool = False,
    lease: timedelta = CLAIM_LEASE,
) -> Plan | Wait:
    """What to do for ``recipient`` at ``now``.

    Scheduled (``manual=False``): the newest send time that has passed decides the day; a
    recipient with history whose last claim is older gets one digest for that day covering
    the whole gap (a catch-up), however many days were missed. ``manual``: today's digest,
    whatever the time, still at most once per local day (a failed one may be tried again).
    """
    today = local_day(recipient, now)
    last = log.last
    if manual or now >= send_moment(recipient, today):
        target = today
    elif last is not None:
        # Before today's send time: yesterday's slot may still be owed (downtime).
        target = today - timedelta(days=1)
    else:
        return Wait("not yet", today)
    if last is None or last.local_day < target:
        if last is not None and last.outcome == "pending" and now - last.event.claimed_at < lease:
            return Wait("in progress", last.local_day)
        gap = last is not None and (target - last.local_day).days > 1
        trigger: DigestTrigger = "manual" if manual else ("catch-up" if gap else "schedule")
        return Plan(target, trigger, 1)
    if last.local_day > target:
        return Wait("sent" if last.outcome == "sent" else "not yet", last.local_day)
    attempt = len(log.claims_of(target)) + 1
    if last.outcome in ("sent", "skipped"):
        return Wait(last.outcome, target)
    if last.outcome == "pending":
        if now - last.event.claimed_at < lease:
            return Wait("in progress", target)
        return Plan(target, "recovery", attempt, repeats=last)
    failure = last.failure
    assert failure is not None
    if manual:
        return Plan(target, "manual", attempt, repeats=last)
    if failure.permanent:
        return Wait("failed", target)
    if failure.retry_at is not None and now < failure.retry_at:
        return Wait("retry later", target)
    return Plan(target, "retry", attempt, repeats=last)


def retry_delay(log: DigestLog, day: date) -> timedelta:
    """How long to wait after one more transient failure of ``day``'s digest."""
    failures = sum(
        1
        for c in log.claims_of(day)
        if c.outcome == "failed" and c.failure is not None and not c.failure.permanent
    )
    delay: timedelta = RETRY_FIRST * (2 ** min(failures, 16))
    return min(RETRY_CAP, delay)


def next_due(
    recipient: Recipient, log: DigestLog, now: datetime, *, lease: timedelta = CLAIM_LEASE
) -> datetime:
    """When :func:`plan_digest` will next say "claim" (``<= now`` when it says so now)."""
    decision = plan_digest(recipient, log, now, lease=lease)
    if isinstance(decision, Plan):
        if decision.repeats is not None:
            failure = decision.repeats.failure
            if failure is not None and failure.retry_at is not None:
                return failure.retry_at
            return decision.repeats.event.claimed_at + lease
        return send_moment(recipient, decision.local_day)
    last = log.last
    if decision.reason == "in progress" and last is not None:
        return last.event.claimed_at + lease
    if decision.reason == "retry later" and last is not None and last.failure is not None:
        assert last.failure.retry_at is not None
        return last.failure.retry_at
    today = local_day(recipient, now)
    day = today if last is None or last.local_day < today else last.local_day + timedelta(days=1)
    moment = send_moment(recipient, day)
    # Today's slot passed but it is owed nothing (a failure not retried): tomorrow's then.
    return moment if moment > now else send_moment(recipient, day + timedelta(days=1))


def covers_catch_up(claim: DigestClaimed) -> bool:
    """Whether a claim's window spans several days (after downtime)."""
    return claim.covers_from is not None and claim.covers_until - claim.covers_from > CATCH_UP_AFTER
