"""No header injection through RFC 2047 encoded words (CVE-2024-6923 on Python 3.11.7).

The email package decodes ``=?utf-8?q?=0d=0aBcc:evil@example.org?=`` in a header value it is
given into a line break and ``Bcc:``, and the Python in use writes that out as a new header
line. A feed's publisher controls item titles (which a user's subject template may put in
the subject) and an admin writes recipient names: neither may add a header or a recipient.
The messages go to a real SMTP server on loopback.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from monitor import FixedClock
from monitor.digest.config import Smtp
from monitor.digest.mail import SMTP_POLICY, HeaderInjection, OutboxTransport, SmtpTransport

from .digestkit import ANA, configure, open_monitor
from .feedserver import FeedServer
from .smtpserver import Received, SmtpServer
from .test_poll import LIMITS, item, rss, write_sources

PAYLOAD = "=?utf-8?q?=0d=0aBcc:evil@example.org?="
B_PAYLOAD = "=?utf-8?b?DQpCY2M6IGV2aWwyQGV4YW1wbGUub3Jn?="  # "\r\nBcc: evil2@example.org"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def assert_no_injection(received: Received) -> None:
    """One recipient on the envelope, no Bcc (or any header) a payload made."""
    assert received.rcpt_tos == ["ana@example.org"]
    raw_headers = received.data.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"^bcc:", raw_headers, re.MULTILINE | re.IGNORECASE)
    message = received.message
    assert message["Bcc"] is None
    assert [a.addr_spec for a in message["To"].addresses] == ["ana@example.org"]


def test_encoded_words_in_feed_titles_put_in_the_subject_add_no_header(
    project: Path, clock: FixedClock, smtp: SmtpServer, feed_server: FeedServer
) -> None:
    templates = project / "config" / "digest-templates"
    templates.mkdir()
    (templates / "subject.txt").write_text(
        "news: {{ d.waiting|map(attribute='title')|join(' / ') }}\n", encoding="utf-8"
    )
    configure(project, [ANA], smtp_port=smtp.port)
    name = f"rfc2047{id(project)}"
    feed_server.set_body(
        name,
        rss(
            item("1", f"Legacy chips {PAYLOAD} Japan and the U.S. agree"),
            item("2", f"Legacy chips: Japan and the U.S. agree {B_PAYLOAD}"),
        ),
    )
    with open_monitor(project, clock) as monitor:
        write_sources(project, {name: feed_server.url(f"/feeds/{name}")})
        monitor.sources.sync()
        monitor.sources.poll(monitor.sources.due(), limits=LIMITS)
        preview = monitor.digests.preview("ana@example.org", clock.now())
        titles = " ".join(waiting.title for waiting in preview.contents.waiting)
        assert PAYLOAD in titles  # the payload reaches the template as it is
        assert B_PAYLOAD in titles
        [result] = monitor.send_due_digests(clock.now())
        assert result.outcome == "sent"
    [received] = smtp.received
    assert_no_injection(received)
    subject = received.message["Subject"]
    # The title is still there for a person to read; only the encoded word is broken.
    assert "Legacy chips = ?utf-8?q?=0d=0aBcc:evil@example.org?= Japan" in subject
    assert "= ?utf-8?b?DQpCY2M6IGV2aWwyQGV4YW1wbGUub3Jn?=" in subject
    assert "\r" not in subject
    assert "\n" not in subject


def test_an_encoded_word_in_a_recipient_name_adds_no_header(
    project: Path, clock: FixedClock, smtp: SmtpServer
) -> None:
    configure(project, [{**ANA, "name": f"Ana {PAYLOAD}"}], smtp_port=smtp.port)
    with open_monitor(project, clock) as monitor:
        [result] = monitor.send_due_digests(clock.now())
        assert result.outcome == "sent"
    [received] = smtp.received
    assert_no_injection(received)
    [to] = received.message["To"].addresses
    assert to.display_name == "Ana = ?utf-8?q?=0d=0aBcc:evil@example.org?="


def hostile_message() -> EmailMessage:
    """A message whose header was set without :func:`header_text`: the last line of defence."""
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = "monitor@example.org"
    message["To"] = "ana@example.org"
    message["Subject"] = f"digest {PAYLOAD}"
    message.set_content("hello")
    return message


def test_a_header_that_would_break_into_two_is_never_sent(smtp: SmtpServer) -> None:
    transport = SmtpTransport(
        Smtp(host="127.0.0.1", port=smtp.port, security="none", user="", password="", timeout=10)
    )
    with pytest.raises(HeaderInjection, match="Subject header would break into a new header"):
        transport.deliver(hostile_message(), "monitor@example.org", "ana@example.org")
    assert smtp.received == []


def test_nor_written_to_the_outbox(tmp_path: Path) -> None:
    message = hostile_message()
    message["Message-ID"] = "<digest.20260115.x@example.org>"
    message["Date"] = datetime(2026, 1, 15, tzinfo=UTC)
    with pytest.raises(HeaderInjection):
        OutboxTransport(tmp_path / "outbox").deliver(message, "monitor@example.org", "ana@x.org")
    assert list((tmp_path / "outbox").iterdir()) == []
