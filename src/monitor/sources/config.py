"""The sources file (config/sources.toml) and OPML: parse, validate, plan the sync.

Pure: the core reads the files and appends the planned events.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

import httpx
from defusedxml import ElementTree as SafeElementTree
from pydantic import ValidationError

from monitor.errors import CatalogueError, MonitorError
from monitor.events import (
    DomainEvent,
    FieldChange,
    MatchRules,
    SourceRegistered,
    SourceRemoved,
    SourceRevised,
)
from monitor.sources import queries
from monitor.sources.addresses import HOW_TO_ALLOW, refused_url

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
ENTRY_KEYS = {"name", "url", "kind", "interval", "language", "note", "search"}
SEARCH_KEYS = {"engine", "commitment", "rule", "site", "window"}
COMPARED = ("url", "kind", "interval_seconds", "language", "note")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
MIN_INTERVAL = 5 * 60
MAX_INTERVAL = 7 * 86_400


def parse_interval(text: str) -> int:
    """``30m`` -> 1800 seconds; between 5 minutes and 7 days."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if not match:
        raise ValueError(f"{text!r} is not an interval: use a number and s, m, h or d (30m)")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise ValueError(f"{text!r} is outside 5m..7d")
    return seconds


def usable_url(url: str) -> bool:
    """An http(s) URL that httpx can request (a valid host, no stray characters)."""
    if not url.startswith(("http://", "https://")):
        return False
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        return False
    return bool(parsed.host)


def private_target(url: str, allow_private: bool) -> str | None:
    """Why a source's URL may not be polled, said once, with the way out: its host is
    written as a non-public address (``127.1``, ``[::1]``, ``169.254.169.254``) or is
    ``localhost``, and ``poll.allow_private_addresses`` is off. None when it may be.
    Host names are checked at every fetch, on the addresses they resolve to."""
    if allow_private:
        return None
    reason = refused_url(url)
    return None if reason is None else f"{reason}; {HOW_TO_ALLOW}"


def format_interval(seconds: int) -> str:
    """1800 -> ``30m``."""
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def parse_sources(
    text: str,
    filename: str,
    rules_of: Callable[[str], MatchRules | None] | None = None,
    *,
    allow_private: bool = False,
) -> list[SourceRegistered]:
    """Validate the whole sources file; raise listing every problem by entry and field.

    An entry with ``search = { engine, commitment, rule? }`` instead of a ``url`` is a news
    search built from that commitment's match rules (``rules_of`` gives them; without it,
    such entries are checked for form only and left out). A URL written as a non-public
    address is a problem unless ``allow_private`` (poll.allow_private_addresses).
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError([f"{filename}: not valid TOML: {exc}"]) from exc
    entries = raw.get("source", [])
    problems: list[str] = []
    if not isinstance(entries, list):
        raise CatalogueError([f"{filename}: [[source]] must be a list of tables"])
    seen: dict[str, int] = {}
    sources = []
    for index, entry in enumerate(entries, start=1):
        label = f"{filename}: source #{index}"
        if not isinstance(entry, dict):
            problems.append(f"{label}: must be a table")
            continue
        name = entry.get("name")
        if isinstance(name, str):
            label += f" ({name})"
            if not NAME_PATTERN.match(name):
                problems.append(f"{label}: field 'name': use lowercase letters, digits, hyphens")
            elif name in seen:
                problems.append(f"{label}: field 'name': duplicate of source #{seen[name]}")
            seen.setdefault(name, index)
        for key in sorted(set(entry) - ENTRY_KEYS):
            problems.append(f"{label}: unknown field {key!r}")
        try:
            interval = parse_interval(str(entry.get("interval", "1h")))
        except ValueError as exc:
            problems.append(f"{label}: field 'interval': {exc}")
            continue
        payload = {k: v for k, v in entry.items() if k in ENTRY_KEYS - {"interval", "search"}}
        if "search" in entry:
            url = _search_url(entry, label, problems, rules_of)
            if url is None:
                continue
            payload = {"kind": "news-search", **payload, "url": url}
        try:
            spec = SourceRegistered.model_validate(
                {"kind": "feed", **payload, "interval_seconds": interval, "origin": "config"}
            )
        except ValidationError as exc:
            for error in exc.errors():
                field = ".".join(str(p) for p in error["loc"])
                problems.append(f"{label}: field {field!r}: {error['msg']}")
            continue
        if not usable_url(spec.url):
            problems.append(f"{label}: field 'url': must be an http(s) URL with a valid host")
            continue
        private = private_target(spec.url, allow_private)
        if private:
            problems.append(f"{label}: field 'url': {private}")
            continue
        sources.append(spec)
    if problems:
        raise CatalogueError(problems)
    return sources


def _search_url(
    entry: Mapping[str, Any],
    label: str,
    problems: list[str],
    rules_of: Callable[[str], MatchRules | None] | None,
) -> str | None:
    spec = entry["search"]
    if "url" in entry:
        problems.append(f"{label}: give 'url' or 'search', not both")
        return None
    if not isinstance(spec, dict) or not {"engine", "commitment"} <= set(spec):
        problems.append(f"{label}: field 'search': a table with engine and commitment")
        return None
    for key in sorted(set(spec) - SEARCH_KEYS):
        problems.append(f"{label}: field 'search': unknown field {key!r}")
    if entry.get("kind", "news-search") != "news-search":
        problems.append(f"{label}: field 'kind': a search is kind = \"news-search\"")
    search = queries.Search(
        engine=str(spec["engine"]),
        commitment=str(spec["commitment"]),
        rule=str(spec["rule"]) if "rule" in spec else None,
        site=str(spec["site"]) if "site" in spec else None,
        window=str(spec.get("window", "7d")),
    )
    if search.engine not in queries.ENGINES:
        problems.append(f"{label}: field 'search.engine': one of {', '.join(queries.ENGINES)}")
        return None
    if rules_of is None:
        return None
    rules = rules_of(search.commitment)
    if rules is None:
        problems.append(
            f"{label}: field 'search.commitment': no commitment {search.commitment!r} "
            "in the catalogue"
        )
        return None
    try:
        return queries.search_url(rules, search, str(entry.get("language", "en")))
    except queries.QueryError as exc:
        problems.append(f"{label}: field 'search': {exc}")
        return None


@dataclass(frozen=True, slots=True)
class KnownSource:
    """What the store says about a source (for planning a sync)."""

    spec: SourceRegistered
    removed: bool
    version: int


def plan_source_sync(
    wanted: list[SourceRegistered], known: Mapping[str, KnownSource]
) -> dict[str, list[DomainEvent]]:
    """Events that bring the file's sources into the store; CLI/OPML sources are left alone."""
    plan: dict[str, list[DomainEvent]] = {}
    names = set()
    for spec in wanted:
        names.add(spec.name)
        current = known.get(spec.name)
        if current is None or current.removed:
            plan[spec.name] = [spec]
            continue
        before = current.spec.model_dump(mode="json")
        after = spec.model_dump(mode="json")
        changes = {
            k: FieldChange(old=before[k], new=after[k]) for k in COMPARED if before[k] != after[k]
        }
        if changes:
            plan[spec.name] = [
                SourceRevised(
                    name=spec.name,
                    changes=changes,
                    reason="sources file changed: " + ", ".join(sorted(changes)),
                )
            ]
    for name, current in known.items():
        if name not in names and current.spec.origin == "config" and not current.removed:
            plan[name] = [SourceRemoved(name=name, reason="removed from the sources file")]
    return plan


# -- OPML -------------------------------------------------------------------------------------


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60] or "feed"


def parse_opml(
    body: bytes,
    default_interval: int = 3600,
    refused: list[str] | None = None,
    *,
    allow_private: bool = False,
) -> list[SourceRegistered]:
    """Feeds of an OPML file (nested outlines too), with unique names made from their titles;
    each feed outline that cannot be a source is named in ``refused``, with why (a URL
    written as a non-public address too, unless ``allow_private``)."""
    try:
        root = SafeElementTree.fromstring(body)
    except Exception as exc:  # defusedxml raises several types; all mean "not usable OPML"
        raise MonitorError(f"not a usable OPML file: {exc}") from exc
    sources: list[SourceRegistered] = []
    names: set[str] = set()
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or "").strip()
        label = outline.get("title") or outline.get("text") or url
        if not usable_url(url):
            if url and refused is not None:  # an outline without xmlUrl is a folder
                refused.append(f"{label[:80]}: not an http(s) URL with a valid host")
            continue
        private = private_target(url, allow_private)
        if private:
            if refused is not None:
                refused.append(f"{label[:80]}: {private}")
            continue
        base = _slug(outline.get("title") or outline.get("text") or url)
        name, n = base, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.add(name)
        kind = (
            "news-search"
            if any(host in url for host in ("news.google.com", "api.gdeltproject.org"))
            else "feed"
        )
        try:
            sources.append(
                SourceRegistered(
                    name=name,
                    url=url,
                    kind=kind,
                    interval_seconds=default_interval,
                    origin="opml",
                )
            )
        except ValidationError as exc:
            raise MonitorError(f"outline {name!r}: {exc.errors()[0]['msg']}") from exc
    return sources


def render_opml(sources: list[dict[str, Any]]) -> bytes:
    """An OPML 2.0 document listing ``sources`` (name, url, kind, interval_seconds)."""
    opml = Element("opml", version="2.0")
    head = SubElement(opml, "head")
    SubElement(head, "title").text = "monitor sources"
    body = SubElement(opml, "body")
    for source in sources:
        SubElement(
            body,
            "outline",
            type="rss",
            text=source["name"],
            title=source["name"],
            xmlUrl=source["url"],
        )
    document: bytes = tostring(opml, encoding="utf-8", xml_declaration=True)
    return document
