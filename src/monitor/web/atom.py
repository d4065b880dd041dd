"""The Atom feed of status changes (``/feed/status.atom``), for feed readers.

Its ids and links start with the web UI's configured address (``digest.base_url``), never
with the Host header a request sent: a request cannot make the feed point elsewhere, and
an entry keeps its id whichever address the reader used. Without an address configured,
the links are relative (a reader resolves them against the feed's own URL) and the feed's
id is a fixed URN.

No `from __future__ import annotations` here: FastAPI reads the annotations of the route.
"""

import re
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from fastapi import APIRouter
from fastapi.responses import Response

from monitor.sources.text import visible
from monitor.web.security import require
from monitor.web.site import Viewer, Web

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: object) -> str:
    # what XML cannot carry, and what would reorder or hide text in a feed reader
    return visible(_XML_ILLEGAL.sub("", str(value)))


#: the feed's id when no address is configured (RFC 4287 wants a permanent IRI)
FEED_URN = "urn:uuid:6f0d1c2e-5b0b-4c1e-9a55-2f1e7c3a9d41"


def atom_feed(events: list[Any], base: str) -> bytes:
    """An Atom 1.0 document of status assessments (ElementTree escapes every text);
    ``base``: the web UI's address, or "" for relative links. Valid when empty too: the
    feed has its own author, as RFC 4287 asks of a feed whose entries may have none."""
    ns = "http://www.w3.org/2005/Atom"
    feed = Element("feed", xmlns=ns)
    SubElement(feed, "title").text = "monitor: status changes"
    SubElement(feed, "id").text = f"{base}/feed/status.atom" if base else FEED_URN
    SubElement(feed, "link", href=f"{base}/feed/status.atom", rel="self")
    updated = events[0].recorded_at if events else datetime(2023, 11, 14, tzinfo=UTC)
    SubElement(feed, "updated").text = updated.isoformat()
    SubElement(SubElement(feed, "author"), "name").text = "monitor"
    for event in events:
        data = event.data
        entry = SubElement(feed, "entry")
        verb = "corrected to" if event.event_type == "AssessmentCorrected" else "assessed"
        SubElement(entry, "title").text = _xml_text(
            f"{data['commitment_id']} {verb} {data['status']}"
        )
        SubElement(entry, "id").text = f"urn:uuid:{event.event_id}"
        SubElement(entry, "updated").text = event.recorded_at.isoformat()
        SubElement(entry, "link", href=f"{base}/commitments/{data['commitment_id']}")
        author = SubElement(entry, "author")
        SubElement(author, "name").text = _xml_text(
            data.get("assessor") or data.get("corrected_by") or "monitor"
        )
        SubElement(entry, "summary").text = _xml_text(data.get("rationale", ""))
    document: bytes = tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


router = APIRouter()


@router.get("/feed/status.atom", include_in_schema=False)
def status_feed(web: Web, user: Viewer, token: str | None = None) -> Response:
    """Status changes as Atom; feed readers authenticate with ?token=API_TOKEN."""
    monitor = web.monitor
    # Only feed tokens in a URL: they can read the feed and nothing else.
    reader = user or (monitor.accounts.for_token(token, scope="feed") if token else None)
    require(reader, "viewer")
    changes = monitor.store.read_recent(50, event_type="StatusAssessed")
    corrections = monitor.store.read_recent(50, event_type="AssessmentCorrected")
    entries = sorted([*changes, *corrections], key=lambda e: -e.position)[:50]
    base = monitor.settings.digest.base_url  # configured, checked, without a trailing /
    return Response(atom_feed(entries, base), media_type="application/atom+xml")
