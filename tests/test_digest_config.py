"""Digest and SMTP settings: recipients validated by entry and key; the password only from
the environment; every key documented."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from monitor import ConfigError, load_settings
from monitor.settings import describe

from .conftest import ROOT


def write(tmp_path: Path, body: str) -> Path:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    path = config / "monitor.toml"
    path.write_text(body, encoding="utf-8")
    return path


ANA = """
[[digest.recipients]]
address = "ana@example.org"
name = "Ana"
timezone = "Asia/Tokyo"
send_time = "07:30"
commitments = ["EPCC23-SEMI-03", "ai"]
"""


def test_defaults_write_to_the_outbox_and_send_to_nobody(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), env={})
    digest = settings.digest
    assert digest.recipients == ()
    assert not digest.smtp.configured
    assert digest.outbox == tmp_path.resolve() / "data" / "outbox"
    assert digest.templates == tmp_path.resolve() / "config" / "digest-templates"
    assert (digest.when_empty, digest.stale_days, digest.smtp.port) == ("note", 30, 587)
    assert describe(settings)["digest_delivery"].startswith("outbox ")


def test_shipped_config_is_valid_and_sends_no_mail() -> None:
    settings = load_settings(ROOT / "config" / "monitor.toml", env={})
    assert not settings.digest.smtp.configured
    assert settings.digest.outbox == ROOT / "data" / "outbox"
    # The example recipient: the README's run command writes its digest to the outbox.
    assert [r.address for r in settings.digest.recipients] == ["analyst@example.org"]


def test_recipients_are_read_with_their_zone_time_and_scope(tmp_path: Path) -> None:
    body = ANA + '\n[[digest.recipients]]\naddress = "bob@example.org"\n'
    [ana, bob] = load_settings(write(tmp_path, body), env={}).digest.recipients
    assert (ana.address, ana.name, ana.timezone.key, ana.send_time) == (
        "ana@example.org",
        "Ana",
        "Asia/Tokyo",
        time(7, 30),
    )
    assert ana.commitments == ("EPCC23-SEMI-03", "ai")
    assert (bob.timezone.key, bob.send_time, bob.everything) == ("UTC", time(8, 0), True)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('address = "ana@example.org"\ntimezone = "Tokyo"', "digest.recipients[1].timezone"),
        ('address = "ana@example.org"\nsend_time = "7:30"', "digest.recipients[1].send_time"),
        ('address = "ana@example.org"\nsend_time = "24:00"', "digest.recipients[1].send_time"),
        ('address = "Ana <ana@example.org>"', "digest.recipients[1].address"),
        ('address = "ana@example.org\\r\\nBcc: x@y.z"', "digest.recipients[1].address"),
        ('address = "bob@example.org"', "digest.recipients[1].address: bob@example.org is"),
        ('address = "ana@example.org"\ncommitments = []', "digest.recipients[1].commitments"),
        ('address = "ana@example.org"\ncommitments = "some"', "digest.recipients[1].commitments"),
        ('address = "ana@example.org"\nname = "A\\nB"', "digest.recipients[1].name"),
        ('address = "ana@example.org"\ncolour = "red"', "digest.recipients[1].colour"),
    ],
)
def test_a_bad_recipient_is_named_by_entry_and_key(
    tmp_path: Path, entry: str, message: str
) -> None:
    body = '[[digest.recipients]]\naddress = "bob@example.org"\n\n[[digest.recipients]]\n' + entry
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings(write(tmp_path, body + "\n"), env={})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[smtp]\npassword = "hunter2"\n', "smtp.password is never read from a file"),
        ('[smtp]\nsecurity = "ssl"\n', "smtp.security"),
        ("[smtp]\nport = 70000\n", "smtp.port"),
        ('[digest]\nwhen_empty = "maybe"\n', "digest.when_empty"),
        ('[digest]\nsender = "monitor"\n', "digest.sender"),
        ("[digest]\nstale_days = 0\n", "digest.stale_days"),
        ('[digest]\nbase_url = "javascript:alert(1)"\n', "digest.base_url"),
        ('[digest]\nunsubscribe = "ftp://x"\n', "digest.unsubscribe"),
        ('[digest]\nrecipients = "ana@example.org"\n', "digest.recipients: must be an array"),
        (
            '[smtp]\nhost = "smtp.example.org"\nsecurity = "none"\nuser = "monitor"\n',
            "smtp.user: a login needs smtp.security = starttls or tls",
        ),
    ],
)
def test_bad_digest_settings_are_named(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, body), env={})


def test_smtp_comes_from_file_and_environment_and_the_password_only_from_the_environment(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, '[smtp]\nhost = "smtp.example.org"\nsecurity = "tls"\nuser = "mon"\n')
    env = {"MONITOR_SMTP_PASSWORD": "s3cret", "MONITOR_SMTP_PORT": "2465"}
    settings = load_settings(path, env=env)
    smtp = settings.digest.smtp
    assert (smtp.host, smtp.port, smtp.security, smtp.user, smtp.password) == (
        "smtp.example.org",
        2465,
        "tls",
        "mon",
        "s3cret",
    )
    # Neither `monitor config` nor a repr() in a log shows it.
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in str(describe(settings))
    assert describe(settings)["digest_delivery"] == (
        "smtp smtp.example.org:2465 (tls) as mon [password from the environment]"
    )
    assert load_settings(path, env={"MONITOR_SMTP_HOST": ""}).digest.smtp.configured is False


def test_a_plain_login_is_allowed_only_to_a_relay_on_this_machine(tmp_path: Path) -> None:
    body = '[smtp]\nhost = "localhost"\nsecurity = "none"\nuser = "monitor"\n'
    assert load_settings(write(tmp_path, body), env={}).digest.smtp.user == "monitor"


def test_every_digest_key_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert "MONITOR_SMTP_PASSWORD" in doc
    assert "[[digest.recipients]]" in doc
    for key in ("address", "name", "timezone", "send_time", "commitments"):
        assert f"\n{key} = " in doc, key
    digest_doc = (ROOT / "docs" / "digest.md").read_text(encoding="utf-8")
    for name in ("subject.txt", "body.txt", "body.html"):
        assert name in digest_doc
        assert (ROOT / "src" / "monitor" / "digest" / "templates" / name).is_file()
