"""Who an item is: layered identity within a source, canonical URLs across sources.

Within one source an item is its guid, else its normalised link, else a hash of its title
and summary. Across sources the same story collapses by canonical URL (scheme and host
lower-cased, default port, fragment and tracking parameters removed, query sorted).
Pure functions: no I/O.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID, uuid5

# Namespace of every deterministic id monitor derives (a fixed, random UUID).
NAMESPACE = UUID("9b0f3c52-8a54-4d2e-9a3e-5f7c1b2d4e61")

TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "hsa_")
TRACKING_PARAMS = {
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "yclid",
    "igshid",
    "_ga",
    "_gl",
    "ref",
    "ref_src",
    "cmpid",
    "cmp",
    "ocid",
    "sr_share",
    "smid",
    "guccounter",
    "mkt_tok",
    "spm",
}


def canonical_url(url: str) -> str | None:
    """The canonical form of an http(s) URL, or None if it is not one."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname.lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    default = {"http": 80, "https": 443}[scheme]
    netloc = host if port in (None, default) else f"{host}:{port}"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(TRACKING_PREFIXES) and k.lower() not in TRACKING_PARAMS
    )
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    # Both schemes name the same story: collapse them.
    return urlunsplit(("https", netloc, path, urlencode(query), ""))


def item_key(guid: str | None, link: str | None, title: str, summary: str) -> str:
    """An item's identity within its source."""
    if guid and guid.strip():
        return "guid:" + guid.strip()
    if link:
        canonical = canonical_url(link)
        if canonical:
            return "link:" + canonical
    digest = hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()[:32]
    return "hash:" + digest


def item_id_for(source: str, key: str, canonical: str | None) -> UUID:
    """A new item's id: from its canonical URL when it has one, so sources collapse."""
    if canonical:
        return uuid5(NAMESPACE, "url:" + canonical)
    return uuid5(NAMESPACE, f"item:{source}\n{key}")


def content_hash(title: str, summary: str, text: str, link: str | None) -> str:
    """What counts as an item's content: a change makes it an edit."""
    return hashlib.sha256(f"{title}\n{summary}\n{text}\n{link or ''}".encode()).hexdigest()


def derived_id(*parts: object) -> UUID:
    """A deterministic id from ``parts`` (the same inputs give the same id, ever)."""
    return uuid5(NAMESPACE, "\n".join(str(p) for p in parts))
