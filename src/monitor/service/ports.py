"""Whether the web UI can listen where it is told to, asked before anything starts."""

from __future__ import annotations

import socket

from monitor.errors import CommandRejected


def check_free(host: str, port: int) -> None:
    """Refuse, in one line that says what to do, when ``host:port`` cannot be listened on
    (another program has it, or the address is not this machine's): better than the
    scheduler starting and the web server failing after it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # as uvicorn binds: a port left in TIME_WAIT by a stopped server is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CommandRejected(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}; stop the program "
                "that uses it, or choose another port (--port, web.port, MONITOR_WEB_PORT)"
            ) from exc
