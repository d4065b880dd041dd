"""Docs that are true: every `monitor ...` command line in README.md and docs/*.md names a
command that exists and options that command takes (issue 13). A renamed option or a
removed command fails here, not in a user's terminal."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from monitor.cli import app

from .conftest import ROOT

DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
#: where a shell line stops being monitor's: a pipe, a redirection, a comment, a chain
SHELL_END = re.compile(r"\s(?:\||>|&&|;|#)\s?")
INLINE = re.compile(r"`(monitor [^`]+)`")


def command_lines(path: Path) -> list[tuple[int, str]]:
    """Each `monitor ...` command line of a Markdown file: in fenced blocks, and in inline
    code; with its line number."""
    found: list[tuple[int, str]] = []
    fenced = False
    pending = ""
    start = 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if raw.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            line = raw.strip()
            if pending:
                pending += " " + line.rstrip("\\").strip()
                if not line.endswith("\\"):
                    found.append((start, pending))
                    pending = ""
                continue
            line = re.sub(r"^(\$ )?(\S*/)?(?=monitor )", "", line)
            if line.startswith("monitor ") or line == "monitor":
                if line.endswith("\\"):
                    pending, start = line.rstrip("\\").strip(), number
                else:
                    found.append((number, line))
        else:
            found.extend((number, m.group(1)) for m in INLINE.finditer(raw))
    return found


def check(line: str) -> str | None:
    """Why ``line`` is not a command line the CLI takes, or None."""
    text = SHELL_END.split(" " + line, maxsplit=1)[0].strip()
    try:
        tokens = shlex.split(text)
    except ValueError:
        tokens = text.split()
    words = [t.strip("[]") for t in tokens[1:]]
    words = [w for w in words if w and w not in ("...", "|")]
    # Typer carries its own copy of click: its classes are told apart by what they have
    command: Any = get_command(app)
    path = ["monitor"]
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            option = _option(command, name)
            if option is None:
                return f"{' '.join(path)} has no option {name}"
            if hasattr(command, "commands") and not option.is_flag and "=" not in word:
                index += 1  # a group's option value is not a command name
        elif hasattr(command, "commands"):
            sub = command.commands.get(word)
            if sub is None:
                return f"{' '.join(path)} has no command {word!r}"
            command, path = sub, [*path, word]
        index += 1
    return None


@dataclass(frozen=True)
class _Flag:
    is_flag: bool = True


def _option(command: Any, name: str) -> Any:
    for param in command.params:
        if param.param_type_name == "option" and name in (*param.opts, *param.secondary_opts):
            return param
    if name in ("-h", "--help"):
        return _Flag()
    return None


def test_the_checker_catches_what_it_must() -> None:
    assert check("monitor list --status in_progress --json") is None
    assert check("monitor --config config/monitor.toml serve --no-web") is None
    assert check("monitor sources add URL --name N [--interval 30m]") is None
    assert check("monitor status set ID in_progress --effective 2024-04-11 | tee x") is None
    assert check("monitor lst") == "monitor has no command 'lst'"
    assert check("monitor list --colour") == "monitor list has no option --colour"
    assert check("monitor digest sned") == "monitor digest has no command 'sned'"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_command_line_in_the_docs_parses(path: Path) -> None:
    wrong = [
        f"{path.name}:{number}: {line!r}: {why}"
        for number, line in command_lines(path)
        if (why := check(line)) is not None
    ]
    assert wrong == []


def test_the_docs_hold_command_lines() -> None:
    # the extraction works: the README alone shows dozens
    assert len(command_lines(ROOT / "README.md")) >= 30


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_table_is_one_table(path: Path) -> None:
    """A blank line inside a Markdown table ends it: the rows after it render as text."""
    lines = path.read_text(encoding="utf-8").splitlines()
    broken = [
        f"{path.name}:{number + 1}"
        for number in range(1, len(lines) - 2)
        if lines[number - 1].startswith("|")
        and not lines[number].strip()
        and lines[number + 1].startswith("|")
        and not re.match(r"^\|[-| :]+\|$", lines[number + 2])  # a new table's own header
    ]
    assert broken == []


def test_every_test_named_in_the_security_page_exists() -> None:
    """docs/security.md backs each guarantee with a test: a renamed test fails here."""
    named = set(re.findall(r"`(test_\w+)`", (ROOT / "docs" / "security.md").read_text()))
    files = re.findall(r"tests/(test_\w+\.py)", (ROOT / "docs" / "security.md").read_text())
    defined = {
        m for path in (ROOT / "tests").glob("test_*.py")
        for m in re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), re.M)
    }  # fmt: skip
    assert named, "the page names its tests"
    assert sorted(named - defined) == []
    assert sorted(f for f in files if not (ROOT / "tests" / f).is_file()) == []
