"""Which network addresses a feed may be fetched from: public ones only, unless allowed.

A feed's publisher chooses the URL, its redirects and its DNS answers: without this, it
could make the poller request the cloud's metadata service (169.254.169.254), a database
port on loopback or a router on the LAN, and read the answer back in the source's health.
The fetcher checks every address it is about to connect to (``sources/fetch.py``); this
module says which are refused and why, and checks a URL's host when it is written down
(``monitor sources add``, the sources file, OPML) so a plain mistake is named at once.

Pure: :mod:`ipaddress` and :func:`socket.inet_aton` (a parser, no network), no DNS.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

__all__ = [
    "ALLOW_SETTING",
    "HOW_TO_ALLOW",
    "IPAddress",
    "literal_address",
    "not_public",
    "refusal",
    "refused_url",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: the setting that lets the poller reach private addresses (tests, an intranet feed)
ALLOW_SETTING = "poll.allow_private_addresses"
#: what a refusal tells an admin to do about it
HOW_TO_ALLOW = f"set {ALLOW_SETTING} = true to poll private addresses"

_CARRIER_GRADE_NAT = ipaddress.IPv4Network("100.64.0.0/10")
#: RFC 6052's well-known NAT64 prefix: the last 32 bits are an IPv4 address
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (``::ffff:127.0.0.1``, 6to4, NAT64)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def refusal(address: IPAddress) -> str | None:
    """What kind of non-public address this is (``"loopback"``, ``"link-local"``, ...), or
    None for a public one that a feed may be fetched from."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return refusal(embedded)
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_loopback, "loopback"),
        (address.is_unspecified, "unspecified"),
        (address.is_link_local, "link-local"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CARRIER_GRADE_NAT,
         "carrier-grade NAT"),
        (address.is_multicast, "multicast"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "site-local"),
        (not address.is_global, "non-public"),
    )  # fmt: skip
    return next((kind for refused, kind in checks if refused), None)


def literal_address(host: str) -> IPAddress | None:
    """The address a URL's host names without DNS, in every form a resolver reads as one:
    ``127.0.0.1``, ``::1``, ``[::ffff:127.0.0.1]``, but also ``127.1``, ``2130706433``,
    ``0x7f000001`` and ``017700000001`` (what ``inet_aton`` accepts); None for a name."""
    text = host.strip().strip("[]").rstrip(".")
    text = text.split("%", 1)[0]  # an IPv6 zone (fe80::1%eth0) names an interface
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if not text or not all(c.isalnum() or c == "." for c in text) or not text[0].isdigit():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def refused_url(url: str) -> str | None:
    """Why a URL's host may not be polled (its address, written in the URL, is not public;
    or it is ``localhost``), or None. Names are checked when they are resolved, at every
    fetch: here there is no DNS."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return None  # not a URL at all: the caller's syntax check says so
    name = host.lower().rstrip(".")
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return f"{host} is a loopback name"
    address = literal_address(host)
    if address is None:
        return None
    kind = refusal(address)
    return None if kind is None else not_public(host, address, kind)


def not_public(host: str, address: IPAddress, kind: str) -> str:
    """``169.254.169.254 is not a public address (link-local)``; the address too when the
    host spelt it otherwise (``0x7f000001 is 127.0.0.1``) or is a name that resolved to it."""
    try:
        same = ipaddress.ip_address(host.strip("[]")) == address
    except ValueError:
        same = False  # a name, or a number in a resolver's own spelling
    named = host if same else f"{host} is {address},"
    return f"{named} {'is ' if same else ''}not a public address ({kind})"
