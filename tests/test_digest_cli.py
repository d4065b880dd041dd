"""`monitor digest preview | send | status` as a user runs them: real processes."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from .conftest import CATALOGUE
from .smtpserver import SmtpServer
from .test_cli import run

RECIPIENT = """
[digest]
sender = "monitor@example.org"

[[digest.recipients]]
address = "ana@example.org"
name = "Ana"
timezone = "Asia/Tokyo"
send_time = "07:30"
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A project folder on the embedded default (SQLite under data/, no SMTP: the outbox)."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "commitments.toml").write_bytes(CATALOGUE.read_bytes())
    (tmp_path / "config" / "monitor.toml").write_text("", encoding="utf-8")
    return tmp_path


def add_config(workdir: Path, body: str) -> None:
    path = workdir / "config" / "monitor.toml"
    path.write_text(path.read_text(encoding="utf-8") + body, encoding="utf-8")


def test_without_recipients_send_says_what_to_do(workdir: Path) -> None:
    run(workdir, "init")
    failed = run(workdir, "digest", "send", code=1)
    assert "no digest recipients: add a [[digest.recipients]] table" in failed.stderr
    assert "no digest recipients" in run(workdir, "digest", "status").stdout


def test_preview_send_now_and_status_in_outbox_mode(workdir: Path) -> None:
    add_config(workdir, RECIPIENT)
    run(workdir, "init")
    preview = run(workdir, "digest", "preview", "--to", "ana@example.org", "--html", "out.html")
    assert preview.stdout.startswith("Subject: monitor digest ")
    assert "WAITING FOR REVIEW: 0" in preview.stdout
    assert (workdir / "out.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert not (workdir / "data" / "outbox").exists()  # a preview sends nothing

    sent = run(workdir, "digest", "send", "--now", "--to", "ana@example.org")
    found = re.search(r"digest of (\S+) \(manual\) written to (\S+)", sent.stdout)
    assert found, sent.stdout
    today, eml = found.group(1), Path(found.group(2))
    # Ana's day in Tokyo, which may not be the day here.
    assert eml == workdir / "data" / "outbox" / f"{today.replace('-', '')}-ana@example.org.eml"
    assert eml.is_file()
    again = run(workdir, "digest", "send", "--now")
    assert f"the digest of {today} is sent already" in again.stdout
    assert len(list(eml.parent.iterdir())) == 1

    [status] = json.loads(run(workdir, "digest", "status", "--json").stdout)
    assert status["address"] == "ana@example.org"
    assert status["last_sent_day"] == today
    assert status["last_error"] is None
    assert datetime.fromisoformat(status["next_due"]) > datetime.fromisoformat(
        status["last_sent_at"]
    )
    assert status["summary"].startswith("next at ")  # in Ana's zone
    assert "nothing new so far: it will say so" in status["summary"]
    table = run(workdir, "digest", "status").stdout
    assert "ana@example.org" in table
    assert "JST" in table
    assert f"ana@example.org: {status['summary']}" in " ".join(table.split())

    unknown = run(workdir, "digest", "preview", "--to", "nobody@example.org", code=2)
    assert "'nobody@example.org' is not a digest recipient" in unknown.stderr


def test_a_permanent_smtp_failure_exits_1_and_shows_in_status(workdir: Path) -> None:
    with SmtpServer() as smtp:
        add_config(
            workdir,
            RECIPIENT + f'\n[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\n',
        )
        run(workdir, "init")
        smtp.faults.append("550")
        failed = run(workdir, "digest", "send", "--now", code=1)
        assert "failed: 550 5.7.1 Message rejected (not retried" in failed.stderr
        assert smtp.received == []
        [status] = json.loads(run(workdir, "digest", "status", "--json").stdout)
        assert status["last_error"] == "550 5.7.1 Message rejected"
        assert status["last_error_permanent"] is True
        assert "failed for good (550 5.7.1 Message rejected)" in status["summary"]
        # By hand, a failed day may be tried again: now the server takes it.
        retried = run(workdir, "digest", "send", "--now")
        assert "(manual) sent to 127.0.0.1:" in retried.stdout
        assert len(smtp.received) == 1
