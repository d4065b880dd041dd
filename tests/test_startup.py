"""Start-up: a command loads what it uses and nothing more (bench/startup.py measures it).

Each case runs the command in a fresh interpreter, as a user does, and lists the heavy
libraries it loaded: `--version` and `--help` load none of them; `list` loads the database
and the read models, but not the web stack, the HTTP client, the matcher or Alembic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor import Monitor, load_settings

HEAVY = (
    "alembic", "fastapi", "starlette", "uvicorn", "jinja2", "httpx", "feedparser", "sudachipy",
    "ahocorasick_rs", "snowballstemmer", "argon2", "apscheduler", "sqlalchemy", "sqlmodel",
    "pydantic", "rich",
)  # fmt: skip

PROBE = """
import json, sys
sys.argv = ["monitor", *json.loads(sys.argv[1])]
from monitor.cli import main
try:
    main()
except SystemExit:
    pass
heavy = {heavy}
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy))), file=sys.stderr)
"""


def loaded(args: list[str], cwd: Path | None = None) -> set[str]:
    """The heavy libraries ``monitor ARGS`` loaded, run in a fresh interpreter."""
    env = {**os.environ, "COLUMNS": "120"}
    probe = PROBE.format(heavy=list(HEAVY))
    done = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_version_and_help_load_no_heavy_library() -> None:
    assert loaded(["--version"]) == set()
    assert loaded(["--help"]) == set()
    # Typer's own help for a sub-app loads its pydantic adapter; monitor adds nothing
    assert loaded(["status", "--help"]) <= {"pydantic", "rich"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_listing_loads_the_database_but_not_the_rest(project: Path) -> None:
    settings = load_settings(project / "config" / "monitor.toml", env={})
    with Monitor.open(settings) as monitor:
        monitor.init()
    found = loaded(["--config", str(project / "config" / "monitor.toml"), "list"], project)
    assert {"sqlalchemy", "sqlmodel", "pydantic", "rich"} <= found  # it did its work
    assert found.isdisjoint(
        {"alembic", "fastapi", "starlette", "jinja2", "httpx", "feedparser", "sudachipy",
         "ahocorasick_rs", "snowballstemmer", "argon2", "apscheduler"}
    )  # fmt: skip


def test_listing_folds_nothing_when_the_read_model_is_current(project: Path) -> None:
    """`list` reads the read model: neither the event types nor the deciders are loaded."""
    settings = load_settings(project / "config" / "monitor.toml", env={})
    with Monitor.open(settings) as monitor:
        monitor.init()
    probe = (
        "import sys; sys.argv = ['monitor', '--config', sys.argv[1], 'list']\n"
        "from monitor.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('monitor.events', "
        "'monitor.domain.'))), file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(project / "config" / "monitor.toml")],
        cwd=project, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "19 commitment(s)" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_a_run_builds_only_its_command_and_the_tree_is_whole() -> None:
    from typer.main import get_command

    from monitor.cli import COMMANDS, SUB_APPS, _command_named, app, build

    assert _command_named(["list"]) == "list"
    assert _command_named(["--config", "x.toml", "status", "set"]) == "status"
    assert _command_named(["-c", "list", "show", "X"]) == "show"  # -c's value is not a command
    assert _command_named(["--config=x.toml", "queue", "--json"]) == "queue"
    assert _command_named(["--help"]) is None
    assert _command_named(["lst"]) is None  # the whole tree says "did you mean 'list'"
    whole = get_command(app)
    assert list(whole.commands) == [*COMMANDS, *SUB_APPS]  # type: ignore[attr-defined]
    one = get_command(build("history"))
    assert list(one.commands) == ["history"]  # type: ignore[attr-defined]
    # the command is the same one either way: its parameters and help
    assert [p.name for p in one.commands["history"].params] == [  # type: ignore[attr-defined]
        p.name
        for p in whole.commands["history"].params  # type: ignore[attr-defined]
    ]


def test_a_typo_gets_the_whole_tree_and_a_suggestion(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "lst"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "Did you mean 'list'?" in done.stderr
