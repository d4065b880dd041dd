"""What a request must pass before any route reads it, as ASGI middleware.

- ``AllowedHosts``: the Host header names this site (web.allowed_hosts), or 400: a page
  served under a name an attacker controls (DNS rebinding) or links built from a forged
  Host go nowhere.
- ``ForwardedClients``: the client's address is the connection's, unless the connection
  comes from one of web.trusted_proxies; then X-Forwarded-For names it. The login throttle
  counts by this address, so a header anyone may send must not choose it.
- ``Writes``: a write (POST and the like) needs an account before its body is read, except
  the login form itself; and no body beyond MAX_BODY is read, however it is framed: the
  bytes received are counted, whatever Content-Length or Transfer-Encoding claim.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.web.problems import problem
from monitor.web.site import account

#: largest request body accepted (forms and API calls are small)
MAX_BODY = 64 * 1024
#: the methods that change nothing: no account is needed to send them
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: the writes anyone may send: logging in
ANONYMOUS_WRITES = frozenset({"/login"})
#: answered whatever the Host: probes (a load balancer's, Kubernetes') name the address
HOSTLESS_PATHS = frozenset({"/healthz", "/readyz"})

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class _ClientGone(Exception):
    """The client disconnected before its body ended."""


def _refusal(status: int, error: str) -> Response:
    # The body, if any, was not read to its end: the connection cannot carry another request.
    # Problem details, like every other error of the API (web/problems.py).
    return problem(status, error, headers={"Connection": "close"})


class AllowedHosts:
    """Answer only requests whose Host is one of ``hosts`` ("*" allows any)."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = frozenset(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and "*" not in self.hosts
            and scope["path"] not in HOSTLESS_PATHS
            and host_name(Request(scope).headers.get("host", "")) not in self.hosts
        ):
            await _refusal(
                400, "this server does not answer for that host name (web.allowed_hosts)"
            )(scope, receive, send)
            return
        await self.app(scope, receive, send)


def host_name(header: str) -> str:
    """The host of a Host header, lowercase, without its port or an IPv6 address's
    brackets: ``[::1]:8080`` is ``::1``, ``Example.org.:80`` is ``example.org``."""
    host = header.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


class ForwardedClients:
    """Take the client's address from X-Forwarded-For, from trusted proxies only."""

    def __init__(self, app: ASGIApp, proxies: Iterable[str]) -> None:
        self.app = app
        self.proxies = tuple(ipaddress.ip_network(p) for p in proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.proxies and scope.get("client"):
            peer, port = scope["client"]
            client = client_address(
                peer, Request(scope).headers.getlist("x-forwarded-for"), self.proxies
            )
            if client != peer:
                scope = {**scope, "client": (client, port)}
        await self.app(scope, receive, send)


def client_address(peer: str, forwarded_for: list[str], proxies: tuple[Network, ...]) -> str:
    """Who is asking: ``peer`` (the address that connected), unless it is one of
    ``proxies``; then the nearest address in X-Forwarded-For that is not a proxy.

    The header is read from the right, the end the proxies wrote: each trusted proxy
    appends the address it saw, so anything to the left of the first untrusted one is
    the client's own say and proves nothing. A malformed entry stops the walk at the last
    proxy that handed it on.
    """
    client = peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    while _is_proxy(client, proxies) and hops:
        hop = hops.pop()
        try:
            client = ipaddress.ip_address(hop).compressed
        except ValueError:
            break
    return client


def _is_proxy(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


class Writes:
    """No body read for a write without an account (bar logging in); none beyond
    MAX_BODY at all. Runs inside the session middleware (a session is an account)."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        length = request.headers.get("content-length", "")
        chunked = "transfer-encoding" in request.headers
        if length.isdigit() and int(length) > self.max_body:
            await _refusal(413, "request too large")(scope, receive, send)
            return
        if (
            scope["method"] not in SAFE_METHODS
            and scope["path"] not in ANONYMOUS_WRITES
            and await run_in_threadpool(account, request) is None
        ):
            await self._log_in_first(scope)(scope, receive, send)
            return
        if (length.isdigit() and int(length) > 0) or chunked:
            try:
                body = await self._read(receive)
            except _ClientGone:
                return  # nobody is left to answer
            if body is None:
                await _refusal(413, "request too large")(scope, receive, send)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as more than max_body bytes came."""
        parts, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _ClientGone
            part = message.get("body", b"")
            size += len(part)
            if size > self.max_body:
                return None
            parts.append(part)
            if not message.get("more_body", False):
                return b"".join(parts)

    @staticmethod
    def _log_in_first(scope: Scope) -> Response:
        if scope["path"].startswith("/api/"):
            return _refusal(401, "log in first")
        return RedirectResponse("/login", status_code=303, headers={"Connection": "close"})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives ``body`` whole, then whatever the server says next."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
