"""The command line as a user runs it: a real `python -m monitor` process per command."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ALLOW_LOOPBACK, CATALOGUE, ROOT
from .feedserver import FeedServer

COMMANDS = [
    "init",
    "list",
    "show",
    "status set",
    "status correct",
    "note add",
    "history",
    "sync",
    "verify",
    "export",
    "import",
    "rebuild",
    "counts",
    "report",
    "config",
    "evidence retract",
    "digest preview",
    "digest send",
    "digest status",
    "serve",
]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A project folder on the embedded default: SQLite under data/."""
    (tmp_path / "config").mkdir()
    shutil.copy(CATALOGUE, tmp_path / "config" / "commitments.toml")
    (tmp_path / "config" / "monitor.toml").write_text(
        '[display]\ntimezone = "Asia/Tokyo"\n\n' + ALLOW_LOOPBACK, encoding="utf-8"
    )
    return tmp_path


def run(
    workdir: Path, *args: str, code: int = 0, width: int = 200, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``monitor ARGS`` as a user runs it, in ``workdir``, at a ``width``-column terminal:
    it must exit with ``code``. No MONITOR_* variable of this process leaks into it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["COLUMNS"] = str(width)
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=workdir,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    return proc


def test_every_command_has_help(workdir: Path) -> None:
    top = run(workdir, "--help").stdout
    for command in COMMANDS:
        assert command.split()[0] in top
        assert "Usage:" in run(workdir, *command.split(), "--help").stdout


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in COMMANDS:
        assert f"monitor {command}" in readme, command


def test_a_session_of_a_user(workdir: Path) -> None:
    out = run(workdir, "init").stdout
    assert "registered EPCC23-SEMI-03" in out
    assert (workdir / "data" / "monitor.sqlite3").is_file()
    listed = json.loads(run(workdir, "list", "--json").stdout)
    assert len(listed) == 19
    assert {c["status"] for c in listed} == {"not_yet_assessed"}
    run(
        workdir,
        "status",
        "set",
        "EPCC23-SEMI-03",
        "in_progress",
        "--rationale",
        "JUCIP release lists NSTC-LSTC roadmap work",
        "--evidence",
        "https://www.meti.go.jp/english/press/2024/0411_001.html",
        "--effective",
        "2024-04-10",
        "--by",
        "alice",
    )
    run(workdir, "note", "add", "EPCC23-SEMI-03", "Natcast roadmap due", "--by", "alice")
    shown = json.loads(run(workdir, "show", "EPCC23-SEMI-03", "--json").stdout)
    assert shown["status"] == "in_progress"
    # Tokyo midnight of 10 April is 9 April 15:00 UTC: the user's zone reads the date.
    assert shown["status_effective_at"] == "2024-04-09T15:00:00+00:00"
    assert [t["event_type"] for t in shown["timeline"]] == [
        "CommitmentRegistered",
        "EvidenceAccepted",
        "StatusAssessed",
        "NoteAdded",
    ]
    table = run(workdir, "show", "EPCC23-SEMI-03").stdout
    assert "2024-04-10" in table
    assert "JST" in table
    assert (
        "fulfilled"
        not in json.loads(
            run(workdir, "history", "EPCC23-SEMI-03", "--as-of", "2024-04-09", "--json").stdout
        )["status"]
    )
    later = json.loads(
        run(workdir, "history", "EPCC23-SEMI-03", "--as-of", "2024-06-30", "--json").stdout
    )
    assert later["status"] == "in_progress"
    assert (
        json.loads(run(workdir, "list", "--status", "in_progress", "--json").stdout)[0][
            "commitment_id"
        ]
        == "EPCC23-SEMI-03"
    )
    assert "in_progress 1" in run(workdir, "counts").stdout
    assert "catalogue unchanged" in run(workdir, "sync").stdout
    assert run(workdir, "verify").stdout.startswith("ok: 22 events")
    assert "rebuilt the projections from 22 events" in run(workdir, "rebuild").stdout
    run(workdir, "export", "--out", "backup")
    assert (workdir / "backup" / "journal.jsonl").is_file()


def test_user_errors_are_one_line_and_exit_2(workdir: Path) -> None:
    proc = run(workdir, "list", code=2)
    assert proc.stderr.strip() == (
        "error: the database has no monitor schema yet: run `monitor init`"
    )
    run(workdir, "init")
    proc = run(workdir, "status", "set", "EPCC23-SEMI-03", "fulfilled", "--by", "bob", code=2)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "rationale is required" in lines[0]
    assert "evidence" in lines[0]
    assert "Traceback" not in proc.stderr
    assert "unknown commitment" in run(workdir, "show", "EPCC23-NOPE-99", code=2).stderr
    # a filter naming nothing known is a mistake, not an empty queue
    assert run(workdir, "queue", "--source", "nowhere", code=2).stderr.startswith(
        "error: unknown source 'nowhere'"
    )
    assert "did you mean 'EPCC23-SEMI-03'" in (
        run(workdir, "queue", "--commitment", "EPCC23-SEMI-3", code=2).stderr
    )
    assert (
        "not a usable date"
        in run(workdir, "history", "EPCC23-SEMI-03", "--as-of", "last week", code=2).stderr
    )


def test_usage_errors_exit_2(workdir: Path) -> None:
    run(workdir, "list", "--colour", code=2)
    run(workdir, "show", code=2)


def test_bad_configuration_names_the_key(workdir: Path) -> None:
    (workdir / "config" / "monitor.toml").write_text('[display]\ntimezone = "Mars/Olympus"\n')
    assert "display.timezone" in run(workdir, "list", code=2).stderr


def test_verify_exits_1_on_a_broken_chain_and_import_refuses_a_full_store(
    workdir: Path,
) -> None:
    run(workdir, "init")
    run(workdir, "export", "--out", "journal.jsonl")
    assert "an empty store" in run(workdir, "import", "journal.jsonl", code=2).stderr
    db = sqlite3.connect(workdir / "data" / "monitor.sqlite3")
    db.execute("DROP TRIGGER events_refuse_update")
    db.execute(
        "UPDATE events SET data = replace(data, 'Indo-Pacific', 'Atlantic') WHERE position = 2"
    )
    db.commit()
    db.close()
    proc = run(workdir, "verify", code=1)
    assert "broken: position 2" in proc.stderr
    fresh = workdir / "fresh"
    (fresh / "config").mkdir(parents=True)
    shutil.copy(workdir / "config" / "commitments.toml", fresh / "config")
    (fresh / "config" / "monitor.toml").write_text("")
    assert "imported 19 events" in run(fresh, "import", str(workdir / "journal.jsonl")).stdout
    assert run(fresh, "verify").stdout.startswith("ok: 19 events")


def test_an_unreachable_database_is_one_line(workdir: Path) -> None:
    (workdir / "config" / "monitor.toml").write_text(
        '[database]\ndatabase_url = "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2"\n'
    )
    proc = run(workdir, "list", code=1)
    assert proc.stderr.startswith("error: cannot use the database postgresql")
    assert "Traceback" not in proc.stderr
    (workdir / "config" / "monitor.toml").write_text('[paths]\ndata_dir = "config/monitor.toml"\n')
    assert "cannot create the data folder" in run(workdir, "init", code=2).stderr


def test_polling_from_the_command_line(workdir: Path, feed_server: FeedServer) -> None:
    feed_server.set_body(
        "cli-feed",
        b'<rss version="2.0"><channel><title>x</title><item><title>Legacy chips: Japan and '
        b"the U.S. agree [bold red]markup[/bold red]</title><guid>cli-1</guid>"
        b"<link>https://example.org/cli-1</link>"
        b"<pubDate>Mon, 05 Jan 2026 09:00:00 GMT</pubDate></item></channel></rss>",
    )
    run(workdir, "init")
    assert "no source is due" in run(workdir, "poll").stdout
    run(workdir, "sources", "add", feed_server.url("/feeds/cli-feed"), "--name", "cli-feed")
    assert (
        "already"
        in run(
            workdir,
            "sources",
            "add",
            feed_server.url("/feeds/cli-feed"),
            "--name",
            "cli-feed",
            code=2,
        ).stderr
    )
    out = run(workdir, "poll").stdout
    assert "checked cli-feed: ok; 1 new, 0 edited, 2 proposed" in out
    assert "1 source(s): 1 ok" in out
    [health] = json.loads(run(workdir, "sources", "--json").stdout)
    assert (health["name"], health["items_seen"], health["proposals"]) == ("cli-feed", 1, 2)
    [story] = json.loads(run(workdir, "queue", "--json").stdout)  # one item: one row
    commitments = story["commitments"]
    assert {c["commitment_id"] for c in commitments} == {"EPCC23-SEMI-01", "EPCC23-SEMI-02"}
    assert "legacy chips" in commitments[0]["matched_terms"]
    # Feed text is shown as text: rich markup in a title is not interpreted.
    assert "[bold red]markup[/bold red]" in run(workdir, "queue").stdout
    assert json.loads(run(workdir, "match", "--dry-run", "--json").stdout)["new"] == []
    # Why it matched: the rules that fired, on which words; why another did not.
    item = story["members"][0]["item_id"]
    explained = run(workdir, "match", "--explain", item[:8], "--commitment", "SEMI-01").stdout
    assert "EPCC23-SEMI-01: proposed at" in explained
    assert "[fired] legacy chips with Japan" in explained
    assert "legacy chips" in explained
    assert "[bold red]markup[/bold red]" in explained  # feed text is still text
    why = json.loads(run(workdir, "match", "--explain", item[:8], "--json").stdout)
    assert {m["commitment_id"] for m in why["matches"]} == {"EPCC23-SEMI-01", "EPCC23-SEMI-02"}
    assert any(r["fired"] is False and r["missing"] for r in why["rules"])
    assert "no item" in run(workdir, "match", "--explain", "ffffffff", code=2).stderr
    misused = run(workdir, "match", "--commitment", "SEMI-01", code=2).stderr
    assert "--commitment" in misused
    assert "goes with --explain ITEM_ID" in misused
    refused = run(
        workdir,
        "review",
        "--filter",
        "score<2",
        "reject",
        "--reason",
        "other",
        "--by",
        "cli",
        code=2,
    )
    assert "nothing done" in refused.stderr  # no terminal to confirm on, and no --yes
    first = commitments[0]["proposal_id"]
    out = run(workdir, "review", first[:8], "accept", "--by", "ana").stdout
    assert "recorded ProposalAccepted" in out
    assert (
        "ana already accepted"
        in run(
            workdir, "review", first[:8], "reject", "--reason", "other", "--by", "bo", code=2
        ).stderr
    )
    bulk = run(
        workdir,
        "review",
        "--filter",
        "score<2",
        "reject",
        "--reason",
        "irrelevant",
        "--by",
        "cli",
        "--yes",
    ).stdout
    assert "reject: 1 proposal(s)" in bulk
    assert json.loads(run(workdir, "queue", "--json").stdout) == []
    opml = run(workdir, "sources", "export").stdout
    assert feed_server.url("/feeds/cli-feed") in opml
    assert "unknown" in run(workdir, "poll", "--source", "nope", code=2).stderr


def test_version(workdir: Path) -> None:
    assert run(workdir, "--version").stdout.startswith("monitor ")


def test_an_unreadable_catalogue_is_one_clear_line(workdir: Path) -> None:
    (workdir / "config" / "commitments.toml").write_bytes("title = 'Économie'\n".encode("latin-1"))
    out = run(workdir, "serve", "--no-web", code=1)
    assert out.stderr.strip().endswith(
        "commitments.toml is not UTF-8 text: invalid continuation byte"
    )
    assert "error: the catalogue " in out.stderr
    assert not (workdir / "data" / "monitor.sqlite3").exists()  # checked before any write


def test_rules_scored_on_a_labelled_set(workdir: Path) -> None:
    devset = Path(__file__).parent / "data" / "matching"
    run(workdir, "init")
    out = run(workdir, "match", "--evaluate", str(devset)).stdout
    assert "labelled item(s): precision" in out
    scored = json.loads(run(workdir, "match", "--evaluate", str(devset), "--json").stdout)
    assert scored["items"] >= 80
    assert scored["overall"]["precision"] >= 0.85
    assert scored["overall"]["recall"] >= 0.85
    assert scored["lookalikes_proposed"] == []
    bad = workdir / "bad.toml"
    bad.write_text('[[item]]\nid = "x"\n', encoding="utf-8")
    assert "bad.toml" in run(workdir, "match", "--evaluate", str(bad), code=2).stderr


def test_ids_are_shown_where_they_are_needed_and_taken_by_prefix(workdir: Path) -> None:
    """show lists each assessment's id; status set names the ids it made and the date it
    used; status correct and evidence retract take 8 characters of an id (issue 13)."""
    run(workdir, "init")
    made = run(
        workdir, "status", "set", "EPCC23-SEMI-03", "in_progress", "--rationale", "work began",
        "--evidence", "https://example.org/evidence", "--by", "ana",
    )  # fmt: skip
    assert "(today)" in made.stderr
    assert "give --effective YYYY-MM-DD" in made.stderr
    assessment = re.search(r"StatusAssessed \S+ at .* \(assessment ([0-9a-f]{8})\)", made.stdout)
    evidence = re.search(r"EvidenceAccepted \S+ at .* \(evidence ([0-9a-f]{8})\)", made.stdout)
    assert assessment, made.stdout
    assert evidence, made.stdout
    shown = run(workdir, "show", "EPCC23-SEMI-03").stdout
    assert f"  {assessment[1]}  in_progress  effective " in shown
    assert f"  {evidence[1]}  " in shown
    run(
        workdir, "status", "correct", "EPCC23-SEMI-03", assessment[1].upper(), "stalled",
        "--rationale", "on hold", "--reason", "misread", "--by", "ana", "--effective",
        "2026-01-05",
    )  # fmt: skip
    assert "(corrected)" in run(workdir, "show", "EPCC23-SEMI-03").stdout
    short = run(workdir, "evidence", "retract", "EPCC23-SEMI-03", "abc", "--by", "a", code=2)
    assert "at least 8 characters" in short.stderr
    retracted = run(workdir, "evidence", "retract", "EPCC23-SEMI-03", evidence[1], "--reason",
                    "moved", "--by", "ana")  # fmt: skip
    assert "now rests on no evidence" in retracted.stderr
    assert "(retracted)" in run(workdir, "show", "EPCC23-SEMI-03").stdout


def test_a_taken_web_port_is_one_line_before_anything_starts(workdir: Path) -> None:
    """`web` honours web.port / MONITOR_WEB_PORT like `serve`; both check the port first
    (serve used to start the scheduler, then exit 3) (issue 13)."""
    import socket

    run(workdir, "init")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        env["MONITOR_WEB_PORT"] = str(port)
        for command in (["web"], ["serve"]):
            proc = subprocess.run(
                [sys.executable, "-m", "monitor", *command],
                cwd=workdir, env=env, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
            assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
            assert "starting" not in proc.stdout  # the scheduler never started


def test_poll_all_when_every_source_fails_exits_1_naming_each_host(workdir: Path) -> None:
    """Issue 13: a round where nothing could be read is a failure, with each host named
    (a DNS failure included), not a summary line and exit 0."""
    run(workdir, "init")
    run(workdir, "sources", "add", "https://feeds.example.invalid/rss", "--name", "nowhere")
    run(workdir, "sources", "add", "http://127.0.0.1:1/feed", "--name", "closed")
    failed = run(workdir, "poll", "--all", code=1)
    assert "every source failed (2)" in failed.stderr
    assert "nowhere (feeds.example.invalid):" in failed.stderr
    assert "closed (127.0.0.1):" in failed.stderr
