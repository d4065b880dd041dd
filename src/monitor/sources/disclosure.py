"""What a source's health tells whom: admins the whole story, viewers what they need.

A failed check's error text names hosts, addresses and ports (``could not connect:
[Errno 111] Connection refused`` from 10.0.0.7:5432), and a source's URL may carry an API
key in its query. Shown to every viewer, the first maps the network behind the poller
port by port, the second leaks the key. Viewers get the kind of failure
(:func:`error_class`) and the URL's scheme and host (:func:`short_url`); admins, the
command line included, get the recorded text and the full URL.

Pure: the classes are read from the texts the fetcher, the parser and the poller record.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["REFUSED", "error_class", "short_url"]

#: how the error of a refused target begins (``refused: 10.0.0.7 is not a public ...``)
REFUSED = "refused:"

#: (the start of a recorded error, its class), first match wins
_CLASSES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), name)
    for pattern, name in (
        (re.escape(REFUSED), "refused: private address"),
        (r"could not connect \(timed out\)|no complete answer within|"
         r"the server stopped answering", "timed out"),
        (r"could not connect", "could not connect"),
        (r"the connection broke", "connection broke"),
        (r"more than \d+ redirects", "too many redirects"),
        (r"redirect to a non-HTTP URL", "bad redirect"),
        (r"the body is|the body decompresses", "too large"),
        (r"the body could not be decompressed|the body uses an unsupported", "bad encoding"),
        (r"not a feed", "not a feed"),
        (r"could not record this check", "not recorded"),
    )
)  # fmt: skip
_HTTP = re.compile(r"HTTP (\d{3})\b")


def error_class(error: str | None, *, failed: bool = True) -> str | None:
    """The kind of failure an error text records (``"HTTP 404"``, ``"timed out"``,
    ``"refused: private address"``), free of hosts, addresses and server words; None for
    no error. ``failed`` False: the feed was read, with a problem (a malformed feed)."""
    if not error:
        return None
    status = _HTTP.match(error)
    if status:
        return f"HTTP {status.group(1)}"
    for pattern, name in _CLASSES:
        if pattern.match(error):
            return name
    return "failed" if failed else "malformed feed"


def short_url(url: str) -> str:
    """``https://example.org/…``: where a source is, without the path and query that may
    carry a key (or the port and credentials an internal URL would show)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "…"
    if not parts.scheme or not host:
        return "…"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}/…"
