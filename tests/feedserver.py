"""A real HTTP feed server on 127.0.0.1 for exercising feed fetchers without mocks.

``FeedServer`` runs a standard-library ``ThreadingHTTPServer`` (HTTP/1.1, daemon threads) on a
random free loopback port in a background thread. Besides serving feeds with validators
(ETag, Last-Modified, 304s), it reproduces the failure modes a fetcher meets in the wild:
error statuses, rate limiting, slow and dripping responses, oversized bodies, gzip bombs,
redirect loops, HTML challenge pages, entity expansion, odd encodings and dropped
connections. Every slow endpoint waits on a ``threading.Event`` so ``stop()`` is prompt, and
``stop()`` also shuts down every open connection, so idle keep-alive connections and blocked
writes end too. Nothing here ever contacts a non-loopback address.

Routes (``GET``; ``HEAD`` answers the same headers without a body):

- ``/feeds/NAME``: ``feeds_dir/NAME.xml`` or a ``set_body`` override, with a strong ETag and a
  fixed Last-Modified; 304 on a matching If-None-Match (or, when that header is absent, an
  If-Modified-Since equal to Last-Modified). Query: ``ctype=...`` (``none`` omits the header),
  ``gzip=1``, ``cache=SECONDS``, ``noetag=1``.
- ``/status/CODE[?retry_after=N]``, ``/ratelimit[?retry_after=N&date=1]``.
- ``/slow-headers?seconds=S``, ``/drip?seconds=S``, ``/huge?mib=N[&length=1]``,
  ``/gzip-bomb?mib=N``.
- ``/redirect-loop``, ``/redirect?to=PATH&hops=K``.
- ``/html``, ``/html-as-rss``, ``/billion-laughs``, ``/latin1``, ``/shift-jis``, ``/empty``,
  ``/not-xml``, ``/close``; anything else is 404.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import re
import select
import socket
import socketserver
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = [
    "LAST_MODIFIED",
    "LATIN1_TITLE",
    "SHIFT_JIS_TITLE",
    "FeedServer",
    "RecordedRequest",
    "SocketGroup",
    "unresponsive_address",
]

HOST = "127.0.0.1"
MIB = 1024 * 1024
CHUNK = 64 * 1024
DRIP_INTERVAL = 0.2
STOP_JOIN_SECONDS = 5.0
DEFAULT_FEEDS_DIR = Path(__file__).resolve().parent / "data" / "feeds"
DEFAULT_CONTENT_TYPE = "application/rss+xml; charset=utf-8"
LAST_MODIFIED = "Wed, 15 Nov 2023 00:00:00 GMT"
_FEED_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")

# "Déclaration conjointe à São Paulo – café" without the characters Latin-1 lacks (the dash).
LATIN1_TITLE = " ".join(
    "".join(c for c in "Déclaration conjointe à São Paulo – café" if ord(c) < 256).split()
)
SHIFT_JIS_TITLE = "経済版「2+2」（日米経済政策協議委員会）"

RSS_PREFIX = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<rss version="2.0"><channel><title>Test feed</title>'
    b"<link>http://127.0.0.1/</link><description>test</description>\n"
)
RSS_SUFFIX = b"</channel></rss>\n"

HTML_PAGE = (
    b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    b"<title>Just a moment...</title></head>\n"
    b"<body><h1>Checking your browser before accessing the site.</h1>"
    b"<p>Please enable JavaScript and cookies to continue.</p></body></html>\n"
)


def _billion_laughs() -> bytes:
    """The classic exponential entity-expansion document, dressed as RSS."""
    lines = ['<?xml version="1.0"?>', "<!DOCTYPE rss [", '  <!ENTITY lol "lol">']
    previous = "lol"
    for level in range(1, 10):
        name = f"lol{level}"
        lines.append(f'  <!ENTITY {name} "{f"&{previous};" * 10}">')
        previous = name
    lines += [
        "]>",
        '<rss version="2.0"><channel><title>Laughs</title>',
        "<link>http://127.0.0.1/</link><description>&lol9;</description>",
        "<item><title>&lol9;</title></item>",
        "</channel></rss>",
        "",
    ]
    return "\n".join(lines).encode("ascii")


def _rss(title: str, item_title: str, declaration: str) -> str:
    """A one-item RSS 2.0 document (as text) after the given XML declaration."""
    return (
        f"{declaration}"
        '<rss version="2.0"><channel>\n'
        f"<title>{title}</title><link>http://127.0.0.1/</link><description>test</description>\n"
        f"<item><title>{item_title}</title><link>http://127.0.0.1/item/1</link>"
        "<guid>item-1</guid><pubDate>Wed, 15 Nov 2023 00:00:00 GMT</pubDate></item>\n"
        "</channel></rss>\n"
    )


BILLION_LAUGHS = _billion_laughs()
LATIN1_FEED = _rss("Latin-1 feed", LATIN1_TITLE, '<?xml version="1.0"?>\n').encode("iso-8859-1")
SHIFT_JIS_FEED = _rss(
    "Shift_JIS feed", SHIFT_JIS_TITLE, '<?xml version="1.0" encoding="Shift_JIS"?>\n'
).encode("shift_jis")


@functools.cache
def _gzip_bomb(size: int) -> bytes:
    """A gzip stream that inflates to ``size`` bytes: an RSS prefix, then spaces.

    Built incrementally from a repeated 1 MiB block, so the inflated data is never held whole.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    prefix = RSS_PREFIX[:size]
    parts = [compressor.compress(prefix)]
    block = memoryview(b" " * MIB)
    remaining = size - len(prefix)
    while remaining > 0:
        step = min(MIB, remaining)
        parts.append(compressor.compress(block[:step]))
        remaining -= step
    parts.append(compressor.flush())
    return b"".join(parts)


def _huge_block() -> bytes:
    """64 KiB of RSS-looking item elements (cut to size) for the streamed huge body."""
    item = b"<item><title>filler</title><description>padding padding</description></item>\n"
    return (item * (CHUNK // len(item) + 1))[:CHUNK]


HUGE_BLOCK = _huge_block()


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it: path without query, last value per query key."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


class _BadRequest(Exception):
    """A malformed query parameter: answered with 400."""


class _Aborted(Exception):
    """The server is stopping or the client went away: drop the connection silently."""


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks its connections and threads so it can stop promptly."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 64

    def __init__(self, owner: FeedServer) -> None:
        self.owner = owner
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        self.handler_threads: list[threading.Thread] = []
        super().__init__((HOST, 0), _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup (getfqdn): stay fast and loopback-only."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve each connection in a tracked daemon thread."""
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"feedserver-{client_address[1]}",
            daemon=True,
        )
        with self.lock:
            self.handler_threads = [t for t in self.handler_threads if t.is_alive()]
            self.handler_threads.append(thread)
            self.connections.add(request)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection before closing it (see ``close_connections``)."""
        with self.lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open connection, waking threads blocked reading or writing."""
        with self.lock:
            for conn in self.connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Keep stderr quiet; remember unexpected (non-network) exceptions for debugging."""
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, OSError):
            self.owner.errors.append(error)


class _Handler(BaseHTTPRequestHandler):
    """Routes requests; every request is recorded before it is answered."""

    protocol_version = "HTTP/1.1"
    server_version = "FeedServer/1.0"
    sys_version = ""
    timeout = 30.0
    server: _Server
    _query: dict[str, str]

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing."""

    # -- entry points ------------------------------------------------------------------

    def do_GET(self) -> None:
        """Answer a GET."""
        self._dispatch()

    def do_HEAD(self) -> None:
        """Answer a HEAD: the GET headers, no body."""
        self._dispatch()

    def _other(self) -> None:
        """Any other method: recorded, then 405 (a body of up to 1 MiB is read and dropped)."""
        parts = urlsplit(self.path)
        self._record(parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)))
        length = self.headers.get("Content-Length", "0").strip()
        if "Transfer-Encoding" in self.headers or not length.isdigit() or int(length) > MIB:
            self.close_connection = True
        else:
            self.rfile.read(int(length))
        self._send(405, b"method not allowed\n", "text/plain; charset=utf-8", Allow="GET, HEAD")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other

    # -- plumbing -------------------------------------------------------------------------

    @property
    def _head(self) -> bool:
        """HEAD: headers only. (One handler instance serves every request on a connection.)"""
        return self.command == "HEAD"

    @property
    def _stopping(self) -> threading.Event:
        return self.server.owner.stopping

    def _record(self, path: str, query: dict[str, str]) -> None:
        headers: dict[str, str] = {}
        for key, value in self.headers.items():
            key = key.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        self.server.owner.record(RecordedRequest(self.command, path, query, headers))

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self._query = query
        self._record(path, query)
        try:
            self._route(path)
        except _BadRequest as exc:
            self._send(400, f"bad request: {exc}\n".encode(), "text/plain; charset=utf-8")
        except (_Aborted, OSError):
            self.close_connection = True

    def _route(self, path: str) -> None:
        simple: dict[str, tuple[bytes, str | None]] = {
            "/html": (HTML_PAGE, "text/html; charset=utf-8"),
            "/html-as-rss": (HTML_PAGE, "application/rss+xml"),
            "/billion-laughs": (BILLION_LAUGHS, "application/xml"),
            "/latin1": (LATIN1_FEED, "application/rss+xml"),
            "/shift-jis": (SHIFT_JIS_FEED, "application/rss+xml"),
            "/empty": (b"", "application/rss+xml"),
            "/not-xml": (b"this is not a feed at all", "application/rss+xml"),
        }
        handlers = {
            "/ratelimit": self._ratelimit,
            "/slow-headers": self._slow_headers,
            "/drip": self._drip,
            "/huge": self._huge,
            "/gzip-bomb": self._gzip_bomb,
            "/redirect-loop": self._redirect_loop,
            "/redirect": self._redirect,
            "/close": self._close,
        }
        if path in simple:
            body, content_type = simple[path]
            self._send(200, body, content_type)
        elif path in handlers:
            handlers[path]()
        elif path.startswith("/feeds/"):
            self._feed(path.removeprefix("/feeds/"))
        elif path.startswith("/status/"):
            self._status(path.removeprefix("/status/"))
        else:
            self._not_found()

    def _number(self, key: str, default: float) -> float:
        raw = self._query.get(key)
        if raw is None or raw == "":
            return default
        try:
            value = float(raw)
        except ValueError:
            raise _BadRequest(f"{key}={raw!r} is not a number") from None
        if value < 0 or value != value or value == float("inf"):
            raise _BadRequest(f"{key}={raw!r} is out of range")
        return value

    def _flag(self, key: str) -> bool:
        return self._query.get(key, "").lower() in {"1", "true", "yes", "on"}

    def _start(self, status: int, content_type: str | None, **headers: str) -> None:
        """Send the status line and headers (names use ``_`` for ``-``)."""
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()

    def _send(self, status: int, body: bytes, content_type: str | None, **headers: str) -> None:
        """A complete response with Content-Length (no body for HEAD)."""
        self._start(status, content_type, Content_Length=str(len(body)), **headers)
        if not self._head:
            self.wfile.write(body)

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def _not_found(self) -> None:
        self._send(404, b"not found\n", "text/plain; charset=utf-8")

    # -- routes ---------------------------------------------------------------------------

    def _feed(self, name: str) -> None:
        body, content_type = self._feed_body(name)
        if body is None:
            self._not_found()
            return
        ctype = self._query.get("ctype")
        if ctype is not None:
            content_type = None if ctype.lower() == "none" else ctype
        headers: dict[str, str] = {}
        if not self._flag("noetag"):
            headers["ETag"] = f'"{hashlib.sha1(body).hexdigest()}"'
            headers["Last_Modified"] = LAST_MODIFIED
        if "cache" in self._query:
            headers["Cache_Control"] = f"max-age={int(self._number('cache', 0))}"
        if self._not_modified(headers.get("ETag")):
            self._start(304, None, **headers)
            return
        if self._flag("gzip"):
            body = gzip.compress(body, mtime=0)
            headers["Content_Encoding"] = "gzip"
            headers["Vary"] = "Accept-Encoding"
        self._send(200, body, content_type, **headers)

    def _feed_body(self, name: str) -> tuple[bytes | None, str | None]:
        override = self.server.owner.override(name)
        if override is not None:
            return override
        if not _FEED_NAME.fullmatch(name):
            return None, None
        try:
            return (self.server.owner.feeds_dir / f"{name}.xml").read_bytes(), DEFAULT_CONTENT_TYPE
        except OSError:
            return None, None

    def _not_modified(self, etag: str | None) -> bool:
        """RFC 9110: If-None-Match (weak comparison) decides; else an exact If-Modified-Since."""
        if etag is None:
            return False
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return "*" in tags or etag in tags
        return self.headers.get("If-Modified-Since", "").strip() == LAST_MODIFIED

    def _status(self, raw: str) -> None:
        if not raw.isdigit() or not 200 <= int(raw) <= 599:
            self._not_found()
            return
        code = int(raw)
        headers: dict[str, str] = {}
        if "retry_after" in self._query:
            headers["Retry_After"] = str(int(self._number("retry_after", 0)))
        if code in {204, 304}:
            self._start(code, None, **headers)
            return
        phrase = self.responses.get(code, ("Status",))[0]
        self._send(code, f"{code} {phrase}\n".encode(), "text/plain; charset=utf-8", **headers)

    def _ratelimit(self) -> None:
        seconds = int(self._number("retry_after", 120))
        retry_after = str(seconds)
        if self._flag("date"):
            retry_after = formatdate(time.time() + seconds, usegmt=True)
        body = b"429 Too Many Requests\n"
        self._send(429, body, "text/plain; charset=utf-8", Retry_After=retry_after)

    def _slow_headers(self) -> None:
        if self._stopping.wait(self._number("seconds", 10)):
            raise _Aborted
        self._send(200, RSS_PREFIX + RSS_SUFFIX, DEFAULT_CONTENT_TYPE)

    def _drip(self) -> None:
        deadline = time.monotonic() + self._number("seconds", 30)
        self._start(200, DEFAULT_CONTENT_TYPE, Transfer_Encoding="chunked")
        if self._head:
            return
        self._chunk(RSS_PREFIX)
        count = 0
        while (left := deadline - time.monotonic()) > 0:
            if self._stopping.wait(min(DRIP_INTERVAL, left)):
                raise _Aborted
            count += 1
            self._chunk(f"<item><title>drip {count}</title></item>\n".encode())
        self._chunk(RSS_SUFFIX)
        self._end_chunks()

    def _huge(self) -> None:
        size = int(self._number("mib", 100) * MIB)
        if self._flag("length"):
            self._start(200, "application/rss+xml", Content_Length=str(size))
        else:
            self._start(200, "application/rss+xml", Transfer_Encoding="chunked")
        if self._head:
            return
        first = (RSS_PREFIX + HUGE_BLOCK)[:CHUNK]
        sent = 0
        while sent < size:
            if self._stopping.is_set():
                raise _Aborted
            piece = (first if sent == 0 else HUGE_BLOCK)[: size - sent]
            if self._flag("length"):
                self.wfile.write(piece)
            else:
                self._chunk(piece)
            sent += len(piece)
        if not self._flag("length"):
            self._end_chunks()

    def _gzip_bomb(self) -> None:
        body = _gzip_bomb(int(self._number("mib", 200) * MIB))
        self._send(200, body, "application/rss+xml", Content_Encoding="gzip")

    def _redirect_loop(self) -> None:
        n = int(self._number("n", 0))
        self._send(302, b"", None, Location=f"/redirect-loop?n={n + 1}")

    def _redirect(self) -> None:
        target = self._query.get("to", "/")
        if not target.startswith("/") or target.startswith("//") or "\\" in target:
            raise _BadRequest("to must be a local path")
        hops = max(1, int(self._number("hops", 1)))
        location = (
            target if hops == 1 else "/redirect?" + urlencode({"to": target, "hops": hops - 1})
        )
        self._send(302, b"", None, Location=location)

    def _close(self) -> None:
        raise _Aborted


class FeedServer:
    """A loopback HTTP server of feeds and failure modes, run in a background thread.

    Use as ``with FeedServer() as server: httpx.get(server.url("/feeds/example"))``.
    """

    def __init__(self, feeds_dir: Path | None = None) -> None:
        """Serve ``feeds_dir/NAME.xml`` at ``/feeds/NAME`` (default: tests/data/feeds)."""
        self.feeds_dir = feeds_dir if feeds_dir is not None else DEFAULT_FEEDS_DIR
        self.requests: list[RecordedRequest] = []
        #: called with each request as it arrives, before it is answered (tests kill a
        #: client at a chosen request this way, without sleeping)
        self.on_request: Callable[[RecordedRequest], None] | None = None
        self.errors: list[BaseException] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._bodies: dict[str, tuple[bytes, str]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> FeedServer:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread; returns self."""
        if self._server is not None or self.stopping.is_set():
            raise RuntimeError("a FeedServer can be started only once")
        # Build the 200 MiB bomb the tests ask for now: made on the first request, it took
        # longer than a client's short read timeout on a busy machine.
        _gzip_bomb(200 * MIB)
        server = _Server(self)
        self._base_url = f"http://{HOST}:{server.server_port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="feedserver",
        )
        self._server = server
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake every slow endpoint, close every connection and join threads.

        Idempotent. Raises RuntimeError if a handler thread is still alive after 5 s.
        """
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(STOP_JOIN_SECONDS)
        deadline = time.monotonic() + STOP_JOIN_SECONDS
        with server.lock:
            threads = list(server.handler_threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:
            raise RuntimeError(f"FeedServer handler threads did not stop: {stuck}")

    def __enter__(self) -> FeedServer:
        """Start the server."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    # -- addresses ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (available once started)."""
        if self._base_url is None:
            raise RuntimeError("FeedServer is not started")
        return self._base_url

    def url(self, path: str) -> str:
        """``base_url`` + ``path`` (a leading ``/`` is added if missing)."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # -- content and recording ------------------------------------------------------------

    def set_body(self, name: str, body: bytes, content_type: str = "application/rss+xml") -> None:
        """Serve ``body`` at ``/feeds/NAME`` from now on, overriding any file of that name."""
        with self._lock:
            self._bodies[name] = (bytes(body), content_type)

    def override(self, name: str) -> tuple[bytes, str] | None:
        """The ``set_body`` body and content type for ``name``, if any."""
        with self._lock:
            return self._bodies.get(name)

    def record(self, request: RecordedRequest) -> None:
        """Append a request to ``requests`` (thread-safe), then call the ``on_request`` hook."""
        with self._lock:
            self.requests.append(request)
            hook = self.on_request
        if hook is not None:
            hook(request)

    def count(self, path_prefix: str) -> int:
        """How many recorded requests have a path starting with ``path_prefix``."""
        with self._lock:
            return sum(1 for r in self.requests if r.path.startswith(path_prefix))


class SocketGroup:
    """Sockets kept open together; ``close()`` closes them all."""

    def __init__(self, sockets: list[socket.socket]) -> None:
        """Own ``sockets``."""
        self.sockets = sockets

    def close(self) -> None:
        """Close every socket (idempotent)."""
        for sock in self.sockets:
            sock.close()

    def __enter__(self) -> SocketGroup:
        """Return self."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close every socket."""
        self.close()


def unresponsive_address() -> tuple[str, SocketGroup]:
    """A ``http://127.0.0.1:PORT`` URL whose TCP connect never completes, and its sockets.

    A listener with backlog 0 never accepts; filler connections occupy its accept queue, so
    the kernel drops further SYNs and a client's connect hangs until its own timeout. The
    caller must ``close()`` the returned group.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    group = SocketGroup([listener])
    try:
        listener.bind((HOST, 0))
        listener.listen(0)
        address = listener.getsockname()
        for _ in range(32):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            group.sockets.append(filler)
            filler.setblocking(False)
            filler.connect_ex(address)
            _, writable, _ = select.select([], [filler], [], 0.1)
            if not writable:  # this connect hangs: the accept queue is full
                return f"http://{HOST}:{address[1]}", group
        raise RuntimeError("could not fill the accept queue of a loopback listener")
    except BaseException:
        group.close()
        raise
