"""The real web app served by uvicorn in a thread, on a free loopback port, for tests."""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Any

import uvicorn

from monitor.web.server import server_config

PASSWORD = "correct horse battery staple"


def seed_review_site(
    monitor: Any, feed_server: Any, name: str, second_title: str, users: dict[str, str]
) -> None:
    """Accounts (cheap Argon2 parameters, tests only) and one polled feed of two items:
    a plain one and ``second_title`` (already escaped as it should stand in the feed)."""
    from argon2 import PasswordHasher

    from monitor.application.accounts import Accounts

    from .test_poll import LIMITS, item, rss, write_sources

    monitor.accounts = Accounts(monitor, PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    for user, role in users.items():
        monitor.accounts.add(user, role, PASSWORD)
    feed_server.set_body(
        name,
        rss(
            item("1", "Legacy chips: Japan and the U.S. agree", link="https://example.org/1"),
            item("2", second_title, link="https://example.org/2"),
        ),
    )
    write_sources(monitor.settings.base_dir, {name: feed_server.url(f"/feeds/{name}")})
    monitor.sources.sync()
    monitor.sources.poll(monitor.sources.due(), limits=LIMITS)


class LiveServer:
    """``with LiveServer(app) as server: server.url("/")``"""

    def __init__(self, app: Any) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        # configured as `monitor web` and `monitor serve` configure theirs
        config = server_config(app, "127.0.0.1", self.port, log_level="error", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        while not self.server.started:  # set by uvicorn once it listens
            if not self.thread.is_alive():
                raise RuntimeError("the web server did not start")
            self.thread.join(0.01)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.should_exit = True
        self.thread.join(10)
