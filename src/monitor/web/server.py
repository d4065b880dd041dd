"""How uvicorn serves the web app: every server of it (`monitor web`, `monitor serve`, the
tests' LiveServer) is configured here, so none of them differs in what it trusts."""

from __future__ import annotations

from typing import Any

import uvicorn

#: uvicorn's own proxy headers are off: by default it believes X-Forwarded-For from
#: 127.0.0.1, so anyone reaching the port from this machine (or through a proxy that passes
#: the header on) could choose the address the login throttle counts. The app reads the
#: header itself, from web.trusted_proxies only (gates.ForwardedClients).
SERVER_OPTIONS: dict[str, Any] = {"proxy_headers": False}


def server_config(app: Any, host: str, port: int, **options: Any) -> uvicorn.Config:
    """uvicorn's Config for ``app`` on ``host``:``port``, with SERVER_OPTIONS."""
    return uvicorn.Config(app, host=host, port=port, **SERVER_OPTIONS, **options)
