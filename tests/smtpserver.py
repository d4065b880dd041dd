"""A real SMTP server (aiosmtpd) on loopback that records what it accepts, with faults.

Faults are queued per server and used up one per transaction, in order:

- ``"421"``: DATA is answered 421 (try again later), nothing is kept;
- ``"550"``: DATA is answered 550 (mailbox unavailable), nothing is kept;
- ``"550-rcpt"``: RCPT TO is answered 550;
- ``"drop"``: the whole message arrives, then the connection is cut before any reply,
  and nothing is kept (a server that dies mid-DATA);
- ``"keep-then-kill"``: the message is kept, then the process ``victim`` (the sender) is
  killed with SIGKILL before it hears 250 (a crash between sending and recording).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections import deque
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class RecordingHandler:
    """aiosmtpd handler hooks: record accepted messages, inject the queued faults."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.faults: deque[str] = deque()
        self.transactions = 0
        self.victim: int | None = None
        self.lock = threading.Lock()

    def _next_fault(self, *stages: str) -> str | None:
        with self.lock:
            if self.faults and self.faults[0] in stages:
                return self.faults.popleft()
        return None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self._next_fault("550-rcpt"):
            return "550 5.1.1 <" + address + ">: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.transactions += 1
        fault = self._next_fault("421", "550", "drop", "keep-then-kill")
        if fault == "421":
            return "421 4.3.2 Service not available, try again later"
        if fault == "550":
            return "550 5.7.1 Message rejected"
        if fault == "drop":
            server.transport.abort()
            raise ConnectionResetError("test server dropped the connection during DATA")
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            )
        if fault == "keep-then-kill":
            assert self.victim is not None
            os.kill(self.victim, signal.SIGKILL)
        return "250 2.0.0 OK: queued"


def free_port() -> int:
    """A loopback port nobody listens on (a server that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class SmtpServer:
    """``with SmtpServer() as server: server.port, server.received, server.faults``."""

    def __init__(self, port: int | None = None, **controller_options: Any) -> None:
        self.handler = RecordingHandler()
        self.port = port or free_port()
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, **controller_options
        )

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    @property
    def faults(self) -> deque[str]:
        return self.handler.faults

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.controller.stop()
