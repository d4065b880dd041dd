"""The web UI and JSON API: server-rendered, usable without JavaScript; calls the core only."""

from monitor.web.app import create_app

__all__ = ["create_app"]
