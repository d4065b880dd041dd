"""The digests page of the web UI: every role reads it; a permanent failure shows there."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from argon2 import PasswordHasher

from monitor import FixedClock
from monitor.application.accounts import Accounts
from monitor.web import create_app

from .digestkit import ANA, BOB, configure, open_monitor
from .smtpserver import SmtpServer
from .webserver import PASSWORD, LiveServer


def login(client: httpx.Client, name: str) -> None:
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token
    response = client.post(
        "/login", data={"name": name, "password": PASSWORD, "csrf": token.group(1)}
    )
    assert response.status_code == 303


def test_digests_page_shows_last_sent_next_due_and_the_last_error(
    project: Path, clock: FixedClock
) -> None:
    with SmtpServer() as smtp:
        configure(project, [ANA, {**BOB, "send_time": "06:00"}], smtp_port=smtp.port)
        with open_monitor(project, clock) as monitor:
            smtp.faults.append("550-rcpt")  # Ana's is refused, Bob's arrives
            outcomes = [r.outcome for r in monitor.send_due_digests(clock.now())]
            assert outcomes == ["failed", "sent"]
            monitor.accounts = Accounts(
                monitor, PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
            )
            monitor.accounts.add("vera", "viewer", PASSWORD)
            with (
                LiveServer(create_app(monitor, secret_key="test-key")) as server,
                httpx.Client(base_url=server.url(""), follow_redirects=False) as client,
            ):
                anonymous = client.get("/digests")
                assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/login")
                login(client, "vera")
                page = client.get("/digests")
    assert page.status_code == 200
    assert '<a href="/digests">Digests</a>' in page.text
    rows = re.findall(r"<tr>\s*<td>(.*?)</tr>", page.text, re.DOTALL)
    ana, bob = rows
    assert "Ana &lt;ana@example.org&gt;" in ana
    assert "never" in ana
    assert "2026-01-15: recipient refused: 550" in ana
    assert "permanent: not retried" in ana
    # Next due in Ana's zone: 07:30 the next morning in Tokyo.
    assert "2026-01-16 07:30 JST" in ana
    assert "2026-01-15 07:00 EST" in bob  # sent at 12:00 UTC, shown in New York time
    assert "2026-01-16 06:00 EST" in bob
    assert "<strong>" not in bob
    # what is waiting, in words: Ana's failure, Bob's next digest
    assert "the digest of 2026-01-15 failed for good (recipient refused: 550" in ana
    assert "next at 2026-01-16 06:00" in bob
