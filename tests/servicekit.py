"""`monitor serve` as a real subprocess for the service tests: start, read its log, signal it.

Waiting is on the service's own log lines (a reader thread feeds a queue), never on sleeps.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from types import TracebackType

from .smtpserver import free_port

#: how long a test waits for a log line before it fails
WAIT_SECONDS = 60.0


class ServiceProcess:
    """One `monitor serve` process of a project folder, with its stdout as lines."""

    def __init__(
        self,
        project: Path,
        *args: str,
        clock_start: datetime | None = None,
        clock_speed: float = 1.0,
        env: dict[str, str] | None = None,
    ) -> None:
        own = env or {}
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")} | own
        if clock_start is not None:
            env["MONITOR_CLOCK_START"] = clock_start.isoformat()
            env["MONITOR_CLOCK_SPEED"] = str(clock_speed)
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "serve", *args],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = WAIT_SECONDS) -> re.Match[str]:
        """The first line from now on that matches ``pattern`` (fails on exit or timeout).

        ``timeout`` bounds the whole wait, not each line: a service that keeps logging other
        lines must not keep a test waiting for ever.
        """
        wanted = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"no line matching {pattern!r} within {timeout:g} s; log:\n" + self.log()
                ) from None
            if line is None:
                self._queue.put(None)  # stays at the end for later waits
                raise AssertionError(
                    f"the service exited ({self.proc.wait()}) before {pattern!r}; log:\n"
                    + self.log()
                )
            self.lines.append(line)
            found = wanted.search(line)
            if found:
                return found

    def wait_for_all(self, *patterns: str, timeout: float = WAIT_SECONDS) -> None:
        """Wait until each of ``patterns`` has matched a line from now on, in any order."""
        waiting = [re.compile(p) for p in patterns]
        deadline = time.monotonic() + timeout
        while waiting:
            try:
                line = self.wait_for(".", max(0.0, deadline - time.monotonic())).string
            except AssertionError as exc:
                missing = [p.pattern for p in waiting]
                raise AssertionError(f"still waiting for {missing}: {exc}") from None
            waiting = [p for p in waiting if not p.search(line)]

    def log(self) -> str:
        return "\n".join(self.lines[-60:])

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM, then the exit code (the service must exit within ``timeout``)."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._drain()
        return code

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        self.proc.kill()
        self.proc.wait(timeout=10)
        self._drain()

    def _drain(self) -> None:
        self._reader.join(5)
        if self.proc.stdout is not None and not self._reader.is_alive():
            self.proc.stdout.close()
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return
            if line is None:
                self._queue.put(None)
                return
            self.lines.append(line)

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc.poll() is None:
            self.kill()
        else:
            self.proc.wait()
            self._drain()


def write_service_config(
    project: Path,
    *,
    tick: float = 0.2,
    port: int | None = None,
    extra: str = "",
) -> None:
    """Append [service] and [web] tables to the project's monitor.toml (a free port)."""
    port = port or free_port()
    config = project / "config" / "monitor.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + f"\n[service]\ntick_seconds = {tick}\nstandby_retry_seconds = 0.5\n"
        + f'\n[web]\nhost = "127.0.0.1"\nport = {port}\n'
        + extra,
        encoding="utf-8",
    )


def numbered_feed(prefix: str, n: int, items: int) -> bytes:
    """Feed ``n`` of a test: ``items`` items that match the catalogue (legacy chips)."""
    entries = "".join(
        f"<item><title>{prefix} feed {n} item {i}: legacy chips: Japan and the U.S. agree</title>"
        f"<guid>{prefix}-f{n}-i{i}</guid><link>https://example.org/{prefix}/{n}/{i}</link>"
        "<pubDate>Mon, 05 Jan 2026 09:00:00 GMT</pubDate></item>"
        for i in range(items)
    )
    return f'<rss version="2.0"><channel><title>f{n}</title>{entries}</channel></rss>'.encode()
