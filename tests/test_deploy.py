"""docs/deploy.md's PostgreSQL recipe, run as written against the test server (issue 13):
the database and its owner made with the recipe's createuser and createdb, the recipe's
/etc/monitor/monitor.toml pointed at this server and at temporary folders, the service
started as the unit starts it, ready, and the first account made with the recipe's
command. What cannot run here is replaced, and said: sudo (the test talks to the server
as its superuser over TCP), the password prompt (the server trusts local connections), the
sources file (empty: a test does not poll the internet) and the SMTP host."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from .conftest import ROOT, _postgres_base_url
from .servicekit import ServiceProcess
from .smtpserver import free_port

DEPLOY = ROOT / "docs" / "deploy.md"


def blocks(section: str, language: str) -> list[str]:
    """The fenced blocks of ``language`` in the section whose heading starts ``section``."""
    text = DEPLOY.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end != -1 else None]
    return re.findall(rf"```{language}\n(.*?)```", body, re.DOTALL)


@pytest.mark.postgres
def test_the_postgresql_recipe_works_as_written(tmp_path: Path) -> None:
    server = urlsplit(_postgres_base_url())
    connect = ["-h", server.hostname or "127.0.0.1", "-p", str(server.port or 5432)]
    connect += ["-U", server.username or "postgres"]
    name = f"monitor_{uuid.uuid4().hex[:10]}"
    # 1. The database: the recipe's commands, each run as the server's superuser.
    [database] = blocks("1. The database", "sh")
    commands = [shlex.split(line) for line in database.strip().splitlines()]
    assert [c[:4] for c in commands] == [
        ["sudo", "-u", "postgres", "createuser"],
        ["sudo", "-u", "postgres", "createdb"],
    ]
    try:
        for command in commands:
            tool, *args = command[3:]
            args = [name if a == "monitor" else a for a in args if a != "--pwprompt"]
            subprocess.run([tool, *connect, *args], check=True, capture_output=True)
        # 2. The configuration, as the recipe writes it, pointed at this server.
        [config] = blocks("2. Each application host", "toml")
        etc, data = tmp_path / "etc", tmp_path / "var"
        etc.mkdir()
        port = free_port()
        here = f"{server.hostname}:{server.port or 5432}"
        replaced = {
            "postgresql://monitor@db.example.org/monitor": f"postgresql://{name}@{here}/{name}",
            "/var/lib/monitor": str(data),
            "/etc/monitor/sources.toml": str(etc / "sources.toml"),
            'host = "smtp.example.org"': f'host = "127.0.0.1"\nport = {free_port()}',
            "port = 8080": f"port = {port}",
        }
        for old, new in replaced.items():
            assert old in config, old  # the recipe still says it
            config = config.replace(old, new)
        (etc / "monitor.toml").write_text(config, encoding="utf-8")
        (etc / "sources.toml").write_text("", encoding="utf-8")
        env = {"MONITOR_CONFIG": str(etc / "monitor.toml")}
        # 3. Start, as the unit does (it runs `monitor serve` with MONITOR_CONFIG).
        unit = (ROOT / "deploy" / "monitor.service").read_text(encoding="utf-8")
        assert "MONITOR_CONFIG=/etc/monitor/monitor.toml" in unit
        with ServiceProcess(tmp_path, env=env) as service:
            service.wait_for(r"holding the scheduler lease \(advisory lock\)")
            service.wait_for(rf"web UI on http://127\.0\.0\.1:{port}/")
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text
            # The first account, as the recipe makes it (the password from standard input).
            account = next(
                line for line in DEPLOY.read_text(encoding="utf-8").split("`")
                if "monitor user add ana --role admin" in line
            )  # fmt: skip
            argv = shlex.split(account)
            assert argv[:3] == ["sudo", "-u", "monitor"]
            assert argv[3] == "MONITOR_CONFIG=/etc/monitor/monitor.toml"
            assert "--password-stdin" in argv
            added = subprocess.run(
                [sys.executable, "-m", "monitor", *argv[argv.index("user") :]],
                env={k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")} | env,
                input="a long enough password\n", capture_output=True, text=True, check=False,
            )  # fmt: skip
            assert added.returncode == 0, added.stderr
            assert service.terminate() == 0
    finally:
        subprocess.run(["dropdb", *connect, "--if-exists", name], check=False)
        subprocess.run(["dropuser", *connect, "--if-exists", name], check=False)
