"""Feed bodies to items, with feedparser: RSS 0.9x/1.0/2.0 and Atom, any encoding.

A malformed feed yields the items that can be read (the problem is kept for the source's
health). Dates become UTC; a date in the future or missing is left out rather than trusted.
Google News titles lose their " - Outlet" suffix, and the outlet comes from ``<source>``.
Everything here is untrusted text: made plain, single-spaced and bounded. Pure: no I/O.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import feedparser

from monitor.sources.text import SUMMARY_LIMIT, TEXT_LIMIT, TITLE_LIMIT, clip, plain_text

# A publisher's clock may run a little ahead; beyond this a date is not believed.
FUTURE_TOLERANCE = timedelta(days=1)
MAX_ITEMS = 1_000
HARMLESS = {"CharacterEncodingOverride", "NonXMLContentType"}
URL_LIMIT = 2_000


@dataclass(frozen=True, slots=True)
class ParsedItem:
    """One entry of a feed, as plain bounded text."""

    guid: str | None
    link: str | None
    title: str
    summary: str
    text: str
    published_at: datetime | None
    outlet: str | None
    outlet_url: str | None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["published_at"] = (
            self.published_at.strftime("%Y-%m-%dT%H:%M:%SZ") if self.published_at else None
        )
        return data


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """What a body held: its format, its items, and what was wrong with it, if anything."""

    format: str
    title: str
    items: tuple[ParsedItem, ...]
    problem: str | None
    is_feed: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "title": self.title,
            "problem": self.problem is not None,
            "is_feed": self.is_feed,
            "items": [item.to_json() for item in self.items],
        }


def _looks_like_html(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:512]


def _date(entry: Mapping[str, Any], now: datetime) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                moment = datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
            return moment if moment <= now + FUTURE_TOLERANCE else None
    return None


def _url(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url.lower().startswith(("http://", "https://")) or len(url) > URL_LIMIT:
        return None
    return url


def _is_html(detail: object) -> bool:
    kind = detail.get("type", "") if isinstance(detail, Mapping) else ""
    return not isinstance(kind, str) or kind != "text/plain"


def _text_of(entry: Mapping[str, Any]) -> tuple[str, str]:
    summary_markup = entry.get("summary") or ""
    summary_html = _is_html(entry.get("summary_detail"))
    contents = [c for c in entry.get("content") or [] if isinstance(c, Mapping)]
    content_markup = " ".join(c.get("value", "") for c in contents)
    content_html = any(_is_html(c) for c in contents)
    if summary_markup:
        summary = plain_text(summary_markup, SUMMARY_LIMIT, html_markup=summary_html)
    else:
        summary = plain_text(content_markup, SUMMARY_LIMIT, html_markup=content_html)
    # The text the matcher reads: the fullest body the feed gave.
    if content_markup:
        text = plain_text(content_markup, TEXT_LIMIT, html_markup=content_html)
    else:
        text = plain_text(summary_markup, TEXT_LIMIT, html_markup=summary_html)
    return summary, text


def _item(entry: Mapping[str, Any], base: str, now: datetime) -> ParsedItem:
    title = plain_text(
        entry.get("title") or "", TITLE_LIMIT, html_markup=_is_html(entry.get("title_detail"))
    )
    source = entry.get("source") or {}
    outlet = plain_text(source.get("title") or "", 200) or None if source else None
    outlet_url = _url(source.get("href")) if source else None
    if outlet and title.endswith(" - " + outlet):
        title = title[: -len(" - " + outlet)].rstrip()
    summary, text = _text_of(entry)
    guid = entry.get("id")
    return ParsedItem(
        guid=clip(" ".join(guid.split()), URL_LIMIT)
        if isinstance(guid, str) and guid.strip()
        else None,
        link=_url(urljoin(base, entry["link"]) if isinstance(entry.get("link"), str) else None),
        title=title,
        summary=summary,
        text=text,
        published_at=_date(entry, now),
        outlet=outlet,
        outlet_url=outlet_url,
    )


def parse_feed(
    body: bytes, *, url: str, content_type: str | None = None, now: datetime
) -> ParsedFeed:
    """Parse one response body fetched from ``url`` (relative links resolve against it)."""
    # No Content-Location: feedparser would resolve guids against the URL we fetched from,
    # and an item's identity must not change when a feed moves. Links are resolved below.
    headers: dict[str, str] = {}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(
        body, response_headers=headers, resolve_relative_uris=True, sanitize_html=False
    )
    entries = parsed.get("entries") or []
    version = parsed.get("version") or ""
    problem = None
    exc = parsed.get("bozo_exception")
    # Content-type and declared-encoding mismatches are everyday and harmless.
    if parsed.get("bozo") and type(exc).__name__ not in HARMLESS:
        problem = clip(f"{type(exc).__name__}: {exc}" if exc else "malformed feed", 300)
    is_feed = bool(entries) or (bool(version) and not _looks_like_html(body))
    if not is_feed:
        if _looks_like_html(body):
            problem = "not a feed: the response is an HTML page"
        else:
            problem = f"not a feed: {problem or 'no RSS or Atom found'}"
    items = tuple(_item(e, url, now) for e in entries[:MAX_ITEMS])
    feed = parsed.get("feed") or {}
    return ParsedFeed(
        format=version or "unknown",
        title=plain_text(
            feed.get("title") or "", TITLE_LIMIT, html_markup=_is_html(feed.get("title_detail"))
        ),
        items=items,
        problem=problem,
        is_feed=is_feed,
    )
