"""When digests are due: local days, send times, daylight-saving days, catch-up, retries.

Pure decisions over a recipient's stream, given as events; no database, no clock but the
``now`` passed in.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.digest.config import Recipient
from monitor.domain.commitment import EventContext
from monitor.domain.digest_schedule import (
    CLAIM_LEASE,
    DigestLog,
    Plan,
    Wait,
    fold_log,
    message_id,
    next_due,
    plan_digest,
    send_moment,
)
from monitor.events import DigestClaimed, DigestFailed, DigestSent, DomainEvent

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def recipient(zone: ZoneInfo, at: str) -> Recipient:
    hour, minute = (int(x) for x in at.split(":"))
    return Recipient("ana@example.org", "Ana", zone, time(hour, minute))


class Stream:
    """A recipient's stream written by hand: claims and their outcomes."""

    def __init__(self) -> None:
        self.events: list[tuple[DomainEvent, EventContext]] = []

    def claim(self, day: date, at: datetime, trigger: str = "schedule") -> uuid.UUID:
        claim_id = uuid.uuid4()
        event = DigestClaimed(
            recipient="ana@example.org",
            local_day=day,
            message_id=message_id("ana@example.org", day, "monitor@example.org"),
            trigger=trigger,  # type: ignore[arg-type]
            attempt=1,
            after_position=0,
            until_position=10,
            covers_from=at - timedelta(days=1),
            covers_until=at,
            claimed_at=at,
        )
        self._add(event, claim_id, at)
        return claim_id

    def sent(self, claim_id: uuid.UUID, day: date, at: datetime) -> None:
        self._add(
            DigestSent(
                recipient="ana@example.org",
                local_day=day,
                message_id=message_id("ana@example.org", day, "monitor@example.org"),
                claim_id=claim_id,
                sent_at=at,
                transport="smtp",
                destination="127.0.0.1:25",
                attempts=1,
            ),
            uuid.uuid4(),
            at,
        )

    def failed(self, claim_id: uuid.UUID, day: date, at: datetime, *, permanent: bool) -> None:
        self._add(
            DigestFailed(
                recipient="ana@example.org",
                local_day=day,
                message_id=message_id("ana@example.org", day, "monitor@example.org"),
                claim_id=claim_id,
                failed_at=at,
                permanent=permanent,
                error="550 no such user" if permanent else "421 try later",
                smtp_code=550 if permanent else 421,
                attempts=3,
                retry_at=None if permanent else at + timedelta(minutes=5),
            ),
            uuid.uuid4(),
            at,
        )

    def _add(self, event: DomainEvent, event_id: uuid.UUID, at: datetime) -> None:
        self.events.append((event, EventContext(event_id, len(self.events) + 1, at)))

    def log(self) -> DigestLog:
        return fold_log("ana@example.org", self.events)


def test_tokyo_local_day_begins_while_utc_is_still_on_the_day_before() -> None:
    ana = recipient(TOKYO, "00:15")
    empty = Stream().log()
    # 00:14 in Tokyo on 10 March is 15:14 UTC on 9 March.
    assert plan_digest(ana, empty, utc("2024-03-09T15:14")) == Wait("not yet", date(2024, 3, 10))
    due = plan_digest(ana, empty, utc("2024-03-09T15:15"))
    assert due == Plan(date(2024, 3, 10), "schedule", 1)


def test_new_york_evening_send_is_for_the_local_day_after_utc_midnight() -> None:
    bob = recipient(NEW_YORK, "23:50")
    stream = Stream()
    # The digest of 9 March was sent at 23:50 EST (04:50 UTC on 10 March).
    claim = stream.claim(date(2024, 3, 9), utc("2024-03-10T04:50"))
    stream.sent(claim, date(2024, 3, 9), utc("2024-03-10T04:50"))
    log = stream.log()
    # 10 March is the spring-forward day: 23:50 EDT is 03:50 UTC on 11 March.
    assert plan_digest(bob, log, utc("2024-03-11T03:49")) == Wait("sent", date(2024, 3, 9))
    assert plan_digest(bob, log, utc("2024-03-11T03:50")) == Plan(date(2024, 3, 10), "schedule", 1)
    assert next_due(bob, log, utc("2024-03-10T12:00")) == utc("2024-03-11T03:50")


def test_spring_forward_day_send_times() -> None:
    bob = recipient(NEW_YORK, "08:00")
    assert send_moment(bob, date(2024, 3, 9)) == utc("2024-03-09T13:00")  # EST
    assert send_moment(bob, date(2024, 3, 10)) == utc("2024-03-10T12:00")  # EDT
    # 02:30 does not exist on 10 March in New York: it is sent when clocks show 03:30.
    night = recipient(NEW_YORK, "02:30")
    assert send_moment(night, date(2024, 3, 10)) == utc("2024-03-10T07:30")
    assert utc("2024-03-10T07:30").astimezone(NEW_YORK).strftime("%H:%M %Z") == "03:30 EDT"
    # After the digest of the 9th, the next is due 23 hours later, at 08:00 EDT.
    stream = Stream()
    claim = stream.claim(date(2024, 3, 9), utc("2024-03-09T13:00"))
    stream.sent(claim, date(2024, 3, 9), utc("2024-03-09T13:00"))
    assert next_due(bob, stream.log(), utc("2024-03-09T13:01")) == utc("2024-03-10T12:00")
    assert isinstance(plan_digest(bob, stream.log(), utc("2024-03-10T11:59")), Wait)
    assert plan_digest(bob, stream.log(), utc("2024-03-10T12:00")) == Plan(
        date(2024, 3, 10), "schedule", 1
    )


def test_fall_back_day_sends_once_though_the_hour_comes_twice() -> None:
    bob = recipient(NEW_YORK, "08:00")
    assert send_moment(bob, date(2024, 11, 2)) == utc("2024-11-02T12:00")  # EDT
    assert send_moment(bob, date(2024, 11, 3)) == utc("2024-11-03T13:00")  # EST
    night = recipient(NEW_YORK, "01:30")
    first = send_moment(night, date(2024, 11, 3))
    assert first == utc("2024-11-03T05:30")  # the first 01:30 (EDT)
    stream = Stream()
    claim = stream.claim(date(2024, 11, 3), first)
    stream.sent(claim, date(2024, 11, 3), first)
    # 06:30 UTC is 01:30 again (EST): the day's digest is sent already.
    assert plan_digest(night, stream.log(), utc("2024-11-03T06:30")) == Wait(
        "sent", date(2024, 11, 3)
    )
    assert next_due(night, stream.log(), utc("2024-11-03T06:30")) == utc("2024-11-04T06:30")


def test_downtime_gives_one_catch_up_not_one_per_missed_day() -> None:
    ana = recipient(TOKYO, "07:30")
    stream = Stream()
    claim = stream.claim(date(2024, 3, 1), utc("2024-02-29T22:30"))
    stream.sent(claim, date(2024, 3, 1), utc("2024-02-29T22:30"))
    log = stream.log()
    # Down from 2 to 4 March; back at 06:00 on the 5th (before its send time): one digest
    # for the 4th now, covering the whole gap.
    back = datetime(2024, 3, 5, 6, 0, tzinfo=TOKYO).astimezone(UTC)
    assert plan_digest(ana, log, back) == Plan(date(2024, 3, 4), "catch-up", 1)
    # Back after the 5th's send time: one digest for the 5th.
    later = datetime(2024, 3, 5, 9, 0, tzinfo=TOKYO).astimezone(UTC)
    assert plan_digest(ana, log, later) == Plan(date(2024, 3, 5), "catch-up", 1)


def test_a_fresh_claim_blocks_others_and_an_abandoned_one_is_recovered() -> None:
    ana = recipient(TOKYO, "07:30")
    stream = Stream()
    at = datetime(2024, 3, 10, 7, 30, tzinfo=TOKYO).astimezone(UTC)
    stream.claim(date(2024, 3, 10), at)
    log = stream.log()
    assert plan_digest(ana, log, at + CLAIM_LEASE - timedelta(seconds=1)) == Wait(
        "in progress", date(2024, 3, 10)
    )
    recovery = plan_digest(ana, log, at + CLAIM_LEASE)
    assert isinstance(recovery, Plan)
    assert (recovery.local_day, recovery.trigger, recovery.attempt) == (
        date(2024, 3, 10),
        "recovery",
        2,
    )
    assert recovery.repeats is log.last
    assert next_due(ana, log, at) == at + CLAIM_LEASE


def test_transient_failures_wait_for_their_retry_time_permanent_ones_are_final() -> None:
    ana = recipient(TOKYO, "07:30")
    at = datetime(2024, 3, 10, 7, 30, tzinfo=TOKYO).astimezone(UTC)
    transient = Stream()
    transient.failed(transient.claim(date(2024, 3, 10), at), date(2024, 3, 10), at, permanent=False)
    log = transient.log()
    assert plan_digest(ana, log, at + timedelta(minutes=4)) == Wait(
        "retry later", date(2024, 3, 10)
    )
    assert next_due(ana, log, at) == at + timedelta(minutes=5)
    retry = plan_digest(ana, log, at + timedelta(minutes=5))
    assert isinstance(retry, Plan)
    assert retry.trigger == "retry"
    permanent = Stream()
    permanent.failed(permanent.claim(date(2024, 3, 10), at), date(2024, 3, 10), at, permanent=True)
    log = permanent.log()
    assert plan_digest(ana, log, at + timedelta(hours=3)) == Wait("failed", date(2024, 3, 10))
    # A person may try again by hand; the next day is due as usual, and says what was lost.
    manual = plan_digest(ana, log, at + timedelta(hours=3), manual=True)
    assert isinstance(manual, Plan)
    assert manual.trigger == "manual"
    assert plan_digest(ana, log, at + timedelta(days=1)) == Plan(date(2024, 3, 11), "schedule", 1)
    assert [c.local_day for c in log.undelivered()] == [date(2024, 3, 10)]


def test_manual_send_is_still_once_per_local_day() -> None:
    ana = recipient(TOKYO, "07:30")
    stream = Stream()
    at = datetime(2024, 3, 10, 6, 0, tzinfo=TOKYO).astimezone(UTC)
    assert plan_digest(ana, stream.log(), at, manual=True) == Plan(date(2024, 3, 10), "manual", 1)
    claim = stream.claim(date(2024, 3, 10), at, trigger="manual")
    stream.sent(claim, date(2024, 3, 10), at)
    log = stream.log()
    assert plan_digest(ana, log, at, manual=True) == Wait("sent", date(2024, 3, 10))
    # The scheduled send time of that day comes: already sent.
    assert plan_digest(ana, log, at + timedelta(hours=2)) == Wait("sent", date(2024, 3, 10))


@pytest.mark.parametrize("day", [date(2024, 3, 10), date(2024, 11, 3)])
def test_message_id_is_fixed_per_recipient_and_local_day(day: date) -> None:
    first = message_id("Ana@Example.org", day, "monitor@example.org")
    assert first == message_id("ana@example.org", day, "monitor@example.org")
    assert first != message_id("ana@example.org", day + timedelta(days=1), "monitor@example.org")
    assert first != message_id("bob@example.org", day, "monitor@example.org")
    assert first.startswith("<digest.")
    assert first.endswith("@example.org>")
    assert "ana" not in first  # the address itself is not exposed
