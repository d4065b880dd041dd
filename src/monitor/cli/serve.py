"""Serving: ``monitor web`` (the web UI and JSON API alone) and ``monitor serve`` (the
service: scheduled polls, digests and deadline checks, and the web UI).

The root app (:mod:`monitor.cli`) registers these commands. The web stack and the scheduler
are imported when one of them runs.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.options import root_options
from monitor.cli.output import err
from monitor.clock import Clock, ScaledClock
from monitor.errors import ConfigError


def web(
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (default: web.host, this machine only)."),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: web.port, 8080).")
    ] = None,
    https: Annotated[
        bool | None,
        typer.Option(
            "--https/--no-https",
            help="Served to browsers over HTTPS (e.g. behind a TLS proxy): Secure cookies, "
            "HSTS (default: web.https).",
        ),
    ] = None,
) -> None:
    """Serve the web UI and the JSON API (log in with an account from `monitor user add`).

    Listens where `serve` would: web.host and web.port (MONITOR_WEB_HOST, MONITOR_WEB_PORT)
    unless --host and --port say otherwise.
    """
    import uvicorn

    from monitor.core import Monitor
    from monitor.service.ports import check_free
    from monitor.settings import load_settings
    from monitor.web import create_app
    from monitor.web.security import secret_key
    from monitor.web.server import SERVER_OPTIONS

    settings = load_settings(root_options.config)
    options = settings.service.listening_on(host or settings.service.web_host)
    host = options.web_host
    port = port or options.web_port
    check_free(host, port)
    with Monitor.open(settings) as monitor:
        monitor.require_schema()
        application = create_app(
            monitor,
            secret_key=secret_key(settings.data_dir),
            secure_cookies=options.web_https if https is None else https,
            options=options,
        )
        err.print(f"serving http://{host}:{port}/ (Ctrl-C stops)")
        uvicorn.run(application, host=host, port=port, log_level="warning", **SERVER_OPTIONS)


def serve(
    no_web: Annotated[
        bool, typer.Option("--no-web", help="Only schedule work; serve no web UI from here.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="monitor.toml to use (the same as `monitor --config FILE serve`).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Run the service: poll due sources, send digests, check deadlines, serve the web UI.

    Start-up migrates the database and syncs the catalogue and sources first. Logs go to
    stdout; SIGTERM or Ctrl-C stops it cleanly. One service schedules per database: on
    SQLite a second one refuses to start; on PostgreSQL the others stand by and take over
    when the leader goes away. See docs/service.md.
    """
    from monitor import logs
    from monitor.service.runner import serve as run_service
    from monitor.settings import load_settings

    settings = load_settings(config or root_options.config)
    logs.configure(settings.service.log_level, settings.service.log_format)
    raise typer.Exit(run_service(settings, web=not no_web, clock=_clock_from_env()))


def _clock_from_env() -> Clock | None:
    """MONITOR_CLOCK_START (ISO time) and MONITOR_CLOCK_SPEED: a compressed schedule."""
    start = os.environ.get("MONITOR_CLOCK_START")
    speed = os.environ.get("MONITOR_CLOCK_SPEED", "1")
    if not start:
        return None
    try:
        moment = datetime.fromisoformat(start)
        factor = float(speed)
        return ScaledClock(moment, factor)
    except ValueError as exc:
        raise ConfigError(
            f"MONITOR_CLOCK_START={start!r} / MONITOR_CLOCK_SPEED={speed!r}: {exc} "
            "(an ISO time with its zone, and a positive number)"
        ) from exc
