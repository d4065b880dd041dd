"""Connections to public addresses only: the fetcher's guard against a feed that points
the poller at the machine it runs on or at its network (see ``sources/addresses.py``).

The check is made where the connection is made, in httpcore's network backend: the host
is resolved here, every address it resolves to must be public, and the socket is opened
to exactly an address that was checked. Checking a URL's host and letting the HTTP
client resolve it again would leave a gap: a DNS server answering a public address to
the check and 127.0.0.1 to the connection (DNS rebinding). Every hop of a redirect and
every new connection goes through here; TLS still verifies the certificate against the
URL's host name (httpcore takes SNI from the URL, not from the address connected to).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Collection, Iterable

import httpcore
import httpx

from monitor.sources.addresses import IPAddress, not_public, refusal
from monitor.sources.addresses import literal_address as _literal

__all__ = ["PublicOnly", "RefusedAddress", "public_transport"]


class RefusedAddress(Exception):
    """The host resolves to an address the poller may not reach; nothing was connected."""


class PublicOnly(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, resolving and checking each host before connecting.

    ``trusted_hosts``: names connected to as they are, wherever they resolve (an intranet
    feed's own host); a redirect from one to any other host is checked as usual.
    """

    def __init__(
        self,
        inner: httpcore.AsyncNetworkBackend | None = None,
        trusted_hosts: Collection[str] = (),
    ) -> None:
        self.inner = inner or httpcore.AnyIOBackend()
        self.trusted_hosts = frozenset(host.lower() for host in trusted_hosts)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if host.lower() in self.trusted_hosts:
            return await self.inner.connect_tcp(
                host,
                port,
                timeout=timeout,
                local_address=local_address,
                socket_options=socket_options,
            )
        addresses = await _resolve(host, port, timeout)
        for address in addresses:
            # One refused address refuses the host: a name that answers both a public and
            # a private address is a name someone wants the poller to try both of.
            kind = refusal(address)
            if kind is not None:
                raise RefusedAddress(not_public(host, address, kind))
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc  # the next address, as a resolver's client would
        assert failure is not None  # _resolve never returns an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise RefusedAddress(f"a Unix socket ({path}) is not a public address")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


async def _resolve(host: str, port: int, timeout: float | None) -> list[IPAddress]:
    """The host's addresses, as the system resolver answers (numeric forms included)."""
    literal = _literal(host)
    if literal is not None:
        return [literal]  # 127.0.0.1, ::1, 0x7f000001: read as the resolver would, no lookup
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            answers = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(f"looking up {host} timed out") from exc
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise httpcore.ConnectError(f"cannot look up {host}: {reason}") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in answers:
        address = _literal(str(sockaddr[0]))
        if address is None:  # not an internet address at all: refuse, do not guess
            raise RefusedAddress(f"{host} resolves to {sockaddr[0]!r}, not an IP address")
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise httpcore.ConnectError(f"cannot look up {host}: no address")
    return addresses


def public_transport(
    ssl_context: ssl.SSLContext, limits: httpx.Limits, trusted_hosts: Collection[str] = ()
) -> httpx.AsyncHTTPTransport:
    """httpx's own transport (its request and error mapping), on a connection pool whose
    connections go through :class:`PublicOnly`.

    httpx does not take a network backend; its transport keeps the pool it made in
    ``_pool``, which is replaced here by the same pool with the checking backend
    (tests/test_fetch_addresses.py fails if a new httpx stops using it).
    """
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, limits=limits, trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=PublicOnly(trusted_hosts=trusted_hosts),
    )
    return transport
