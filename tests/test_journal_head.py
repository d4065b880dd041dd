"""A journal that can be proved: heads published in digests and exports, `verify --head`,
`import --head`, signed heads, and the cap on one journal line (issue 14, part 9).

The attacks are real: the database's triggers are dropped as someone with write access
would, events are deleted or changed, and every later hash is computed again, so the chain
checks and plain `verify` says ok. Only a head kept elsewhere tells.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from sqlalchemy import text

from monitor import CommandRejected, FixedClock, IntegrityViolation, Monitor, load_settings
from monitor.journal import MAX_LINE
from monitor.store.hashing import event_hash
from monitor.store.heads import Head, parse_head

from .conftest import CATALOGUE
from .digestkit import ANA, configure, open_monitor, parts
from .smtpserver import SmtpServer
from .test_projections import busy_history

KEY_ENV = "MONITOR_HEAD_SIGNING_KEY"


def raw_private(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(
        key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    ).decode()


def raw_public(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def allow_rewrites(monitor: Monitor) -> None:
    """What someone with write access to the database does first: drop the triggers that
    refuse UPDATE and DELETE on events."""
    with monitor.store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER events_refuse_change ON events"))
        else:
            conn.execute(text("DROP TRIGGER events_refuse_update"))
            conn.execute(text("DROP TRIGGER events_refuse_delete"))


def drop_tail(monitor: Monitor, count: int) -> None:
    """Delete the newest ``count`` events and rebuild the read models, so that nothing in
    the database remembers them: the chain that is left is valid and shorter."""
    allow_rewrites(monitor)
    last = monitor.last_position()
    with monitor.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM events WHERE position > :p"), {"p": last - count})
    monitor.rebuild()


def rewrite_from(monitor: Monitor, position: int, old: str, new: str) -> None:
    """Change the text of the event at ``position`` and hash it and every later event
    again: a rewritten history whose chain checks from end to end."""
    allow_rewrites(monitor)
    rows = list(monitor.store.iter_rows())
    previous = rows[position - 2][9] if position > 1 else "0" * 64
    with monitor.store.engine.begin() as conn:
        for row in rows[position - 1 :]:
            data = row[6].replace(old, new) if row[0] == position else row[6]
            assert row[0] != position or data != row[6], "nothing to rewrite"
            previous = event_hash(
                previous,
                position=row[0],
                event_id=row[1],
                stream_id=row[2],
                stream_version=row[3],
                event_type=row[4],
                schema_version=row[5],
                data_json=data,
                metadata_json=row[7],
                recorded_at=row[8],
            )
            conn.execute(
                text("UPDATE events SET data = :d, hash = :h WHERE position = :p"),
                {"d": data, "h": previous, "p": row[0]},
            )
    monitor.rebuild()


def fresh_monitor(folder: Path, env: dict[str, str] | None = None) -> Monitor:
    """A Monitor on an empty SQLite file of its own (the target of an import)."""
    (folder / "config").mkdir(parents=True)
    (folder / "config" / "monitor.toml").write_text(
        f'[database]\ndatabase_url = "sqlite:///{folder / "m.sqlite3"}"\n', encoding="utf-8"
    )
    return Monitor.open(load_settings(folder / "config" / "monitor.toml", env=env or {}))


def test_a_dropped_tail_passes_verify_but_not_verify_head(monitor: Monitor) -> None:
    busy_history(monitor)
    published = monitor.journal.head()
    assert published.position == monitor.last_position()
    assert monitor.verify(head=published).ok
    drop_tail(monitor, 3)
    assert monitor.verify().ok  # the shorter chain is a valid chain
    report = monitor.verify(head=published)
    assert not report.ok
    [problem] = report.problems
    assert problem == (
        f"the journal ends at position {published.position - 3}, before head "
        f"{published.position}:{published.hash[:16]}… that --head gives: events were removed "
        "from the end"
    )


def test_a_rewritten_and_rehashed_history_passes_verify_but_not_verify_head(
    monitor: Monitor,
) -> None:
    busy_history(monitor)
    rows = list(monitor.store.iter_rows())
    target = next(r[0] for r in rows if "roadmap published" in r[6])
    before = monitor.journal.head(at=target - 1)  # published before the changed event
    published = monitor.journal.head()
    rewrite_from(monitor, target, "roadmap published", "roadmap abandoned")
    assert monitor.verify().ok
    assert monitor.journal.head().hash != published.hash
    report = monitor.verify(head=published)
    [problem] = report.problems
    assert problem.startswith(f"position {published.position} holds hash ")
    assert f"not {published.hash[:16]}… as --head says" in problem
    # what was published before the change still holds: the proof points at where it was
    assert monitor.verify(head=before).ok


def test_import_head_refuses_a_file_without_that_head(monitor: Monitor, tmp_path: Path) -> None:
    busy_history(monitor)
    exported = monitor.export(tmp_path / "full")
    assert exported.head == monitor.journal.head()
    assert exported.head_file == tmp_path / "full" / "journal.head.json"
    assert json.loads(exported.head_file.read_text()) == {
        "events": exported.events,
        "hash": exported.head.hash,
        "position": exported.head.position,
    }
    lines = exported.path.read_text(encoding="utf-8").splitlines(keepends=True)
    short = tmp_path / "short.jsonl"  # the same journal, its last two events dropped
    short.write_text("".join(lines[:-2]), encoding="utf-8")
    with fresh_monitor(tmp_path / "a") as copy:
        with pytest.raises(IntegrityViolation, match="events were removed from the end"):
            copy.import_journal(short, head=exported.head)
        assert copy.last_position() == 0
        # a head it holds (the export's third event) lets it in
        third = json.loads(lines[2])
        report = copy.import_journal(short, head=Head(3, third["hash"]))
        assert report.events == len(lines) - 2

    # the head an export wrote beside its file is checked without being asked for
    shutil.copy(exported.head_file, tmp_path / "short.head.json")
    with fresh_monitor(tmp_path / "b") as copy:
        with pytest.raises(IntegrityViolation, match=r"short\.head\.json beside it"):
            copy.import_journal(short)
        assert copy.last_position() == 0
        # and a forged head is refused however complete the file
        with pytest.raises(IntegrityViolation, match="as --head says"):
            copy.import_journal(exported.path, head=Head(3, "ab" * 32))
        assert copy.last_position() == 0
        assert copy.import_journal(exported.path, head=exported.head).events == exported.events


def test_signed_heads_round_trip_and_a_tampered_signature_or_head_is_refused(
    project: Path, tmp_path: Path
) -> None:
    key = Ed25519PrivateKey.generate()
    env = {KEY_ENV: raw_private(key)}
    with Monitor.open(load_settings(project / "config" / "monitor.toml", env=env)) as monitor:
        monitor.init()
        busy_history(monitor)
        head = monitor.journal.head()
        assert head.signature is not None
        assert monitor.journal.signing_public_key() == raw_public(key)
        assert monitor.verify(head=head, public_key=raw_public(key)).ok
        exported = monitor.export(tmp_path / "out")
        assert exported.head == head
        assert json.loads(exported.head_file.read_text())["signature"] == head.signature

        def refused(witness: Head, public_key: str) -> str:
            report = monitor.verify(head=witness, public_key=public_key)
            assert not report.ok
            return report.problems[0]

        bad = "does not verify with that public key"
        other = Ed25519PrivateKey.generate()
        flipped = base64.b64decode(head.signature)
        flipped = bytes([flipped[0] ^ 1]) + flipped[1:]
        assert bad in refused(
            Head(head.position, head.hash, base64.b64encode(flipped).decode()), raw_public(key)
        )
        assert bad in refused(head, raw_public(other))
        # a head moved back, with the signature of the real one: neither holds
        earlier = monitor.journal.head(at=head.position - 1)
        assert bad in refused(Head(earlier.position, earlier.hash, head.signature), raw_public(key))
        # a malformed signature or key, or one without the other, is the user's mistake
        with pytest.raises(CommandRejected, match="not base64"):
            monitor.verify(head=Head(head.position, head.hash, "%%%"), public_key=raw_public(key))
        with pytest.raises(CommandRejected, match="--public-key"):
            monitor.verify(head=head, public_key="not a key")
        with pytest.raises(CommandRejected, match="go together"):
            monitor.verify(head=head)

    # a PEM private key in the environment, its public key as a PEM file
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    public_pem = tmp_path / "head-key.pub.pem"
    public_pem.write_bytes(
        key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    with Monitor.open(load_settings(project / "config" / "monitor.toml", env={KEY_ENV: pem})) as m:
        signed = m.journal.head()
        assert signed.signature == head.signature  # Ed25519 signs deterministically
        assert m.verify(head=signed, public_key=str(public_pem)).ok


def test_a_line_over_one_mib_is_refused_with_its_number_and_nothing_is_imported(
    monitor: Monitor, tmp_path: Path
) -> None:
    exported = monitor.export(tmp_path / "out")
    lines = exported.path.read_bytes().splitlines(keepends=True)
    long = b'{"x":"' + b"a" * MAX_LINE + b'"}\n'
    path = tmp_path / "long.jsonl"
    path.write_bytes(b"".join([*lines[:2], long, *lines[2:]]))
    with fresh_monitor(tmp_path / "copy") as copy:
        with pytest.raises(IntegrityViolation, match=r"line 3: longer than 1 MiB"):
            copy.import_journal(path)
        assert copy.last_position() == 0
        # one byte less than the cap is read, and refused for what it is, not its length
        path.write_bytes(b"".join([*lines[:2], b" " * (MAX_LINE - 1) + b"x\r\n", *lines[2:]]))
        with pytest.raises(IntegrityViolation, match="line 3: not JSON"):
            copy.import_journal(path)
        assert copy.last_position() == 0


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


#: the footer line, in the text part and (the hash in a <code>) in the HTML part
FOOTER = re.compile(r"Journal head: position (\d+), sha256 (?:<code[^>]*>)?([0-9a-f]{64})")


def test_the_digest_carries_the_head_signed_and_it_proves_the_journal(
    project: Path, clock: FixedClock, smtp: SmtpServer
) -> None:
    key = Ed25519PrivateKey.generate()
    configure(project, [ANA], smtp_port=smtp.port)
    with open_monitor(project, clock, env={KEY_ENV: raw_private(key)}) as monitor:
        busy_history(monitor)
        head = monitor.journal.head()
        [result] = monitor.send_due_digests(clock.now())
        assert result.outcome == "sent"
        [received] = smtp.received
        plain, markup = parts(received.message)
        for part in (plain, markup):
            found = FOOTER.search(part)
            assert found is not None, part
            assert (int(found.group(1)), found.group(2)) == (head.position, head.hash)
            assert f"monitor verify --head {head.position}:{head.hash}" in part
        assert f"Head signature (Ed25519): {head.signature}" in plain.splitlines()
        # a recipient's copy is a witness: the head in the mail proves the journal ...
        witness = parse_head(f"{head.position}:{head.hash}")
        signed = Head(witness.position, witness.hash, head.signature)
        assert monitor.verify(head=signed, public_key=raw_public(key)).ok
        # ... and catches it cut short (the digest's claim and sending came after the head)
        drop_tail(monitor, 3)
        assert monitor.verify().ok
        assert not monitor.verify(head=signed, public_key=raw_public(key)).ok


def test_an_unsigned_digest_still_carries_the_head(
    project: Path, clock: FixedClock, smtp: SmtpServer
) -> None:
    configure(project, [ANA], smtp_port=smtp.port)
    with open_monitor(project, clock) as monitor:
        head = monitor.journal.head()
        assert monitor.send_due_digests(clock.now())[0].outcome == "sent"
    plain, markup = parts(smtp.received[0].message)
    assert f"Journal head: position {head.position}, sha256 {head.hash}" in plain.splitlines()
    assert "signature" not in plain
    assert FOOTER.search(markup) is not None


def test_a_signing_key_that_is_not_one_fails_the_digest_naming_it(
    project: Path, clock: FixedClock
) -> None:
    configure(project, [ANA])  # the outbox: the digest fails before any transport
    with open_monitor(project, clock, env={KEY_ENV: "bm90IGEga2V5"}) as monitor:
        [result] = monitor.send_due_digests(clock.now())
        assert result.outcome == "failed"
        assert result.error is not None
        assert result.error.startswith(f"{KEY_ENV}: not an Ed25519 private key")
        assert not list(monitor.settings.digest.outbox.glob("*.eml"))


# -- the command line, as a user runs it ----------------------------------------------------


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "config").mkdir()
    shutil.copy(CATALOGUE, tmp_path / "config" / "commitments.toml")
    (tmp_path / "config" / "monitor.toml").write_text("", encoding="utf-8")
    return tmp_path


def run(
    workdir: Path, *args: str, code: int = 0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=workdir,
        env={**clean, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    return proc


def test_cli_verify_prints_the_head_and_proves_it_signed(workdir: Path) -> None:
    key = Ed25519PrivateKey.generate()
    env = {KEY_ENV: raw_private(key)}
    run(workdir, "init", env=env)
    shown = json.loads(run(workdir, "verify", "--json", env=env).stdout)
    head = shown["head"]
    assert (head["position"], head["hash"]) == (shown["last_position"], shown["last_hash"])
    assert shown["public_key"] == raw_public(key)
    printed = run(workdir, "verify", env=env).stdout
    assert f"head: position {head['position']}, sha256 {head['hash']}\n" in printed
    assert f"signature (Ed25519): {head['signature']}  public key: {raw_public(key)}" in printed
    given = f"{head['position']}:{head['hash']}"
    proof = ["verify", "--head", given, "--signature", head["signature"]]
    ok = run(workdir, *proof, "--public-key", raw_public(key)).stdout
    assert f"it holds the head {head['position']}:{head['hash'][:16]}…, signed by that key" in ok
    wrong = raw_public(Ed25519PrivateKey.generate())
    failed = run(workdir, *proof, "--public-key", wrong, code=1)
    assert failed.stderr.splitlines() == [
        f"broken: the signature over head {given[: len(str(head['position'])) + 17]}… does not "
        "verify with that public key: the head or the signature was altered, or another key "
        "signed it"
    ]
    # the export carries the head and its signature beside the journal
    exported = run(workdir, "export", "--out", "backup", env=env).stdout
    assert "journal.head.json" in exported
    beside = json.loads((workdir / "backup" / "journal.head.json").read_text())
    assert beside["signature"] == head["signature"]


def test_cli_verify_head_fails_in_one_line_once_the_tail_is_dropped(workdir: Path) -> None:
    import sqlite3

    run(workdir, "init")
    head = json.loads(run(workdir, "verify", "--json").stdout)["head"]
    given = f"{head['position']}:{head['hash']}"
    assert run(workdir, "verify", "--head", given).stdout.startswith("ok: ")
    db = sqlite3.connect(workdir / "data" / "monitor.sqlite3")
    db.execute("DROP TRIGGER events_refuse_delete")
    db.execute("DELETE FROM events WHERE position = ?", (head["position"],))
    db.commit()
    db.close()
    run(workdir, "rebuild")
    assert run(workdir, "verify").stdout.startswith("ok: ")
    failed = run(workdir, "verify", "--head", given, code=1)
    assert failed.stderr.splitlines() == [
        f"broken: the journal ends at position {head['position'] - 1}, before head "
        f"{given[: len(str(head['position'])) + 17]}… that --head gives: events were removed "
        "from the end"
    ]
    # a head that is not one, or a signature with no head, is a mistake: exit 2
    assert "expected POSITION:HASH" in run(workdir, "verify", "--head", "12:abc", code=2).stderr
    assert "needs the --head" in run(workdir, "verify", "--signature", "AAAA", code=2).stderr


def test_cli_import_head_refuses_and_imports_nothing(workdir: Path) -> None:
    run(workdir, "init")
    run(workdir, "export", "--out", "journal.jsonl")
    lines = (workdir / "journal.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    last = json.loads(lines[-1])
    (workdir / "cut.jsonl").write_text("".join(lines[:-1]), encoding="utf-8")
    fresh = workdir / "fresh"
    (fresh / "config").mkdir(parents=True)
    (fresh / "config" / "monitor.toml").write_text("", encoding="utf-8")
    given = f"{last['position']}:{last['hash']}"
    failed = run(fresh, "import", str(workdir / "cut.jsonl"), "--head", given, code=1)
    assert "events were removed from the end; nothing was imported" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
    done = run(fresh, "import", str(workdir / "journal.jsonl"), "--head", given).stdout
    assert f"chain verified up to position {last['position']} (sha256 {last['hash']})" in done
