"""Helpers of the digest tests: a project configured with recipients and an SMTP server."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from monitor import FixedClock, Monitor, load_settings

from .feedserver import FeedServer
from .test_poll import LIMITS, item, rss, write_sources

#: a feed title made of markup: every digest must show it as text
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)> legacy chips"
ANA = {"address": "ana@example.org", "name": "Ana", "timezone": "Asia/Tokyo", "send_time": "07:30"}
BOB = {
    "address": "bob@example.org",
    "name": "Bob",
    "timezone": "America/New_York",
    "send_time": "08:00",
}


def toml_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def configure(
    project: Path,
    recipients: list[dict[str, Any]],
    *,
    smtp_port: int | None = None,
    digest: dict[str, Any] | None = None,
    smtp: dict[str, Any] | None = None,
) -> Path:
    """Add [digest], [smtp] and the recipients to the project's monitor.toml."""
    path = project / "config" / "monitor.toml"
    body = path.read_text(encoding="utf-8")
    settings = {"sender": "monitor@example.org", **(digest or {})}
    body += "\n[digest]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in settings.items())
    if smtp_port is not None:
        options = {"host": "127.0.0.1", "port": smtp_port, "security": "none", "timeout": 10}
        options |= smtp or {}
        body += "\n[smtp]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in options.items())
    for recipient in recipients:
        body += "\n[[digest.recipients]]\n"
        body += "".join(f"{k} = {toml_value(v)}\n" for k, v in recipient.items())
    path.write_text(body, encoding="utf-8")
    return path


def open_monitor(
    project: Path,
    clock: FixedClock,
    sleeps: list[float] | None = None,
    env: dict[str, str] | None = None,
) -> Monitor:
    """An initialised Monitor on the project; quick retries sleep into ``sleeps``."""
    settings = load_settings(project / "config" / "monitor.toml", env=env or {})
    monitor = Monitor.open(settings, clock)
    monitor.init()
    monitor.digests.sleep = (sleeps if sleeps is not None else []).append
    return monitor


def poll_hostile_feed(monitor: Monitor, feed_server: FeedServer, name: str) -> None:
    """One polled feed: a plain item and one whose title is literally markup."""
    feed_server.set_body(
        name,
        rss(
            item("1", "Legacy chips: Japan and the U.S. agree", link="https://example.org/1"),
            # Escaped twice in the feed, so the item's *text* is the markup itself.
            item(
                "2",
                html.escape(html.escape(HOSTILE)) + ": Japan and the U.S. agree",
                link="https://example.org/2",
            ),
        ),
    )
    write_sources(monitor.settings.base_dir, {name: feed_server.url(f"/feeds/{name}")})
    monitor.sources.sync()
    monitor.sources.poll(monitor.sources.due(), limits=LIMITS)


def parts(message: EmailMessage) -> tuple[str, str]:
    """(text, html) of a digest."""
    text = message.get_body(("plain",))
    markup = message.get_body(("html",))
    assert text is not None
    assert markup is not None
    return str(text.get_content()), str(markup.get_content())


def local(zone: str, *args: int) -> datetime:
    """A wall-clock time in ``zone``, as UTC."""
    from zoneinfo import ZoneInfo

    return datetime(*args, tzinfo=ZoneInfo(zone)).astimezone(UTC)  # type: ignore[misc]
