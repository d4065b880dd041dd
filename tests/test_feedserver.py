"""Self-tests for the loopback feed server used by the fetcher tests."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import httpx
import pytest

from tests.feedserver import LAST_MODIFIED, FeedServer, unresponsive_address

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>One</title></channel></rss>'
FEED_2 = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Two</title></channel></rss>'


@pytest.fixture
def server() -> Iterator[FeedServer]:
    """A started server, stopped after the test."""
    with FeedServer() as feed_server:
        yield feed_server


def _etag(body: bytes) -> str:
    return f'"{hashlib.sha1(body).hexdigest()}"'


def test_feed_has_validators_and_answers_304(server: FeedServer) -> None:
    server.set_body("one", FEED)
    first = httpx.get(server.url("/feeds/one"))
    assert first.status_code == 200
    assert first.content == FEED
    assert first.headers["etag"] == _etag(FEED)
    assert first.headers["last-modified"] == LAST_MODIFIED
    assert first.headers["content-type"] == "application/rss+xml"

    again = httpx.get(server.url("/feeds/one"), headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""

    since = httpx.get(server.url("/feeds/one"), headers={"If-Modified-Since": LAST_MODIFIED})
    assert since.status_code == 304


def test_gzip_is_decoded_and_unknown_feed_is_404(server: FeedServer) -> None:
    server.set_body("one", FEED)
    response = httpx.get(server.url("/feeds/one?gzip=1&cache=60"))
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["cache-control"] == "max-age=60"
    assert response.content == FEED
    assert httpx.get(server.url("/feeds/missing")).status_code == 404
    assert httpx.get(server.url("/no/such/route")).status_code == 404


def test_ratelimit_sends_retry_after(server: FeedServer) -> None:
    response = httpx.get(server.url("/ratelimit"))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "120"
    dated = httpx.get(server.url("/ratelimit?retry_after=30&date=1"))
    assert parsedate_to_datetime(dated.headers["retry-after"]).tzinfo is not None
    status = httpx.get(server.url("/status/503?retry_after=7"))
    assert (status.status_code, status.headers["retry-after"]) == (503, "7")


def test_redirect_chain_lands(server: FeedServer) -> None:
    server.set_body("one", FEED)
    response = httpx.get(server.url("/redirect?to=/feeds/one&hops=3"), follow_redirects=True)
    assert response.status_code == 200
    assert response.url.path == "/feeds/one"
    assert len(response.history) == 3
    with pytest.raises(httpx.TooManyRedirects):
        httpx.get(server.url("/redirect-loop"), follow_redirects=True)


def test_set_body_changes_body_and_etag(server: FeedServer) -> None:
    server.set_body("one", FEED)
    old_etag = httpx.get(server.url("/feeds/one")).headers["etag"]
    server.set_body("one", FEED_2)
    response = httpx.get(server.url("/feeds/one"), headers={"If-None-Match": old_etag})
    assert response.status_code == 200
    assert response.content == FEED_2
    assert response.headers["etag"] == _etag(FEED_2) != old_etag


def test_requests_are_recorded(server: FeedServer) -> None:
    server.set_body("one", FEED)
    httpx.get(server.url("/feeds/one?gzip=1"), headers={"User-Agent": "monitor-test"})
    httpx.get(server.url("/status/500"))
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(server.url("/close"))
    assert server.count("/feeds/") == 1
    assert server.count("/") == 3
    first = server.requests[0]
    assert (first.method, first.path, first.query) == ("GET", "/feeds/one", {"gzip": "1"})
    assert first.headers["user-agent"] == "monitor-test"
    assert [r.path for r in server.requests[1:]] == ["/status/500", "/close"]


def test_unresponsive_address_times_out_on_connect() -> None:
    url, sockets = unresponsive_address()
    try:
        with pytest.raises(httpx.ConnectTimeout):
            httpx.get(url, timeout=httpx.Timeout(5, connect=0.3))
    finally:
        sockets.close()


def test_slow_headers_time_out_on_read(server: FeedServer) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(server.url("/slow-headers?seconds=30"), timeout=httpx.Timeout(5, read=0.3))


def test_stop_is_prompt_during_drip() -> None:
    server = FeedServer().start()
    started = threading.Event()
    outcome: list[object] = []

    def read_drip() -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(60)) as client,
                client.stream("GET", server.url("/drip?seconds=60")) as response,
            ):
                for _ in response.iter_bytes():
                    started.set()
            outcome.append("finished")
        except httpx.HTTPError as exc:
            outcome.append(exc)
        finally:
            started.set()

    reader = threading.Thread(target=read_drip, daemon=True)
    reader.start()
    try:
        assert started.wait(10)
    finally:
        server.stop()
    reader.join(10)
    assert not reader.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], httpx.RemoteProtocolError)


def test_head_then_get_on_one_keep_alive_connection(server: FeedServer) -> None:
    server.set_body("one", FEED)
    with httpx.Client() as client:
        head = client.head(server.url("/feeds/one"))
        assert (head.content, head.headers["content-length"]) == (b"", str(len(FEED)))
        assert client.get(server.url("/feeds/one")).content == FEED
