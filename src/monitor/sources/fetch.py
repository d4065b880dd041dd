"""Fetching feeds with httpx: conditional, bounded, honest and polite.

Every request carries a clear User-Agent and, when known, If-None-Match / If-Modified-Since.
It is bounded: connect and read timeouts, a deadline for the whole exchange (a server that
drips one byte a second cannot hold a poll), a cap on the bytes received and on the bytes
after decompression (a gzip bomb stops at the cap), and a redirect limit. It is polite: a
global and a per-host concurrency limit; Retry-After and Cache-Control are reported to the
scheduler. It reaches public addresses only, unless ``poll.allow_private_addresses``: every
connection, after every redirect, is checked on the address it is made to
(``sources/connect.py``). Failures are values, never exceptions: the caller records them.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import re
import ssl
import zlib
from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import httpx

from monitor.sources.addresses import HOW_TO_ALLOW
from monitor.sources.connect import RefusedAddress, public_transport
from monitor.sources.disclosure import REFUSED
from monitor.sources.limits import MIB, FetchLimits, FetchResult, Validators
from monitor.version import __version__

USER_AGENT = f"monitor/{__version__} (commitment tracker; +https://pypi.org/project/monitor/)"


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Building one loads the CA bundle (about 15 ms): once per process, not once per round.
    return httpx.create_ssl_context()


class _TooLarge(Exception):
    pass


def parse_retry_after(value: str | None, now: datetime) -> int | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]{1,9}", value):
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, int((when - now).total_seconds()))


_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?([0-9]{1,9})(?![0-9])", re.IGNORECASE)


def parse_max_age(value: str | None) -> int | None:
    """max-age from Cache-Control (no-store/no-cache mean 0)."""
    if not value:
        return None
    if re.search(r"no-store|no-cache", value, re.IGNORECASE):
        return 0
    match = _MAX_AGE.search(value)
    return int(match.group(1)) if match else None


class Fetcher:
    """Fetches many URLs concurrently within the limits. Use as an async context manager.

    ``allow_private_addresses``: also connect to loopback, private and link-local addresses
    (the tests' loopback servers, a feed on the intranet); off, such a target is refused.
    ``trusted_hosts``, narrower: these host names only may resolve to such addresses, and a
    redirect from one of them to any other host is checked as usual.
    """

    def __init__(
        self,
        limits: FetchLimits | None = None,
        *,
        allow_private_addresses: bool = False,
        trusted_hosts: Collection[str] = (),
    ) -> None:
        self.limits = limits or FetchLimits()
        self.allow_private_addresses = allow_private_addresses
        self.trusted_hosts = trusted_hosts
        self._global = asyncio.Semaphore(self.limits.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self.limits.per_host)
        )
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Fetcher:
        timeout = httpx.Timeout(
            connect=self.limits.connect_timeout,
            read=self.limits.read_timeout,
            write=self.limits.read_timeout,
            pool=self.limits.deadline,
        )
        pool = httpx.Limits(
            max_connections=self.limits.concurrency,
            max_keepalive_connections=self.limits.concurrency,
        )
        self._client = httpx.AsyncClient(
            timeout=timeout,
            verify=_ssl_context(),
            follow_redirects=False,
            headers={
                "User-Agent": USER_AGENT,
                "Accept": _ACCEPT,
                # Decoded here, within the caps (see _BoundedDecoder).
                "Accept-Encoding": "gzip, deflate",
            },
            limits=pool,
            trust_env=False,
            transport=None
            if self.allow_private_addresses
            else public_transport(_ssl_context(), pool, self.trusted_hosts),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def fetch(self, url: str, validators: Validators | None = None) -> FetchResult:
        """Fetch ``url``; never raises for network or server trouble, or for a bad URL."""
        assert self._client is not None, "use Fetcher as an async context manager"
        try:
            return await self._follow(url, _sendable(validators or Validators()))
        except Exception as exc:  # a source must never crash a round: its trouble is its health
            return _failed(url, f"{type(exc).__name__}: {_first_line(exc)}")

    async def _follow(self, url: str, validators: Validators) -> FetchResult:
        loop = asyncio.get_running_loop()
        ends_at: float | None = None
        current = url
        for _hop in range(self.limits.max_redirects + 1):
            host = (urlsplit(current).hostname or "").lower()
            # Wait for a slot of this host first, then a global one (a host with many sources
            # must not hold global slots while queueing); the deadline counts from the first
            # request, not from the wait.
            async with self._hosts[host], self._global:
                if ends_at is None:
                    ends_at = loop.time() + self.limits.deadline
                try:
                    async with asyncio.timeout_at(ends_at):
                        result, location = await self._once(url, current, validators)
                except TimeoutError:
                    return _failed(url, f"no complete answer within {self.limits.deadline:g} s")
            if location is None:
                return result
            current = location
        return _failed(url, f"more than {self.limits.max_redirects} redirects")

    async def _once(
        self, url: str, current: str, validators: Validators
    ) -> tuple[FetchResult, str | None]:
        assert self._client is not None
        headers = {}
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        now = datetime.now(UTC)
        try:
            async with self._client.stream("GET", current, headers=headers) as response:
                status = response.status_code
                if status in (301, 302, 303, 307, 308):
                    location = response.headers.get("location")
                    if not location:
                        return _failed(url, f"HTTP {status} without a Location", status), None
                    target = urljoin(current, location)
                    if urlsplit(target).scheme not in ("http", "https"):
                        return _failed(url, f"redirect to a non-HTTP URL {target!r}", status), None
                    return FetchResult(url, "redirect", status), target
                common = {
                    "status": status,
                    "final_url": current,
                    "etag": response.headers.get("etag"),
                    "last_modified": response.headers.get("last-modified"),
                    "max_age": parse_max_age(response.headers.get("cache-control")),
                    "retry_after": parse_retry_after(response.headers.get("retry-after"), now),
                    "content_type": response.headers.get("content-type"),
                }
                if status == 304:
                    return FetchResult(url, "not_modified", **common), None
                if status != 200:
                    reason = response.reason_phrase or ""
                    return FetchResult(
                        url, "failed", error=f"HTTP {status} {reason}".strip(), **common
                    ), None
                body = await self._read(response)
                return FetchResult(url, "ok", body=body, **common), None
        except _TooLarge as exc:
            return _failed(url, str(exc)), None
        except RefusedAddress as exc:
            after = ", after a redirect" if current != url else ""
            return _failed(url, f"{REFUSED} {exc}{after}; {HOW_TO_ALLOW}"), None
        except httpx.ConnectTimeout:
            return _failed(url, "could not connect (timed out)"), None
        except httpx.ReadTimeout:
            return _failed(
                url, f"the server stopped answering for {self.limits.read_timeout:g} s"
            ), None
        except httpx.ConnectError as exc:
            return _failed(url, f"could not connect: {_first_line(exc)}"), None
        except httpx.RemoteProtocolError as exc:
            return _failed(url, f"the connection broke: {_first_line(exc)}"), None
        except httpx.HTTPError as exc:
            return _failed(url, f"{type(exc).__name__}: {_first_line(exc)}"), None

    async def _read(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.limits.max_body:
            raise _TooLarge(f"the body is {int(declared) // MIB} MiB, over the {self._cap()}")
        decoder = _BoundedDecoder(response.headers.get("content-encoding"), self.limits)
        received = 0
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if received > self.limits.max_body:
                raise _TooLarge(f"the body is over the {self._cap()}")
            decoder.feed(chunk)
        return decoder.finish()

    def _cap(self) -> str:
        return f"{self.limits.max_body / MIB:g} MiB cap"


class _BoundedDecoder:
    """Decompresses gzip/deflate without ever producing more than the decoded cap.

    httpx's own decoder inflates a whole received chunk at once, and a few kilobytes of a
    gzip bomb inflate to hundreds of megabytes: here every step is bounded by ``max_length``.
    """

    def __init__(self, encoding: str | None, limits: FetchLimits) -> None:
        self.limit = limits.max_decoded
        self.parts: list[bytes] = []
        self.size = 0
        name = (encoding or "identity").strip().lower()
        if name in ("", "identity"):
            self.inflater = None
        elif name in ("gzip", "x-gzip", "deflate"):
            # 47: accept a gzip or a zlib header; raw deflate is tried if that fails.
            self.inflater = zlib.decompressobj(47)
            self.raw_fallback = name == "deflate"
        else:
            raise _TooLarge(f"the body uses an unsupported Content-Encoding {name!r}")

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise _TooLarge(f"the body decompresses to over {self.limit / MIB:g} MiB")
        self.parts.append(data)

    def feed(self, chunk: bytes) -> None:
        if self.inflater is None:
            self._keep(chunk)
            return
        data = chunk
        while data:
            try:
                out = self.inflater.decompress(data, self.limit - self.size + 1)
            except zlib.error as exc:
                if self.raw_fallback and not self.parts:
                    self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                    self.raw_fallback = False
                    continue
                raise _TooLarge(f"the body could not be decompressed: {exc}") from exc
            self._keep(out)
            data = self.inflater.unconsumed_tail

    def finish(self) -> bytes:
        if self.inflater is not None:
            self._keep(self.inflater.flush())
        return b"".join(self.parts)


_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, "
    "text/xml;q=0.9, */*;q=0.1"
)


def _header_safe(value: str | None) -> str | None:
    # A validator is sent back as a header: only printable ASCII survives that.
    if value and value.isascii() and value.isprintable() and len(value) <= 500:
        return value
    return None


def _sendable(validators: Validators) -> Validators:
    return Validators(_header_safe(validators.etag), _header_safe(validators.last_modified))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def _failed(url: str, error: str, status: int | None = None) -> FetchResult:
    return FetchResult(url, "failed", status=status, error=error)
