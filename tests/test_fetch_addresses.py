"""The poller reaches public addresses only (unless poll.allow_private_addresses).

A feed's publisher chooses the URL, its redirects and its DNS answers: none of them may
make the poller connect to loopback, the LAN or the cloud's metadata service. The feed
server of these tests is on 127.0.0.1, itself such an address: a fetch of it is refused
with the default settings, and the server never sees the request. A redirect is checked
with a first hop the fetcher is told to trust (``localhost``, a host name), so that the
hop after it is the one under test: the redirector answers with any absolute Location.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from monitor import CatalogueError, CommandRejected, FixedClock, Monitor, load_settings
from monitor.shapes import source_json
from monitor.sources.config import parse_opml, parse_sources
from monitor.sources.fetch import Fetcher
from monitor.sources.limits import FetchLimits, FetchResult

from .conftest import CATALOGUE, NOW
from .feedserver import FeedServer
from .test_poll import LIMITS, item, rss

FAST = FetchLimits(connect_timeout=2, read_timeout=2, deadline=5)

#: a host written as a non-public address in every form a resolver reads as one
TRICKS = [
    "127.0.0.1",
    "0x7f000001",
    "2130706433",
    "017700000001",
    "127.1",
    "[::ffff:127.0.0.1]",
    "[::1]",
    "0.0.0.0",
    "localhost",
]
#: non-public addresses nothing listens on here: refused before any connection is tried
ELSEWHERE = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00::1]/feed",
    "http://100.64.0.1/feed",
    "http://10.0.0.7:5432/",
    "http://192.168.1.1/",
    "http://[fe80::1]/",
    "http://224.0.0.1/",
]


def port_of(server: FeedServer) -> int:
    return int(urlsplit(server.base_url).port or 0)


def fetch(url: str, **options: object) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(FAST, **options) as fetcher:  # type: ignore[arg-type]
            return await fetcher.fetch(url)

    return asyncio.run(go())


def assert_refused(result: FetchResult, what: str) -> None:
    assert result.outcome == "failed", result
    assert result.error is not None
    assert result.error.startswith(f"refused: {what}"), result.error
    assert "set poll.allow_private_addresses = true" in result.error


@pytest.mark.parametrize("host", TRICKS)
def test_a_loopback_host_in_any_spelling_is_refused_and_never_reached(
    feed_server: FeedServer, host: str
) -> None:
    name = f"trick{abs(hash(host))}"
    feed_server.set_body(name, rss(item("1", "one")))
    url = f"http://{host}:{port_of(feed_server)}/feeds/{name}"
    assert_refused(fetch(url), "")
    assert feed_server.count(f"/feeds/{name}") == 0
    if ":" not in host:  # the server listens on IPv4: allowed, the same URL is read
        assert fetch(url, allow_private_addresses=True).outcome == "ok"
        assert feed_server.count(f"/feeds/{name}") == 1


@pytest.mark.parametrize("url", ELSEWHERE)
def test_private_link_local_and_carrier_grade_nat_targets_are_refused(url: str) -> None:
    host = urlsplit(url).hostname
    assert_refused(fetch(url), f"{host} is not a public address")


class Redirector(ThreadingHTTPServer):
    """A publisher's server on 127.0.0.1 that redirects to wherever ``?to=`` says."""

    daemon_threads = True

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target = parse_qs(urlsplit(self.path).query)["to"][0]
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def via(self, target: str) -> str:
        """A URL of this server, named ``localhost``, that redirects to ``target``."""
        return f"http://localhost:{self.server_address[1]}/go?to={quote(target, safe='')}"


@pytest.fixture(scope="module")
def redirector() -> Iterator[Redirector]:
    server = Redirector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("target", "refused"),
    [
        ("http://127.0.0.1:{port}/feeds/{name}", "127.0.0.1 is not a public address (loopback)"),
        ("http://0x7f000001:{port}/feeds/{name}", "0x7f000001 is 127.0.0.1, not a public"),
        ("http://[::ffff:127.0.0.1]:{port}/feeds/{name}", "::ffff:127.0.0.1 is not a public"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is not a public address"),
    ],
)
def test_a_redirect_to_an_internal_address_is_refused_after_the_first_hop(
    feed_server: FeedServer, redirector: Redirector, target: str, refused: str
) -> None:
    name = f"hop{abs(hash(target))}"
    feed_server.set_body(name, rss(item("1", "one")))
    trusted = {"trusted_hosts": {"localhost"}}
    # The redirect itself works: to the same feed server by its trusted name, it is read.
    followed = fetch(
        redirector.via(f"http://localhost:{port_of(feed_server)}/feeds/{name}"), **trusted
    )
    assert followed.outcome == "ok", followed.error
    assert feed_server.count(f"/feeds/{name}") == 1
    # To an internal address: refused after the redirect, and nothing reaches it.
    result = fetch(redirector.via(target.format(port=port_of(feed_server), name=name)), **trusted)
    assert_refused(result, refused)
    assert "after a redirect" in (result.error or "")
    assert feed_server.count(f"/feeds/{name}") == 1


def test_a_poll_with_the_default_settings_refuses_the_loopback_feed(
    project: Path, feed_server: FeedServer
) -> None:
    name = "loopback-feed"
    feed_server.set_body(name, rss(item("1", "Legacy chips: Japan and the U.S. agree")))
    url = feed_server.url(f"/feeds/{name}?api_key=s3cret")
    allowed = load_settings(project / "config" / "monitor.toml", env={})
    assert allowed.allow_private_addresses  # the test projects allow loopback
    with Monitor.open(allowed, FixedClock(NOW)) as monitor:
        monitor.init()
        monitor.sources.add(url, name)
    with Monitor.open(replace(allowed, allow_private_addresses=False), FixedClock(NOW)) as strict:
        report = strict.sources.poll(strict.sources.due(), limits=LIMITS)
        source = strict.sources.get(name)
    assert [n for n, _ in report.failures] == [name]
    assert feed_server.count(f"/feeds/{name}") == 0
    assert (source.last_error or "").startswith(
        "refused: 127.0.0.1 is not a public address (loopback); set poll.allow_private_addresses"
    )
    shown = source_json(source, detail=False)
    assert (shown["url"], shown["last_error"]) == ("http://127.0.0.1/…", "refused: private address")


@pytest.mark.parametrize("host", [*TRICKS, "169.254.169.254", "[fd00::1]", "100.64.0.1"])
def test_sources_add_refuses_an_internal_url_in_one_line(project: Path, host: str) -> None:
    settings = replace(
        load_settings(project / "config" / "monitor.toml", env={}), allow_private_addresses=False
    )
    with Monitor.open(settings) as monitor:
        monitor.init()
        with pytest.raises(CommandRejected) as refused:
            monitor.sources.add(f"http://{host}/latest/meta-data", "meta")
        assert monitor.sources.all() == []
    message = str(refused.value)
    assert message.startswith("source refused: url: ")
    assert "not a public address" in message or "is a loopback name" in message
    assert message.endswith("set poll.allow_private_addresses = true to poll private addresses")
    assert "\n" not in message


def test_the_sources_file_and_opml_refuse_internal_urls_unless_allowed() -> None:
    entry = '[[source]]\nname = "meta"\nurl = "http://169.254.169.254/latest"\n'
    with pytest.raises(CatalogueError) as refused:
        parse_sources(entry, "sources.toml")
    assert refused.value.problems == [
        "sources.toml: source #1 (meta): field 'url': 169.254.169.254 is not a public address "
        "(link-local); set poll.allow_private_addresses = true to poll private addresses"
    ]
    assert [s.name for s in parse_sources(entry, "sources.toml", allow_private=True)] == ["meta"]
    opml = b'<opml><body><outline title="meta" xmlUrl="http://[::1]:8080/feed"/></body></opml>'
    refused: list[str] = []
    assert parse_opml(opml, refused=refused) == []
    assert refused == [
        "meta: ::1 is not a public address (loopback); "
        "set poll.allow_private_addresses = true to poll private addresses"
    ]
    assert [s.name for s in parse_opml(opml, allow_private=True)] == ["meta"]


def cli(
    folder: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=folder, env=clean | (env or {}), capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def test_monitor_sources_add_exits_2_with_the_way_out(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "commitments.toml").write_bytes(CATALOGUE.read_bytes())
    (tmp_path / "config" / "monitor.toml").write_text('[display]\ntimezone = "UTC"\n')
    assert cli(tmp_path, "init").returncode == 0
    refused = cli(tmp_path, "sources", "add", "http://169.254.169.254/latest", "--name", "meta")
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip().splitlines() == [
        "error: source refused: url: 169.254.169.254 is not a public address (link-local); "
        "set poll.allow_private_addresses = true to poll private addresses"
    ]
    tricky = cli(tmp_path, "sources", "add", "http://0x7f000001/", "--name", "loop")
    assert tricky.returncode == 2
    assert "0x7f000001 is 127.0.0.1, not a public address (loopback)" in tricky.stderr
    # The way out, from the environment: the same command goes through.
    allowed = cli(
        tmp_path, "sources", "add", "http://169.254.169.254/latest", "--name", "meta",
        env={"MONITOR_ALLOW_PRIVATE_ADDRESSES": "true"},
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr
    assert "added meta" in allowed.stdout
