"""Logging for the long-running service: stdout, a level, text or JSON lines."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLines(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message (and the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str, fmt: str) -> None:
    """Send every logger's records (monitor's, uvicorn's, APScheduler's) to stdout."""
    handler = logging.StreamHandler(sys.stdout)
    if fmt == "json":
        handler.setFormatter(JsonLines())
    else:
        formatter = logging.Formatter(TEXT_FORMAT, "%Y-%m-%dT%H:%M:%SZ")
        formatter.converter = time.gmtime  # times in UTC, as the Z says
        handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Alembic names its context at every start and httpx logs every request at INFO;
    # APScheduler warns at every tick that finds the previous poll still running (that is
    # max_instances=1 doing its job). All of them only at debug; job errors still show.
    for chatty, floor in (
        ("alembic", logging.WARNING),
        ("httpx", logging.WARNING),
        ("apscheduler", logging.ERROR),
    ):
        logging.getLogger(chatty).setLevel(logging.DEBUG if root.level <= logging.DEBUG else floor)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(max(root.level, logging.WARNING))
