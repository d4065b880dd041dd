"""Digests end to end: a real SMTP server (aiosmtpd on loopback) receives what monitor sends.

Content and MIME structure, escaping, recipients in Tokyo and New York around midnight and
on daylight-saving days, catch-up after downtime, and exactly one message per recipient
and local day.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor import ConfigError, FixedClock, Monitor
from monitor.domain.digest_schedule import message_id
from monitor.events import digest_stream

from .conftest import NOW
from .digestkit import ANA, BOB, HOSTILE, configure, local, open_monitor, parts, poll_hostile_feed
from .feedserver import FeedServer
from .smtpserver import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def stream_types(monitor: Monitor, address: str) -> list[str]:
    return [e.event_type for e in monitor.store.read_stream(digest_stream(address))]


def test_content_mime_structure_headers_and_escaping(
    project: Path, clock: FixedClock, smtp: SmtpServer, feed_server: FeedServer
) -> None:
    configure(
        project,
        [ANA],
        smtp_port=smtp.port,
        digest={"base_url": "https://monitor.example.org"},
    )
    with open_monitor(project, clock) as monitor:
        monitor.set_status(
            "EPCC23-SEMI-03",
            "in_progress",
            rationale="JUCIP release lists NSTC-LSTC roadmap work",
            by="alice",
            effective_at=datetime(2024, 4, 10, tzinfo=UTC),
            evidence=["https://www.meti.go.jp/english/press/2024/0411_001.html"],
        )
        poll_hostile_feed(monitor, feed_server, f"digest{id(monitor)}")
        queue = monitor.review.queue()
        waiting, best = len(queue), queue[0].commitment_id
        assert waiting >= 2
        # 12:00 UTC is 21:00 in Tokyo: Ana's 07:30 has passed today.
        [result] = monitor.send_due_digests(clock.now())
        assert (result.outcome, result.local_day) == ("sent", date(2026, 1, 15))

    [received] = smtp.received
    assert (received.mail_from, received.rcpt_tos) == ("monitor@example.org", ["ana@example.org"])
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["To"] == "Ana <ana@example.org>"
    assert message["Message-ID"] == message_id(
        "ana@example.org", date(2026, 1, 15), "monitor@example.org"
    )
    assert message["List-Unsubscribe"] == "<mailto:monitor@example.org?subject=unsubscribe>"
    sent_at = parsedate_to_datetime(message["Date"])
    assert sent_at == NOW
    assert sent_at.utcoffset() == timedelta(hours=9)  # shown in Ana's zone
    assert message["Subject"].startswith("monitor digest Thu 15 Jan 2026: 1 status change")

    text, markup = parts(message)
    assert text.splitlines()[2].startswith(
        f"1 status change; 1 new evidence; {waiting} new proposals; {waiting} waiting for review"
    )
    assert "not yet assessed -> in progress, effective Wed 10 Apr 2024" in text
    assert "JUCIP release lists NSTC-LSTC roadmap work" in text
    assert "https://www.meti.go.jp/english/press/2024/0411_001.html" in text
    assert f"WAITING FOR REVIEW: {waiting} ({waiting} new)" in text
    assert f"review: https://monitor.example.org/queue?commitment={best}" in text
    assert HOSTILE in text  # plain text carries the title as it is
    # HTML: the hostile title is text, never markup; no scripts, no external assets.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in markup
    assert "<script" not in markup.lower()
    assert "<img" not in markup.lower()
    assert not re.search(r"<[a-z][^>]*\s(src|srcset|background)=|url\(|@import", markup, re.I)
    assert 'style="' in markup
    assert "https://monitor.example.org/commitments/EPCC23-SEMI-03" in markup
    assert f"https://monitor.example.org/queue?commitment={best}" in markup


def test_no_header_injection_from_titles_rationales_or_templates(
    project: Path, clock: FixedClock, smtp: SmtpServer, feed_server: FeedServer
) -> None:
    templates = project / "config" / "digest-templates"
    templates.mkdir()
    # A user's subject template that puts untrusted text (and a line break) in the subject.
    (templates / "subject.txt").write_text(
        "{{ d.changes[0].rationale }} | {{ d.waiting|map(attribute='title')|join(' / ') }}\n"
        "Bcc: evil@example.org\n",
        encoding="utf-8",
    )
    configure(project, [ANA], smtp_port=smtp.port)
    with open_monitor(project, clock) as monitor:
        monitor.set_status(
            "EPCC23-SEMI-01",
            "in_progress",
            rationale="fine\r\nX-Injected: yes\r\nBcc: evil@example.org",
            by="alice",
            effective_at=datetime(2025, 12, 1, tzinfo=UTC),
            evidence=["https://example.org/legacy"],
        )
        poll_hostile_feed(monitor, feed_server, f"inject{id(monitor)}")
        monitor.send_due_digests(clock.now())
    [received] = smtp.received
    assert received.rcpt_tos == ["ana@example.org"]
    message = received.message
    assert message["Bcc"] is None
    assert message["X-Injected"] is None
    subject = message["Subject"]
    assert "\n" not in subject
    assert "\r" not in subject
    # The user's template was used, with the text flattened onto one line.
    assert HOSTILE in subject
    assert "fine X-Injected: yes Bcc: evil@example.org" in subject
    raw_headers = received.data.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"^(Bcc|X-Injected):", raw_headers, re.MULTILINE | re.IGNORECASE)


def test_tokyo_and_new_york_around_local_midnight(
    project: Path, clock: FixedClock, smtp: SmtpServer
) -> None:
    ana = {**ANA, "send_time": "00:10"}
    bob = {**BOB, "send_time": "23:50"}
    configure(project, [ana, bob], smtp_port=smtp.port)
    clock.set(datetime(2024, 3, 9, 15, 9, tzinfo=UTC))  # 00:09 on 10 March in Tokyo
    with open_monitor(project, clock) as monitor:

        def tick(at: datetime) -> list[tuple[str, str]]:
            clock.set(at)
            return [(r.address, r.outcome) for r in monitor.send_due_digests(at)]

        assert tick(datetime(2024, 3, 9, 15, 9, tzinfo=UTC)) == [
            ("ana@example.org", "not due"),
            ("bob@example.org", "not due"),
        ]
        # 00:10 in Tokyo on the 10th, while it is still the 9th in UTC.
        assert tick(datetime(2024, 3, 9, 15, 10, tzinfo=UTC))[0] == ("ana@example.org", "sent")
        # 23:49 / 23:50 EST on the 9th in New York are 04:49 / 04:50 UTC on the 10th.
        assert tick(datetime(2024, 3, 10, 4, 49, tzinfo=UTC))[1] == ("bob@example.org", "not due")
        assert tick(datetime(2024, 3, 10, 4, 50, tzinfo=UTC))[1] == ("bob@example.org", "sent")
        assert tick(datetime(2024, 3, 10, 4, 55, tzinfo=UTC)) == [
            ("ana@example.org", "not due"),
            ("bob@example.org", "not due"),
        ]
        # 10 March is the spring-forward day in New York: 23:50 EDT is 03:50 UTC.
        assert monitor.next_digest_due("bob@example.org", clock.now()) == datetime(
            2024, 3, 11, 3, 50, tzinfo=UTC
        )
        assert monitor.next_digest_due("ana@example.org", clock.now()) == datetime(
            2024, 3, 10, 15, 10, tzinfo=UTC
        )
    by_to = {r.rcpt_tos[0]: r.message for r in smtp.received}
    assert len(smtp.received) == 2
    assert by_to["ana@example.org"]["Date"] == "Sun, 10 Mar 2024 00:10:00 +0900"
    assert ".20240310." in by_to["ana@example.org"]["Message-ID"]
    assert by_to["bob@example.org"]["Date"] == "Sat, 09 Mar 2024 23:50:00 -0500"
    assert ".20240309." in by_to["bob@example.org"]["Message-ID"]


@pytest.mark.parametrize(
    ("send_time", "before", "at", "again", "date_header"),
    [
        # Spring forward: 02:30 does not exist on 10 March; it is sent at 03:30 EDT.
        ("02:30", (2024, 3, 10, 7, 29), (2024, 3, 10, 7, 30), (2024, 3, 10, 8, 30), "-0400"),
        # Fall back: 01:30 happens twice on 3 November; sent at the first, not the second.
        ("01:30", (2024, 11, 3, 5, 29), (2024, 11, 3, 5, 30), (2024, 11, 3, 6, 30), "-0400"),
        ("08:00", (2024, 11, 3, 12, 59), (2024, 11, 3, 13, 0), (2024, 11, 3, 14, 0), "-0500"),
    ],
)
def test_new_york_daylight_saving_days_send_exactly_once(
    project: Path,
    clock: FixedClock,
    smtp: SmtpServer,
    send_time: str,
    before: tuple[int, ...],
    at: tuple[int, ...],
    again: tuple[int, ...],
    date_header: str,
) -> None:
    configure(project, [{**BOB, "send_time": send_time}], smtp_port=smtp.port)
    clock.set(datetime(*before, tzinfo=UTC))  # type: ignore[misc]
    with open_monitor(project, clock) as monitor:
        outcomes = []
        for moment in (before, at, again):
            clock.set(datetime(*moment, tzinfo=UTC))  # type: ignore[misc]
            outcomes += [r.outcome for r in monitor.send_due_digests(clock.now())]
    assert outcomes == ["not due", "sent", "not due"]
    [received] = smtp.received
    assert received.message["Date"].endswith(date_header)
    day = datetime(*at, tzinfo=UTC).astimezone(ZoneInfo("America/New_York")).date()  # type: ignore[misc]
    assert f".{day:%Y%m%d}." in received.message["Message-ID"]


@pytest.mark.parametrize("fault", ["421", "drop"])
def test_transient_fault_is_retried_and_one_message_arrives(
    project: Path, clock: FixedClock, smtp: SmtpServer, fault: str
) -> None:
    configure(project, [ANA], smtp_port=smtp.port)
    sleeps: list[float] = []
    smtp.faults.append(fault)
    with open_monitor(project, clock, sleeps) as monitor:
        [result] = monitor.send_due_digests(clock.now())
        assert result.outcome == "sent"
        assert monitor.send_due_digests(clock.now())[0].outcome == "not due"
        sent = monitor.store.read_stream(digest_stream("ana@example.org"))[-1]
        assert (sent.event_type, sent.data["attempts"]) == ("DigestSent", 2)
    assert sleeps == [2.0]  # one short wait, injected: no test sleeps
    assert len(smtp.received) == 1
    assert smtp.handler.transactions == 2


@pytest.mark.parametrize("fault", ["550", "550-rcpt"])
def test_permanent_failure_is_recorded_shown_and_reported_in_the_next_digest(
    project: Path, clock: FixedClock, smtp: SmtpServer, fault: str
) -> None:
    configure(project, [ANA], smtp_port=smtp.port)
    sleeps: list[float] = []
    smtp.faults.append(fault)
    with open_monitor(project, clock, sleeps) as monitor:
        monitor.set_status(
            "EPCC23-SEMI-03",
            "in_progress",
            rationale="JUCIP release lists NSTC-LSTC roadmap work",
            by="alice",
            effective_at=datetime(2025, 12, 1, tzinfo=UTC),
            evidence=["https://www.meti.go.jp/english/press/2024/0411_001.html"],
        )
        [result] = monitor.send_due_digests(clock.now())
        assert result.outcome == "failed"
        assert result.error is not None
        assert "550" in result.error
        assert sleeps == []  # not retried
        [status] = monitor.digests.status(clock.now())
        assert status.last_error is not None
        assert "550" in status.last_error
        assert status.last_error_permanent
        assert status.last_sent_at is None
        words = status.in_words(clock.now())
        assert words.startswith(f"the digest of {status.last_error_day} failed for good (")
        assert "550" in words
        assert "`monitor digest send --now --to ana@example.org` tries it again" in words
        # Not retried later the same day either.
        clock.advance(timedelta(hours=2))
        assert monitor.send_due_digests(clock.now())[0].reason == "failed"
        assert smtp.received == []
        # The next day's digest arrives, says what was lost and covers it.
        clock.advance(timedelta(days=1))
        [result] = monitor.send_due_digests(clock.now())
        assert result.outcome == "sent"
    [received] = smtp.received
    text, markup = parts(received.message)
    assert "EARLIER DIGESTS THAT DID NOT ARRIVE" in text
    assert re.search(r"^- Thu 15 Jan 2026: .*550.* \(not retried\)", text, re.MULTILINE)
    assert "Earlier digests that did not arrive" in markup
    assert "JUCIP release lists NSTC-LSTC roadmap work" in text  # from the lost day's window


def test_server_down_then_back_delivers_the_same_digest_once(
    project: Path, clock: FixedClock
) -> None:
    from .smtpserver import free_port

    port = free_port()  # nothing listens here yet
    configure(project, [ANA], smtp_port=port)
    sleeps: list[float] = []
    with open_monitor(project, clock, sleeps) as monitor:
        [result] = monitor.send_due_digests(clock.now())
        assert result.outcome == "deferred"
        assert result.error is not None
        assert "cannot reach 127.0.0.1" in result.error
        assert sleeps == [2.0, 10.0]
        first_id = result.message_id
        # Before the retry time nothing is tried.
        clock.advance(timedelta(minutes=4))
        assert monitor.send_due_digests(clock.now())[0].reason == "retry later"
        with SmtpServer(port=port) as smtp:
            clock.advance(timedelta(minutes=1))
            [result] = monitor.send_due_digests(clock.now())
            assert (result.outcome, result.trigger, result.message_id) == (
                "sent",
                "retry",
                first_id,
            )
            clock.advance(timedelta(hours=1))
            assert monitor.send_due_digests(clock.now())[0].outcome == "not due"
        assert stream_types(monitor, "ana@example.org") == [
            "DigestClaimed",
            "DigestFailed",
            "DigestClaimed",
            "DigestSent",
        ]
    [received] = smtp.received
    assert received.message["Message-ID"] == first_id


def test_crash_between_send_and_record_resends_once_with_the_same_message_id(
    project: Path, clock: FixedClock, smtp: SmtpServer
) -> None:
    import subprocess
    import sys

    from .conftest import ROOT

    config = configure(project, [ANA], smtp_port=smtp.port)
    with open_monitor(project, clock) as monitor:
        worker = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "tests" / "digest_worker.py"),
                str(config),
                NOW.isoformat(),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        smtp.handler.victim = worker.pid
        smtp.faults.append("keep-then-kill")
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.close()
        assert worker.wait(timeout=120) == -9  # killed after the server took the message
        assert worker.stdout is not None
        worker.stdout.close()
        assert len(smtp.received) == 1
        assert stream_types(monitor, "ana@example.org") == ["DigestClaimed"]
        # Within the lease the claim may still be a live sender's: nothing is sent.
        clock.advance(timedelta(minutes=5))
        assert monitor.send_due_digests(clock.now())[0].reason == "in progress"
        # After it, the digest is sent again: the documented at-least-once window.
        clock.advance(timedelta(minutes=6))
        [result] = monitor.send_due_digests(clock.now())
        assert (result.outcome, result.trigger) == ("sent", "recovery")
        assert monitor.send_due_digests(clock.now())[0].outcome == "not due"
        assert stream_types(monitor, "ana@example.org") == [
            "DigestClaimed",
            "DigestClaimed",
            "DigestSent",
        ]
    first, second = smtp.received
    assert first.message["Message-ID"] == second.message["Message-ID"]
    assert first.message["Date"] == second.message["Date"]
    assert first.message["Subject"] == second.message["Subject"]


def test_concurrent_senders_deliver_exactly_once(
    project: Path, clock: FixedClock, smtp: SmtpServer
) -> None:
    import threading

    from monitor import load_settings

    configure(project, [ANA, {**BOB, "send_time": "06:00"}], smtp_port=smtp.port)
    with open_monitor(project, clock):
        pass
    settings = load_settings(project / "config" / "monitor.toml", env={})
    senders = [Monitor.open(settings, clock) for _ in range(4)]
    barrier = threading.Barrier(len(senders))
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def send(monitor: Monitor) -> None:
        monitor.digests.sleep = lambda _seconds: None
        try:
            barrier.wait(timeout=30)
            outcomes.extend(r.outcome for r in monitor.send_due_digests(clock.now()))
        except BaseException as exc:  # reported below, with the thread's outcome
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(m,)) for m in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for monitor in senders:
        monitor.close()
    assert errors == []
    assert sorted(outcomes).count("sent") == 2
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == ["ana@example.org", "bob@example.org"]


def test_catch_up_after_three_days_of_downtime_is_one_digest_covering_the_gap(
    project: Path, clock: FixedClock, smtp: SmtpServer
) -> None:
    configure(project, [ANA], smtp_port=smtp.port)
    clock.set(local("Asia/Tokyo", 2025, 12, 1, 7, 31))
    with open_monitor(project, clock) as monitor:
        assert monitor.send_due_digests(clock.now())[0].outcome == "sent"
        # Down for three days: work goes on (by CLI, say), but no digest is sent.
        for offset, commitment in enumerate(("EPCC23-SEMI-03", "EPCC23-AI-01", "EPCC23-CRM-01")):
            clock.set(local("Asia/Tokyo", 2025, 12, 2 + offset, 12, 0))
            monitor.set_status(
                commitment,
                "in_progress",
                rationale=f"work seen on day {offset + 2}",
                by="alice",
                effective_at=clock.now(),
                evidence=[f"https://example.org/evidence/{offset}"],
            )
        # Back on 5 December after the send time: one digest, for the whole gap.
        clock.set(local("Asia/Tokyo", 2025, 12, 5, 9, 0))
        [result] = monitor.send_due_digests(clock.now())
        assert (result.outcome, result.trigger, result.local_day) == (
            "sent",
            "catch-up",
            date(2025, 12, 5),
        )
        clock.advance(timedelta(hours=3))
        assert monitor.send_due_digests(clock.now())[0].outcome == "not due"
        claims = [
            e.data
            for e in monitor.store.read_stream(digest_stream("ana@example.org"))
            if e.event_type == "DigestClaimed"
        ]
    assert len(smtp.received) == 2
    catch_up = smtp.received[1].message
    assert catch_up["Subject"].startswith("monitor catch-up to Fri 05 Dec 2025: 3 status changes")
    text, _ = parts(catch_up)
    assert "Since Mon 01 Dec 2025 07:31 JST" in text
    for day in (2, 3, 4):
        assert f"work seen on day {day}" in text
    # The windows join up: nothing reported twice, nothing skipped.
    assert claims[1]["after_position"] == claims[0]["until_position"]


def test_outbox_mode_writes_an_eml_file_and_logs_where(
    project: Path, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    from email import message_from_bytes, policy

    configure(project, [ANA, {**BOB, "send_time": "06:00"}])
    with caplog.at_level("INFO", logger="monitor.digest"), open_monitor(project, clock) as m:
        results = m.send_due_digests(clock.now())
        outbox = m.settings.digest.outbox
    assert [r.outcome for r in results] == ["sent", "sent"]
    files = sorted(p.name for p in outbox.iterdir())
    assert files == ["20260115-ana@example.org.eml", "20260115-bob@example.org.eml"]
    assert outbox == project / "data" / "outbox"
    assert str(outbox / files[0]) in caplog.text
    assert "no SMTP server configured" in caplog.text
    message = message_from_bytes((outbox / files[0]).read_bytes(), policy=policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert message["Message-ID"] == results[0].message_id
    assert not list(outbox.glob(".*.tmp"))  # no temporary file left behind


@pytest.mark.parametrize("when_empty", ["note", "skip"])
def test_a_day_with_nothing_new_sends_a_short_note_or_nothing(
    project: Path, clock: FixedClock, smtp: SmtpServer, when_empty: str
) -> None:
    configure(project, [ANA], smtp_port=smtp.port, digest={"when_empty": when_empty})
    with open_monitor(project, clock) as monitor:
        [result] = monitor.send_due_digests(clock.now())
        assert result.outcome == ("sent" if when_empty == "note" else "skipped")
        assert monitor.send_due_digests(clock.now())[0].outcome == "not due"
        assert stream_types(monitor, "ana@example.org")[-1] == (
            "DigestSent" if when_empty == "note" else "DigestSkipped"
        )
    if when_empty == "skip":
        assert smtp.received == []
        return
    [received] = smtp.received
    text, _ = parts(received.message)
    assert received.message["Subject"].startswith("monitor digest Thu 15 Jan 2026: nothing new")
    assert "Still open:" in text
    assert "STATUS CHANGES" not in text
    assert "NO ACCEPTED EVIDENCE" not in text  # the note stays short


def test_recipients_see_only_the_commitments_they_follow(
    project: Path, clock: FixedClock, smtp: SmtpServer
) -> None:
    carl = {"address": "carl@example.org", "timezone": "UTC", "send_time": "09:00"}
    configure(project, [ANA, {**carl, "commitments": ["ai"]}], smtp_port=smtp.port)
    with open_monitor(project, clock) as monitor:
        for commitment in ("EPCC23-SEMI-03", "EPCC23-AI-01"):
            monitor.set_status(
                commitment,
                "in_progress",
                rationale=f"progress on {commitment}",
                by="alice",
                effective_at=datetime(2025, 12, 1, tzinfo=UTC),
                evidence=[f"https://example.org/{commitment}"],
            )
        monitor.send_due_digests(clock.now())
    texts = {r.rcpt_tos[0]: parts(r.message)[0] for r in smtp.received}
    assert "progress on EPCC23-SEMI-03" in texts["ana@example.org"]
    assert "progress on EPCC23-AI-01" in texts["ana@example.org"]
    assert "progress on EPCC23-SEMI-03" not in texts["carl@example.org"]
    assert "progress on EPCC23-AI-01" in texts["carl@example.org"]
    assert "EPCC23-SEMI" not in texts["carl@example.org"]


def test_preview_composes_without_recording(
    project: Path, clock: FixedClock, tmp_path: Path
) -> None:
    configure(project, [ANA])
    with open_monitor(project, clock) as monitor:
        before = monitor.last_position()
        preview = monitor.digests.preview("ANA@example.org", clock.now())
        assert monitor.last_position() == before
        assert preview.message["Message-ID"] == message_id(
            "ana@example.org", date(2026, 1, 15), "monitor@example.org"
        )
        assert preview.rendered.subject.startswith("monitor digest Thu 15 Jan 2026")
        assert preview.contents.summary.startswith("nothing new; 0 waiting for review")
        with pytest.raises(ConfigError, match="not a digest recipient"):
            monitor.digests.preview("nobody@example.org", clock.now())


def test_a_broken_template_of_the_user_is_a_permanent_failure_that_names_it(
    project: Path, clock: FixedClock, smtp: SmtpServer
) -> None:
    templates = project / "config" / "digest-templates"
    templates.mkdir()
    (templates / "body.html").write_text("<p>{{ d.no_such_thing }}</p>", encoding="utf-8")
    configure(project, [ANA], smtp_port=smtp.port)
    with open_monitor(project, clock) as monitor:
        with pytest.raises(ConfigError, match=r"your templates: body\.html"):
            monitor.digests.preview("ana@example.org", clock.now())
        [result] = monitor.send_due_digests(clock.now())
        assert result.outcome == "failed"
        assert result.error is not None
        assert "no_such_thing" in result.error
        [status] = monitor.digests.status(clock.now())
        assert status.last_error_permanent
    assert smtp.received == []


def test_a_long_list_unsubscribe_url_stays_a_plain_url_on_the_wire(
    project: Path, clock: FixedClock, smtp: SmtpServer
) -> None:
    # Longer than a 78-character line: folded, it became RFC 2047 encoded words
    # (=?utf-8?q?=3Chttps...?=) that no mail client reads as a URL.
    url = "https://monitor.example.org/unsubscribe?recipient=ana&token=" + "a1b2c3d4" * 10
    configure(project, [ANA], smtp_port=smtp.port, digest={"unsubscribe": url})
    with open_monitor(project, clock) as monitor:
        assert monitor.send_due_digests(clock.now())[0].outcome == "sent"
    [received] = smtp.received
    raw_headers = received.data.split(b"\r\n\r\n", 1)[0]
    assert f"\r\nList-Unsubscribe: <{url}>\r\n".encode() in raw_headers
    assert b"=?utf-8?" not in raw_headers.split(b"List-Unsubscribe:", 1)[1].split(b"\r\n")[0]


def test_a_template_that_raises_a_python_error_is_a_recorded_permanent_failure(
    project: Path, clock: FixedClock, smtp: SmtpServer
) -> None:
    templates = project / "config" / "digest-templates"
    templates.mkdir()
    # Not a Jinja2 error: a ZeroDivisionError from the template's own arithmetic.
    (templates / "subject.txt").write_text("{{ d.waiting_count / 0 }}", encoding="utf-8")
    configure(project, [ANA], smtp_port=smtp.port)
    with open_monitor(project, clock) as monitor:
        [result] = monitor.send_due_digests(clock.now())
        assert result.outcome == "failed"
        assert result.error is not None
        assert "ZeroDivisionError" in result.error
        assert "your templates: subject.txt" in result.error
        # Recorded, not left as a claim that is sent again after every lease.
        assert stream_types(monitor, "ana@example.org") == ["DigestClaimed", "DigestFailed"]
        clock.advance(timedelta(hours=1))
        assert monitor.send_due_digests(clock.now())[0].reason == "failed"
    assert smtp.received == []


def test_a_claim_is_dated_when_it_is_made_not_when_the_call_began(
    project: Path, clock: FixedClock, smtp: SmtpServer
) -> None:
    configure(project, [ANA], smtp_port=smtp.port)
    began = clock.now()
    with open_monitor(project, clock) as monitor:
        # `digest send` works through recipients one by one: by the time it claims this
        # one, twenty minutes went by (slow servers for the ones before).
        clock.advance(timedelta(minutes=20))
        assert monitor.digests.send_due(began)[0].outcome == "sent"
        claim = monitor.store.read_stream(digest_stream("ana@example.org"))[0]
    assert claim.event_type == "DigestClaimed"
    assert datetime.fromisoformat(claim.data["claimed_at"]) == began + timedelta(minutes=20)
    # The window still ends where the call said.
    assert datetime.fromisoformat(claim.data["covers_until"]) == began


def test_outbox_files_of_addresses_that_look_alike_do_not_collide(
    project: Path, clock: FixedClock
) -> None:
    from monitor.digest.mail import outbox_name

    # Both valid addresses; both were "a_b@example.org" in the file name.
    first = {"address": "a/b@example.org", "timezone": "UTC", "send_time": "06:00"}
    second = {"address": "a=b@example.org", "timezone": "UTC", "send_time": "06:00"}
    configure(project, [first, second])
    with open_monitor(project, clock) as monitor:
        results = monitor.send_due_digests(clock.now())
        outbox = monitor.settings.digest.outbox
    assert [r.outcome for r in results] == ["sent", "sent"]
    files = sorted(p.name for p in outbox.iterdir())
    assert len(files) == 2
    assert all(name.startswith("20260115-a_b@example.org-") for name in files)
    assert {r.destination for r in results} == {str(outbox / name) for name in files}
    # No way out of the folder, whatever the address.
    assert "/" not in outbox_name("<digest.20260115.x@example.org>", "../../x@y")
    assert outbox_name("<digest.20260115.x@example.org>", "Ana@Example.org") == (
        "20260115-ana@example.org.eml"
    )


def test_a_long_catch_up_lists_the_newest_items_and_counts_the_rest() -> None:
    from monitor.digest.config import Recipient
    from monitor.digest.contents import MAX_LISTED, Contents, StatusChange, Undelivered
    from monitor.digest.render import Renderer

    recipient = Recipient("ana@example.org", "Ana", ZoneInfo("Asia/Tokyo"), time(7, 30))
    contents = Contents(recipient, date(2026, 1, 15), NOW - timedelta(days=90), NOW, True)
    contents.changes = [
        StatusChange(
            f"C-{n}", "t", "assessed", "in_progress", "stalled", f"change {n}", None, "x", (), None
        )
        for n in range(MAX_LISTED + 50)
    ]
    contents.undelivered = [
        Undelivered(date(2025, 10, 1) + timedelta(days=n), "552 message too large", True)
        for n in range(60)
    ]
    contents.bound()
    assert len(contents.changes) == MAX_LISTED
    assert contents.changes[-1].rationale == f"change {MAX_LISTED + 49}"  # the newest kept
    assert contents.summary.startswith(f"{MAX_LISTED + 50} status changes;")
    assert "60 digests undelivered" in contents.summary
    rendered = Renderer(None).render(contents, unsubscribe="mailto:monitor@example.org")
    assert f"STATUS CHANGES ({MAX_LISTED + 50})" in rendered.text
    assert f"(the newest {MAX_LISTED}; 50 earlier ones" in rendered.text
    assert "change 0\n" not in rendered.text
    assert "- and 46 earlier" in rendered.text
    assert "50 earlier ones are in the web UI" in rendered.html


def test_a_failing_source_is_reported_by_its_kind_of_failure_only(
    project: Path, clock: FixedClock
) -> None:
    """A day of failed checks is in the digest as "could not connect", never with the
    internal host name the recorded error names."""
    from .test_poll import write_sources

    write_sources(project, {"intranet": "http://billing-db.invalid:5432/feed.xml"})
    configure(project, [ANA])
    # the fetcher of a real deployment (public addresses only) names the host it could
    # not look up
    public = {"MONITOR_ALLOW_PRIVATE_ADDRESSES": "false"}
    with open_monitor(project, clock, env=public) as monitor:
        for _ in range(2):
            monitor.sources.poll(monitor.sources.all())
            clock.advance(timedelta(days=1, hours=1))
        [source] = monitor.sources.all()
        assert "billing-db.invalid" in (source.last_error or "")  # the detail is kept
        text = monitor.digests.preview("ana@example.org", clock.now()).rendered.text
    assert "intranet: since" in text
    assert "failed checks: could not connect" in text
    assert "billing-db" not in text
