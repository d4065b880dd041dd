"""Who sees what of a source: viewers the kind of failure and ``scheme://host/…``, admins the
recorded error and the full URL (which may carry an API key), on /sources and /api/sources.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from monitor import FixedClock, Monitor
from monitor.application.accounts import Accounts
from monitor.sources.disclosure import error_class, short_url
from monitor.web import create_app

from .conftest import NOW
from .feedserver import FeedServer
from .smtpserver import free_port
from .test_poll import LIMITS, item, rss
from .webserver import PASSWORD, LiveServer

SECRET = "s3cret-api-key"


@pytest.fixture
def site(monitor: Monitor, feed_server: FeedServer) -> Iterator[tuple[Monitor, httpx.Client, int]]:
    """Two failing sources with a key in their URLs: one on a closed port of this machine,
    one the poller refused (polled with the default settings)."""
    monitor.accounts = Accounts(monitor, PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    for user, role in {"vera": "viewer", "rita": "reviewer", "adam": "admin"}.items():
        monitor.accounts.add(user, role, PASSWORD)
    closed = free_port()
    monitor.sources.add(f"http://127.0.0.1:{closed}/feed.xml?api_key={SECRET}", "internal")
    monitor.sources.poll(monitor.sources.due(), limits=LIMITS)
    feed_server.set_body("disclosed", rss(item("1", "one")))
    monitor.sources.add(feed_server.url(f"/feeds/disclosed?key={SECRET}"), "refused")
    strict = replace(monitor.settings, allow_private_addresses=False)
    with Monitor.open(strict, FixedClock(NOW)) as other:
        other.sources.poll(other.sources.due(names=["refused"]), limits=LIMITS)
    with (
        LiveServer(create_app(monitor, secret_key="test-key")) as server,
        httpx.Client(base_url=server.url(""), follow_redirects=False) as client,
    ):
        yield monitor, client, closed


def login(client: httpx.Client, name: str) -> None:
    page = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    answer = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf[1]})
    assert answer.status_code == 303


def by_name(rows: Any) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in rows}


@pytest.mark.parametrize("who", ["vera", "rita"])
def test_viewers_see_the_kind_of_failure_and_the_host_only(site, who: str) -> None:  # type: ignore[no-untyped-def]
    monitor, client, closed = site
    token = monitor.accounts.create_token(who, "script")
    rows = by_name(client.get("/api/sources", headers={"Authorization": f"Bearer {token}"}).json())
    assert rows["internal"]["url"] == "http://127.0.0.1/…"
    assert rows["internal"]["last_error"] == "could not connect"
    assert rows["refused"]["last_error"] == "refused: private address"
    assert rows["refused"]["last_error_class"] == "refused: private address"
    login(client, who)
    page = client.get("/sources").text
    for text in (
        client.get("/api/sources", headers={"Authorization": f"Bearer {token}"}).text,
        page,
    ):
        assert SECRET not in text
        assert str(closed) not in text  # the port it tried
        assert "not a public address" not in text
        assert "allow_private_addresses" not in text
    assert "http://127.0.0.1/…" in page
    assert "could not connect" in page
    assert "refused: private address" in page


def test_admins_see_the_recorded_error_and_the_full_url(site) -> None:  # type: ignore[no-untyped-def]
    monitor, client, closed = site
    token = monitor.accounts.create_token("adam", "script")
    rows = by_name(client.get("/api/sources", headers={"Authorization": f"Bearer {token}"}).json())
    internal, refused = rows["internal"], rows["refused"]
    assert internal["url"] == f"http://127.0.0.1:{closed}/feed.xml?api_key={SECRET}"
    assert internal["last_error"].startswith("could not connect: ")
    assert internal["last_error_class"] == "could not connect"
    assert refused["last_error"].startswith("refused: 127.0.0.1 is not a public address")
    login(client, "adam")
    page = client.get("/sources").text
    assert f"http://127.0.0.1:{closed}/feed.xml?api_key={SECRET}" in page
    assert "refused: 127.0.0.1 is not a public address (loopback)" in page


@pytest.mark.parametrize(
    ("error", "failed", "kind"),
    [
        ("could not connect: [Errno 111] Connection refused", True, "could not connect"),
        ("could not connect (timed out)", True, "timed out"),
        ("no complete answer within 60 s", True, "timed out"),
        ("the server stopped answering for 30 s", True, "timed out"),
        ("HTTP 404 Not Found", True, "HTTP 404"),
        ("HTTP 301 without a Location", True, "HTTP 301"),
        ("more than 5 redirects", True, "too many redirects"),
        ("the body is 12 MiB, over the 10 MiB cap", True, "too large"),
        ("the body decompresses to over 10 MiB", True, "too large"),
        ("the body uses an unsupported Content-Encoding 'br'", True, "bad encoding"),
        ("not a feed: the response is an HTML page", True, "not a feed"),
        ("the connection broke: peer closed connection", True, "connection broke"),
        ("refused: 10.0.0.7 is not a public address (private); set ...", True,
         "refused: private address"),
        ("ConnectError: [Errno -2] Name or service not known at 10.1.2.3:8443", True, "failed"),
        ("SAXParseException: mismatched tag at 10.1.2.3", False, "malformed feed"),
        (None, False, None),
    ],
)  # fmt: skip
def test_every_recorded_error_has_a_class_free_of_hosts(
    error: str | None, failed: bool, kind: str | None
) -> None:
    assert error_class(error, failed=failed) == kind


@pytest.mark.parametrize(
    ("url", "short"),
    [
        ("https://api.example.org/v2/feed?key=s3cret", "https://api.example.org/…"),
        ("http://user:pw@10.0.0.7:8080/x", "http://10.0.0.7/…"),
        ("http://[fd00::1]:8080/feed", "http://[fd00::1]/…"),
        ("not a url", "…"),
    ],
)
def test_viewers_get_a_url_without_path_query_port_or_credentials(url: str, short: str) -> None:
    assert short_url(url) == short
