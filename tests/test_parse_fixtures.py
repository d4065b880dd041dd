"""Real-world feed quirks, parsed directly and fetched from the loopback FeedServer.

Every ``tests/data/feeds/NAME.xml`` with a ``NAME.expected.json`` is a case. The expectation
is what a correct parser returns for ``parse_feed(body, url=URL, now=NOW).to_json()``; it was
written by hand, then checked against the parser. Where the parser is wrong the case is a
strict xfail (see ``KNOWN_BUGS``), so a fix shows up as an XPASS to be un-marked.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from monitor.sources.fetch import Fetcher, FetchLimits
from monitor.sources.parse import parse_feed

from .feedserver import FeedServer

FEEDS = Path(__file__).resolve().parent / "data" / "feeds"
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
FEED_KEYS = {"format", "title", "problem", "is_feed", "items"}
ITEM_KEYS = {"guid", "link", "title", "summary", "text", "published_at", "outlet", "outlet_url"}
SERVED_FIELDS = ("guid", "title", "summary", "text", "published_at", "outlet", "outlet_url")
UTC_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
# The served copy resolves relative links against the loopback URL: compare their paths only.
BASE_DEPENDENT = {"relative-links"}

# Cases the parser gets wrong: strict xfail, so a fix shows up as an XPASS to be un-marked.
KNOWN_BUGS: dict[str, str] = {}

NAMES = sorted(
    path.stem for path in FEEDS.glob("*.xml") if path.with_suffix(".expected.json").exists()
)


def _url(name: str) -> str:
    if name == "relative-links":
        return "https://www.example.gov/feeds/rel.xml"
    return f"https://www.example.gov/feeds/{name}.xml"


def _expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FEEDS / f"{name}.expected.json").read_text(encoding="utf-8"))
    return data


def _marks(name: str) -> list[pytest.MarkDecorator]:
    if name not in KNOWN_BUGS:
        return []
    return [pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[name])]


DIRECT_CASES = [pytest.param(name, marks=_marks(name), id=name) for name in NAMES]
SERVED_CASES = [
    pytest.param(name, query, marks=_marks(name), id=f"{name}-{label}")
    for name in NAMES
    for label, query in (("plain", ""), ("gzip", "?gzip=1"), ("no-ctype", "?ctype=none"))
]


def _diff(expected: Any, got: Any) -> str:
    lines = difflib.unified_diff(
        json.dumps(expected, ensure_ascii=False, indent=2).splitlines(),
        json.dumps(got, ensure_ascii=False, indent=2).splitlines(),
        "expected",
        "parsed",
        lineterm="",
    )
    return "\n" + "\n".join(lines)


@pytest.fixture(scope="module")
def server() -> Iterator[FeedServer]:
    """One loopback server for the module, serving tests/data/feeds."""
    with FeedServer() as feed_server:
        yield feed_server


def test_fixtures_exist() -> None:
    assert len(NAMES) >= 11, NAMES
    stems = {p.name.removesuffix(".expected.json") for p in FEEDS.glob("*.expected.json")}
    assert stems == set(NAMES), "an expected.json without its feed"


@pytest.mark.parametrize("name", NAMES)
def test_expected_json_shape(name: str) -> None:
    data = _expected(name)
    assert set(data) == FEED_KEYS
    assert isinstance(data["format"], str)
    assert data["format"]
    assert isinstance(data["title"], str)
    assert isinstance(data["problem"], bool)
    assert isinstance(data["is_feed"], bool)
    assert isinstance(data["items"], list)
    assert data["items"]
    for item in data["items"]:
        assert set(item) == ITEM_KEYS, item
        for key in ("title", "summary", "text"):
            assert isinstance(item[key], str)
            assert item[key] == " ".join(item[key].split()), f"{key} is not single-spaced"
        for key in ("guid", "link", "outlet", "outlet_url"):
            assert item[key] is None or (isinstance(item[key], str) and item[key])
        assert item["published_at"] is None or UTC_STAMP.fullmatch(item["published_at"])


@pytest.mark.parametrize("name", DIRECT_CASES)
def test_parse_matches_expected(name: str) -> None:
    body = (FEEDS / f"{name}.xml").read_bytes()
    got = parse_feed(body, url=_url(name), now=NOW).to_json()
    expected = _expected(name)
    assert got == expected, _diff(expected, got)


async def _fetch_and_parse(url: str) -> dict[str, Any]:
    limits = FetchLimits(connect_timeout=2, read_timeout=2, deadline=5)
    async with Fetcher(limits, allow_private_addresses=True) as fetcher:  # a loopback server
        result = await fetcher.fetch(url)
    assert result.outcome == "ok", result.error
    assert result.final_url is not None
    parsed = parse_feed(
        result.body, url=result.final_url, content_type=result.content_type, now=NOW
    )
    return parsed.to_json()


def _comparable(name: str, feed: dict[str, Any]) -> dict[str, Any]:
    items = []
    for item in feed["items"]:
        kept = {key: item[key] for key in SERVED_FIELDS}
        link = item["link"]
        if name in BASE_DEPENDENT and link is not None:
            parts = urlsplit(link)
            link = parts.path + (f"?{parts.query}" if parts.query else "")
        kept["link"] = link
        items.append(kept)
    return {"format": feed["format"], "is_feed": feed["is_feed"], "items": items}


@pytest.mark.parametrize(("name", "query"), SERVED_CASES)
def test_served_feed_matches_expected(server: FeedServer, name: str, query: str) -> None:
    got = asyncio.run(_fetch_and_parse(server.url(f"/feeds/{name}{query}")))
    expected = _comparable(name, _expected(name))
    got = _comparable(name, got)
    assert got == expected, _diff(expected, got)


def test_relative_links_resolve_against_the_feed_url(server: FeedServer) -> None:
    """What relative-links.xml checks besides the known guid bug, so it stays covered."""
    body = (FEEDS / "relative-links.xml").read_bytes()
    direct = parse_feed(body, url=_url("relative-links"), now=NOW).to_json()
    expected = _expected("relative-links")
    assert [i["link"] for i in direct["items"]] == [i["link"] for i in expected["items"]]
    served = asyncio.run(_fetch_and_parse(server.url("/feeds/relative-links")))
    assert [urlsplit(i["link"]).path for i in served["items"]] == [
        urlsplit(i["link"]).path for i in expected["items"]
    ]
    assert urlsplit(served["items"][0]["link"]).netloc == urlsplit(server.base_url).netloc


def test_plain_text_ampersands_are_kept() -> None:
    title = "Search: https://www.example.gov/s?q=chips&amp;region=asia&amp;not=1"
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f'<item><title>{title}</title><guid isPermaLink="false">g</guid></item>'
        "</channel></rss>"
    ).encode()
    parsed = parse_feed(body, url=_url("probe"), now=NOW)
    assert parsed.items[0].title == "Search: https://www.example.gov/s?q=chips&region=asia&not=1"
