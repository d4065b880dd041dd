"""Sending digests: claim, compose, deliver, record. Reached as ``Monitor.digests``.

Per recipient and local day: a :class:`DigestClaimed` event is appended at the stream's
expected version *before* anything is sent, so of two processes (two schedulers, a
scheduler and a `monitor digest send`) only one sends; a :class:`DigestSent`,
:class:`DigestSkipped` or :class:`DigestFailed` is appended after. A process that dies
between handing the message over and recording it leaves a claim without outcome: after
:data:`~monitor.domain.digest_schedule.CLAIM_LEASE` the next call sends that digest again, with
the same Message-ID and the same window. That window (a crash after the SMTP server took
the message, before the journal recorded it) is the one way a digest can arrive twice.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from monitor.digest.config import Recipient
from monitor.digest.contents import Contents, Reads, Window, gather
from monitor.digest.mail import (
    DeliveryError,
    OutboxTransport,
    SmtpTransport,
    Transport,
    build_message,
    deliver_with_retries,
)
from monitor.digest.render import Rendered, Renderer
from monitor.domain.commitment import context_of
from monitor.domain.digest_schedule import (
    CLAIM_LEASE,
    DigestLog,
    Plan,
    Wait,
    covers_catch_up,
    fold_log,
    local_day,
    message_id,
    next_due,
    plan_digest,
    retry_delay,
)
from monitor.errors import ConfigError, MonitorError
from monitor.events import (
    REGISTRY,
    DigestClaimed,
    DigestFailed,
    DigestSent,
    DigestSkipped,
    DomainEvent,
    digest_stream,
)
from monitor.store.records import StreamAppend
from monitor.writes import DIGEST, Loaded

if TYPE_CHECKING:
    from monitor.application.context import Context

log = logging.getLogger("monitor.digest")

#: waits between the quick attempts of one send (a 421 or a dropped connection); later
#: attempts come from the next call, after retry_delay
QUICK_RETRIES = (2.0, 10.0)
FIRST_WINDOW = timedelta(days=1)

Outcome = Literal["sent", "skipped", "failed", "deferred", "not due"]
#: SMTP exchanges of one attempt that may each wait smtp.timeout (connect, greeting, EHLO,
#: STARTTLS, EHLO, AUTH, MAIL, RCPT, DATA and its end, QUIT), rounded up
STEPS_PER_ATTEMPT = 12


def claim_lease(timeout: float, quick_retries: Sequence[float]) -> timedelta:
    """How long a claim without outcome is presumed alive: longer than the slowest send.

    At least :data:`CLAIM_LEASE`; more when every step of every attempt could wait the
    whole ``smtp.timeout``, so a live but slow sender is never overtaken by a recovery.
    """
    attempts = len(quick_retries) + 1
    slowest = attempts * STEPS_PER_ATTEMPT * timeout + sum(quick_retries)
    return max(CLAIM_LEASE, timedelta(seconds=slowest + 60))


@dataclass(frozen=True, slots=True)
class DigestResult:
    """What one call did for one recipient."""

    address: str
    local_day: date | None
    outcome: Outcome
    #: for "not due": why (sent, skipped, failed, in progress, retry later, not yet)
    reason: str = ""
    trigger: str = ""
    message_id: str | None = None
    destination: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """One recipient as `monitor digest status` and the web UI show them."""

    recipient: Recipient
    last_sent_at: datetime | None
    last_sent_day: date | None
    last_destination: str | None
    next_due: datetime
    in_progress: bool
    last_error: str | None
    last_error_day: date | None
    last_error_at: datetime | None
    last_error_permanent: bool
    #: what the next digest would report if it went now
    waiting: Contents | None = None
    #: what ``when_empty`` says of a digest with nothing new: "note" or "skip"
    when_empty: str = "note"

    def in_words(self, now: datetime) -> str:
        """What is waiting for this recipient and why, in one sentence (times in their
        zone): `monitor digest status` prints it under the table."""
        zone = self.recipient.timezone
        at = self.next_due.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        address = self.recipient.address
        if self.in_progress:
            return "a digest is being sent right now (by this host or another)"
        superseded = self.last_error_day is None or (
            self.last_sent_day is not None and self.last_sent_day >= self.last_error_day
        )
        if self.last_error and not superseded:
            if self.last_error_permanent:
                return (
                    f"the digest of {self.last_error_day} failed for good ({self.last_error}); "
                    f"`monitor digest send --now --to {address}` tries it again"
                )
            return (
                f"the digest of {self.last_error_day} failed for now ({self.last_error}); "
                f"it is tried again from {at}"
            )
        when = "due now" if self.next_due <= now else f"next at {at}"
        first = "no digest sent yet; " if self.last_sent_day is None else ""
        news = _news(self.waiting) if self.waiting is not None else ""
        if self.waiting is not None and self.waiting.quiet:
            what = (
                "nothing new so far, so it will be skipped (digest.when_empty = skip)"
                if self.when_empty == "skip"
                else "nothing new so far: it will say so"
            )
        else:
            what = f"so far it reports {news}" if news else ""
        sending = (
            " (`monitor serve` sends it, or `monitor digest send`)" if when == "due now" else ""
        )
        return f"{first}{when}{sending}" + (f"; {what}" if what else "")


def _news(contents: Contents) -> str:
    parts = [
        (len(contents.changes) + contents.more_changes, "status change", "status changes"),
        (len(contents.evidence) + contents.more_evidence, "new evidence", "new evidence"),
        (contents.new_proposals, "new proposal", "new proposals"),
        (contents.waiting_count, "proposal waiting for review", "proposals waiting for review"),
    ]
    return ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in parts if n)


@dataclass(frozen=True, slots=True)
class Preview:
    """A digest composed but neither claimed nor sent."""

    contents: Contents
    rendered: Rendered
    message: EmailMessage


class Digests:
    """Digests for every configured recipient, given a context and what their contents are
    read from (:class:`~monitor.digest.contents.Reads`).

    ``sleep`` (between quick retries), ``quick_retries``, ``lease`` and ``ssl_context``
    (trust for the SMTP server's certificate) can be replaced, for tests and odd servers.
    """

    def __init__(self, context: Context, reads: Reads) -> None:
        self.context = context
        #: what the digests' contents are read from (the commitments, the queue, sources)
        self.reads = reads
        self.settings = context.settings.digest
        self.store = context.store
        self.sleep: Callable[[float], None] = time.sleep
        self.quick_retries: Sequence[float] = QUICK_RETRIES
        self.lease = claim_lease(self.settings.smtp.timeout, self.quick_retries)
        self.ssl_context: ssl.SSLContext | None = None
        self.renderer = Renderer(self.settings.templates)

    # -- queries ------------------------------------------------------------------------

    @property
    def recipients(self) -> tuple[Recipient, ...]:
        return self.settings.recipients

    def recipient(self, address: str | Recipient) -> Recipient:
        if isinstance(address, Recipient):
            return address
        return self.settings.recipient(address)

    def log(self, address: str) -> DigestLog:
        """The recipient's digests so far, folded from their stream."""
        events = self.store.read_stream(digest_stream(address))
        return fold_log(address, ((REGISTRY.decode(e), context_of(e)) for e in events))

    def next_due(self, recipient: str | Recipient, now: datetime) -> datetime:
        """When the recipient's next digest is due (UTC; at or before ``now``: due now)."""
        found = self.recipient(recipient)
        self.context.require_schema()
        return next_due(found, self.log(found.address), now, lease=self.lease)

    def status(self, now: datetime) -> list[RecipientStatus]:
        """Every recipient: last sent, next due, in progress, last error."""
        self.context.require_schema()
        return [self._status(r, now) for r in self.recipients]

    def _status(self, recipient: Recipient, now: datetime) -> RecipientStatus:
        digests = self.log(recipient.address)
        waiting, _ = self._contents(recipient, digests, now)
        sent = digests.last_sent
        failed = digests.last_failure
        failure = failed.failure if failed is not None else None
        last = digests.last
        return RecipientStatus(
            recipient=recipient,
            last_sent_at=sent.sent.sent_at if sent and sent.sent else None,
            last_sent_day=sent.local_day if sent else None,
            last_destination=sent.sent.destination if sent and sent.sent else None,
            next_due=next_due(recipient, digests, now, lease=self.lease),
            in_progress=last is not None
            and last.outcome == "pending"
            and now - last.event.claimed_at < self.lease,
            last_error=failure.error if failure else None,
            last_error_day=failed.local_day if failed else None,
            last_error_at=failure.failed_at if failure else None,
            last_error_permanent=failure.permanent if failure else False,
            waiting=waiting,
            when_empty=self.settings.when_empty,
        )

    def preview(self, address: str, now: datetime, since: datetime | None = None) -> Preview:
        """Today's digest for ``address`` as it would read now; nothing is recorded."""
        recipient = self.recipient(address)
        self.context.require_schema()
        digests = self.log(recipient.address)
        contents, day = self._contents(recipient, digests, now, since)
        rendered = self.renderer.render(contents, unsubscribe=self.settings.unsubscribe)
        message = build_message(
            rendered,
            recipient=recipient,
            sender=self.settings.sender,
            message_id=message_id(recipient.address, day, self.settings.sender),
            date=now,
            unsubscribe=self.settings.unsubscribe,
        )
        return Preview(contents, rendered, message)

    def _contents(
        self, recipient: Recipient, digests: DigestLog, now: datetime, since: datetime | None = None
    ) -> tuple[Contents, date]:
        """What the recipient's digest would report now: since ``since``, else since their
        last digest, else over the first digest's window."""
        start = digests.window_start()
        if since is not None:
            window = Window(self.store.position_at(since), self.store.last_position(), since, now)
        elif start is not None:
            window = Window(start[0], self.store.last_position(), start[1], now)
        else:
            first = now - FIRST_WINDOW
            window = Window(self.store.position_at(first), self.store.last_position(), first, now)
        day = local_day(recipient, now)
        contents = gather(
            self.reads,
            recipient,
            window,
            local_day=day,
            now=now,
            undelivered=digests.undelivered(),
            catch_up=window.covers_from is not None
            and now - window.covers_from > timedelta(hours=36),
        )
        return contents, day

    # -- commands -----------------------------------------------------------------------

    def send_due(self, now: datetime, only: str | None = None) -> list[DigestResult]:
        """Send every recipient's digest that is due at ``now`` (the scheduler's tick).

        Due: the recipient's send time of their local day has passed and that day has no
        claim yet; or a claim was abandoned (recovery) or failed transiently and its retry
        time has come. After downtime, one digest covers the whole gap. Safe to call from
        several processes at once: the claim decides who sends. ``only``: one recipient.
        """
        self.context.require_schema()
        targets = [self.recipient(only)] if only else list(self.recipients)
        return [self._send_isolated(r, now) for r in targets]

    def _send_isolated(self, recipient: Recipient, now: datetime) -> DigestResult:
        # One recipient's trouble (the database gone mid-send) must not cost the others
        # their digest; an unfinished claim is recovered after its lease.
        try:
            return self._send(recipient, now, manual=False)
        except MonitorError as exc:
            log.error("digest for %s not sent: %s", recipient.address, exc)
            return DigestResult(recipient.address, None, "deferred", error=str(exc))

    def send_now(self, now: datetime, to: str | None = None) -> list[DigestResult]:
        """Send today's digest now, whatever the send time (all recipients or ``to``).

        Still at most once per recipient and local day: a digest already sent (or skipped)
        today is not sent again; one that failed today is tried again.
        """
        self.context.require_schema()
        targets = [self.recipient(to)] if to else list(self.recipients)
        return [self._send(r, now, manual=True) for r in targets]

    def transport(self) -> Transport:
        """SMTP when smtp.host is set, else the outbox folder."""
        if self.settings.smtp.configured:
            return SmtpTransport(self.settings.smtp, self.ssl_context)
        return OutboxTransport(self.settings.outbox)

    def _send(self, recipient: Recipient, now: datetime, *, manual: bool) -> DigestResult:
        stream = digest_stream(recipient.address)
        outcome: list[DigestResult | tuple[DigestLog, DigestClaimed]] = []

        def decide(loaded: Loaded) -> list[StreamAppend]:
            digests = loaded.state(stream, DIGEST)
            decision = plan_digest(recipient, digests, now, manual=manual, lease=self.lease)
            outcome.clear()
            if isinstance(decision, Wait):
                outcome.append(
                    DigestResult(
                        recipient.address, decision.local_day, "not due", reason=decision.reason
                    )
                )
                return []
            claim = self._claim(recipient, digests, decision, now)
            outcome.append((digests.copy(), claim))  # the write path keeps the original
            return [loaded.append(stream, [claim], self._meta())]

        # another process claimed or recorded first: decide again on what it did
        recorded = self.context.writer.run(decide, what=f"the digest of {recipient.address}")
        (decided,) = outcome
        if isinstance(decided, DigestResult):
            return decided
        digests, claim = decided
        return self._deliver(recipient, digests, claim, recorded[0].event_id)

    def _claim(
        self, recipient: Recipient, digests: DigestLog, plan: Plan, now: datetime
    ) -> DigestClaimed:
        # The lease runs from when the claim is really made: ``now`` is when the call began,
        # and a `digest send` works through its recipients one after another (each may take
        # minutes against a dead server); a claim dated at the start would look abandoned to
        # another process while this one is still sending it.
        claimed_at = max(now, self.context.clock.now())
        if plan.repeats is not None:
            # Same message again: same Message-ID, same window, so the same contents.
            earlier = plan.repeats.event
            return earlier.model_copy(
                update={"trigger": plan.trigger, "attempt": plan.attempt, "claimed_at": claimed_at}
            )
        start = digests.window_start()
        covers_from: datetime | None
        if start is not None:
            after, covers_from = start
        else:
            covers_from = first = now - FIRST_WINDOW
            after = self.store.position_at(first)
        return DigestClaimed(
            recipient=recipient.address,
            local_day=plan.local_day,
            message_id=message_id(recipient.address, plan.local_day, self.settings.sender),
            trigger=plan.trigger,
            attempt=plan.attempt,
            after_position=after,
            until_position=max(after, self.store.last_position()),
            covers_from=covers_from,
            covers_until=now,
            claimed_at=claimed_at,
        )

    def _deliver(
        self, recipient: Recipient, digests: DigestLog, claim: DigestClaimed, claim_id: UUID
    ) -> DigestResult:
        day = claim.local_day
        base: dict[str, Any] = {
            "recipient": recipient.address,
            "local_day": day,
            "claim_id": claim_id,
        }
        result = DigestResult(
            recipient.address, day, "sent", trigger=claim.trigger, message_id=claim.message_id
        )
        try:
            contents = gather(
                self.reads,
                recipient,
                Window(
                    claim.after_position,
                    claim.until_position,
                    claim.covers_from,
                    claim.covers_until,
                ),
                local_day=day,
                now=claim.covers_until,
                undelivered=[c for c in digests.undelivered() if c.local_day != day],
                catch_up=covers_catch_up(claim),
            )
            if contents.quiet and self.settings.when_empty == "skip":
                self._record(
                    recipient.address, DigestSkipped(**base, skipped_at=self.context.clock.now())
                )
                log.info("digest for %s on %s: nothing new, skipped", recipient.address, day)
                return replace(result, outcome="skipped")
            rendered = self.renderer.render(contents, unsubscribe=self.settings.unsubscribe)
        except ConfigError as exc:
            # A broken template will not mend itself: record it, do not retry every lease.
            self._record(recipient.address, self._failure(base, claim, str(exc), None, 1, None))
            return replace(result, outcome="failed", error=str(exc))
        message = build_message(
            rendered,
            recipient=recipient,
            sender=self.settings.sender,
            message_id=claim.message_id,
            date=claim.covers_until,
            unsubscribe=self.settings.unsubscribe,
        )
        transport = self.transport()
        delivery = deliver_with_retries(
            transport,
            message,
            sender=self.settings.sender,
            to=recipient.address,
            delays=self.quick_retries,
            sleep=self.sleep,
        )
        if delivery.error is None:
            assert delivery.destination is not None
            self._record(
                recipient.address,
                DigestSent(
                    **base,
                    message_id=claim.message_id,
                    sent_at=self.context.clock.now(),
                    transport="smtp" if transport.kind == "smtp" else "outbox",
                    destination=delivery.destination[-500:],
                    attempts=delivery.attempts,
                ),
            )
            log.info("digest for %s on %s: %s", recipient.address, day, delivery.destination)
            return replace(result, destination=delivery.destination)
        return self._failed(recipient, digests, claim, base, delivery.error, delivery.attempts)

    def _failed(
        self,
        recipient: Recipient,
        digests: DigestLog,
        claim: DigestClaimed,
        base: dict[str, Any],
        error: DeliveryError,
        attempts: int,
    ) -> DigestResult:
        now = self.context.clock.now()
        retry_at = None if error.permanent else now + retry_delay(digests, claim.local_day)
        self._record(
            recipient.address, self._failure(base, claim, str(error), error, attempts, retry_at)
        )
        log.warning(
            "digest for %s on %s failed (%s): %s",
            recipient.address,
            claim.local_day,
            "permanent" if error.permanent else f"retry from {retry_at:%Y-%m-%d %H:%M} UTC",
            error,
        )
        return DigestResult(
            recipient.address,
            claim.local_day,
            "failed" if error.permanent else "deferred",
            trigger=claim.trigger,
            message_id=claim.message_id,
            error=str(error),
        )

    def _failure(
        self,
        base: dict[str, Any],
        claim: DigestClaimed,
        text: str,
        error: DeliveryError | None,
        attempts: int,
        retry_at: datetime | None,
    ) -> DigestFailed:
        return DigestFailed.model_validate(
            {
                **base,
                "message_id": claim.message_id,
                "failed_at": self.context.clock.now(),
                "permanent": error is None or error.permanent,
                "error": text[:500] or "failed",
                "smtp_code": error.code if error is not None else None,
                "attempts": attempts,
                "retry_at": retry_at,
            }
        )

    def _record(self, address: str, event: DomainEvent) -> None:
        """Append an outcome at whatever version the stream has reached by now."""
        try:
            self.context.writer.execute(
                digest_stream(address), DIGEST, lambda _: [event], self._meta()
            )
        except MonitorError as exc:
            raise MonitorError(
                f"could not record the digest outcome for {address}; it may resend"
            ) from exc

    def _meta(self) -> dict[str, object]:
        # Which process claimed: two schedulers racing show up in the journal.
        return {"actor": "digest", "process": f"{socket.gethostname()}:{os.getpid()}"}
