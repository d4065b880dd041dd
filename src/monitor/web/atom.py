"""The Atom feed of status changes (``/feed/status.atom``), for feed readers.

No `from __future__ import annotations` here: FastAPI reads the annotations of the route.
"""

import re
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from fastapi import APIRouter, Request
from fastapi.responses import Response

from monitor.sources.text import visible
from monitor.web.security import require
from monitor.web.site import Viewer, Web

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: object) -> str:
    # what XML cannot carry, and what would reorder or hide text in a feed reader
    return visible(_XML_ILLEGAL.sub("", str(value)))


def atom_feed(events: list[Any], base: str) -> bytes:
    """An Atom 1.0 document of status assessments (ElementTree escapes every text)."""
    ns = "http://www.w3.org/2005/Atom"
    feed = Element("feed", xmlns=ns)
    SubElement(feed, "title").text = "monitor: status changes"
    SubElement(feed, "id").text = f"{base}/feed/status.atom"
    SubElement(feed, "link", href=f"{base}/feed/status.atom", rel="self")
    updated = events[0].recorded_at if events else datetime(2023, 11, 14, tzinfo=UTC)
    SubElement(feed, "updated").text = updated.isoformat()
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
            data.get("assessor") or data.get("corrected_by", "")
        )
        SubElement(entry, "summary").text = _xml_text(data.get("rationale", ""))
    document: bytes = tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


router = APIRouter()


@router.get("/feed/status.atom", include_in_schema=False)
def status_feed(request: Request, web: Web, user: Viewer, token: str | None = None) -> Response:
    """Status changes as Atom; feed readers authenticate with ?token=API_TOKEN."""
    monitor = web.monitor
    # Only feed tokens in a URL: they can read the feed and nothing else.
    reader = user or (monitor.accounts.for_token(token, scope="feed") if token else None)
    require(reader, "viewer")
    changes = monitor.store.read_recent(50, event_type="StatusAssessed")
    corrections = monitor.store.read_recent(50, event_type="AssessmentCorrected")
    entries = sorted([*changes, *corrections], key=lambda e: -e.position)[:50]
    base = str(request.base_url).rstrip("/")
    return Response(atom_feed(entries, base), media_type="application/atom+xml")
