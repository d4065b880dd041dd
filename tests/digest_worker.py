"""A separate process that sends due digests: `python tests/digest_worker.py CONFIG NOW`.

It waits for a line on standard input before sending, so the test can arrange for the SMTP
server to kill it (SIGKILL) at the worst moment: after the server has the message, before
the journal records the send.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

from monitor import FixedClock, Monitor, load_settings


def main(config: str, now: str) -> None:
    clock = FixedClock(datetime.fromisoformat(now))
    with Monitor.open(load_settings(Path(config), env={}), clock) as monitor:
        monitor.digests.sleep = lambda _seconds: None
        sys.stdin.readline()
        results = monitor.send_due_digests(clock.now())
    json.dump([[r.address, r.outcome] for r in results], sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
