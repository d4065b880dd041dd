"""The real web app served by uvicorn in a thread, on a free loopback port, for tests."""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Any

import uvicorn


class LiveServer:
    """``with LiveServer(app) as server: server.url("/")``"""

    def __init__(self, app: Any) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="error", lifespan="off"
        )
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
