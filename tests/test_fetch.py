"""Fetching against a real loopback server: every failure is a clear value, never a crash."""

from __future__ import annotations

import asyncio
import tracemalloc
from datetime import UTC, datetime

import pytest

from monitor.sources.fetch import (
    USER_AGENT,
    Fetcher,
    FetchLimits,
    FetchResult,
    Validators,
    parse_max_age,
    parse_retry_after,
)
from monitor.sources.parse import parse_feed

from .feedserver import LATIN1_TITLE, SHIFT_JIS_TITLE, FeedServer, unresponsive_address

FAST = FetchLimits(
    connect_timeout=0.5,
    read_timeout=0.5,
    deadline=2.0,
    max_body=1024 * 1024,
    max_decoded=1024 * 1024,
)
RSS = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>
<item><title>One</title><link>https://example.org/1</link><guid>1</guid></item>
</channel></rss>"""


def fetch(
    url: str, validators: Validators | None = None, limits: FetchLimits = FAST
) -> FetchResult:
    async def go() -> FetchResult:
        # the feed server is on loopback: allowed here, refused by default
        async with Fetcher(limits, allow_private_addresses=True) as fetcher:
            return await fetcher.fetch(url, validators)

    return asyncio.run(go())


def test_a_feed_then_a_conditional_refetch(feed_server: FeedServer) -> None:
    feed_server.set_body("fetch-basic", RSS)
    first = fetch(feed_server.url("/feeds/fetch-basic"))
    assert (first.outcome, first.status, first.body) == ("ok", 200, RSS)
    assert first.etag
    again = fetch(
        feed_server.url("/feeds/fetch-basic"), Validators(first.etag, first.last_modified)
    )
    assert (again.outcome, again.status, again.body) == ("not_modified", 304, b"")
    recorded = [r for r in feed_server.requests if r.path == "/feeds/fetch-basic"]
    assert recorded[-1].headers["if-none-match"] == first.etag
    assert recorded[-1].headers["user-agent"] == USER_AGENT


def test_gzip_redirects_and_cache_control(feed_server: FeedServer) -> None:
    feed_server.set_body("fetch-gz", RSS)
    assert fetch(feed_server.url("/feeds/fetch-gz?gzip=1")).body == RSS
    hops = fetch(feed_server.url("/redirect?to=/feeds/fetch-gz&hops=3"))
    assert hops.outcome == "ok"
    assert hops.final_url == feed_server.url("/feeds/fetch-gz")
    assert fetch(feed_server.url("/feeds/fetch-gz?cache=7200")).max_age == 7200


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/status/404", "HTTP 404"),
        ("/status/500", "HTTP 500"),
        ("/slow-headers?seconds=30", "stopped answering"),
        ("/drip?seconds=30", "no complete answer within 2 s"),
        ("/huge?mib=3", "over the 1 MiB cap"),
        ("/huge?mib=3&length=1", "over the 1 MiB cap"),
        ("/gzip-bomb?mib=200", "decompresses to over 1 MiB"),
        ("/redirect-loop", "more than 5 redirects"),
        ("/close", "the connection broke"),
    ],
)
def test_failures_are_values_with_a_reason(feed_server: FeedServer, path: str, error: str) -> None:
    tracemalloc.start()
    try:
        result = fetch(feed_server.url(path))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.outcome == "failed"
    assert error in (result.error or "")
    assert peak < 16 * 1024 * 1024  # the caps hold: nothing near the 200 MiB bomb in memory


def test_rate_limits_report_retry_after(feed_server: FeedServer) -> None:
    result = fetch(feed_server.url("/ratelimit?retry_after=120"))
    assert (result.outcome, result.status, result.retry_after) == ("failed", 429, 120)
    dated = fetch(feed_server.url("/ratelimit?retry_after=600&date=1"))
    assert dated.retry_after is not None
    assert 500 <= dated.retry_after <= 600


def test_connect_timeout() -> None:
    url, sockets = unresponsive_address()
    try:
        result = fetch(url + "/feed")
    finally:
        sockets.close()
    assert result.outcome == "failed"
    assert "could not connect" in (result.error or "")


def test_connection_refused() -> None:
    result = fetch("http://127.0.0.1:9/feed")
    assert result.outcome == "failed"
    assert "could not connect" in (result.error or "")


NOW = datetime(2026, 1, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/html", "not a feed: the response is an HTML page"),
        ("/html-as-rss", "not a feed: the response is an HTML page"),
        ("/empty", "not a feed"),
        ("/not-xml", "not a feed"),
    ],
)
def test_bodies_that_are_not_feeds(feed_server: FeedServer, path: str, problem: str) -> None:
    result = fetch(feed_server.url(path))
    parsed = parse_feed(result.body, url=result.final_url or "", now=NOW)
    assert not parsed.is_feed
    assert parsed.problem is not None
    assert parsed.problem.startswith(problem)


def test_entity_expansion_is_not_a_memory_bomb(feed_server: FeedServer) -> None:
    result = fetch(feed_server.url("/billion-laughs"))
    tracemalloc.start()
    try:
        parsed = parse_feed(result.body, url="https://example.org/", now=NOW)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024
    assert all(len(item.title) <= 500 for item in parsed.items)


@pytest.mark.parametrize(
    ("path", "title"), [("/latin1", LATIN1_TITLE), ("/shift-jis", SHIFT_JIS_TITLE)]
)
def test_undeclared_and_legacy_encodings(feed_server: FeedServer, path: str, title: str) -> None:
    result = fetch(feed_server.url(path))
    parsed = parse_feed(
        result.body, url=result.final_url or "", content_type=result.content_type, now=NOW
    )
    assert [item.title for item in parsed.items] == [title]


def test_header_parsing() -> None:
    now = datetime(2026, 1, 15, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Thu, 15 Jan 2026 00:02:00 GMT", now) == 120
    assert parse_retry_after("soon", now) is None
    assert parse_max_age("public, max-age=600") == 600
    assert parse_max_age("no-store") == 0
    assert parse_max_age(None) is None
