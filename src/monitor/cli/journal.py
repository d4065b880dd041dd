"""The journal: ``monitor verify`` (the hash chain, and heads published elsewhere),
``export`` and ``import`` (JSON Lines), ``rebuild`` (the read models from the events).

The root app (:mod:`monitor.cli`) registers these commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor.cli.options import JsonOpt, open_monitor
from monitor.cli.output import count_progress, err, escape, out, print_json, progress_bar

if TYPE_CHECKING:
    from monitor.store.heads import Head

HeadOpt = Annotated[
    str | None,
    typer.Option(
        "--head",
        metavar="POSITION:HASH",
        help="A head published earlier (a digest's footer, an export's journal.head.json): "
        "the journal must still hold that hash at that position.",
    ),
]


def _head(text: str | None, signature: str | None = None) -> Head | None:
    from monitor.errors import CommandRejected
    from monitor.store.heads import Head, parse_head

    if text is None:
        if signature is not None:
            raise CommandRejected("--signature needs the --head it signs")
        return None
    head = parse_head(text)
    return Head(head.position, head.hash, signature)


def _published(head: Head) -> dict[str, Any]:
    shown: dict[str, Any] = {"position": head.position, "hash": head.hash}
    if head.signature is not None:
        shown["signature"] = head.signature
    return shown


def _print_head(head: Head, public_key: str | None) -> None:
    out.print(f"head: position {head.position}, sha256 {head.hash}")
    if head.signature is not None:
        out.print(f"signature (Ed25519): {head.signature}  public key: {public_key}")


def verify(
    as_json: JsonOpt = False,
    head: HeadOpt = None,
    signature: Annotated[
        str | None,
        typer.Option("--signature", help="The head's signature (base64), to check it too."),
    ] = None,
    public_key: Annotated[
        str | None,
        typer.Option(
            "--public-key",
            help="The key that signs heads: base64 of its 32 raw bytes, or a PEM file.",
        ),
    ] = None,
) -> None:
    """Check the hash chain and the journal's invariants end to end, and that the journal
    still holds a head published earlier (--head); exit 1 on any break. Prints the head to
    publish (signed when MONITOR_HEAD_SIGNING_KEY is set)."""
    witness = _head(head, signature)
    with open_monitor() as monitor, progress_bar("verifying") as progress:
        report = monitor.verify(
            count_progress(progress, "events"), head=witness, public_key=public_key
        )
        current = monitor.journal.head(at=report.last_position) if report.ok else None
        key = monitor.journal.signing_public_key() if current is not None else None
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "events": report.events,
                "streams": report.streams,
                "last_position": report.last_position,
                "last_hash": report.last_hash,
                "head": _published(current) if current is not None else None,
                "public_key": key,
                "problems": report.problems,
            }
        )
    elif current is not None:
        out.print(
            f"ok: {report.events} events in {report.streams} streams, chain intact up to "
            f"position {report.last_position}"
        )
        if witness is not None:
            signed = ", signed by that key" if witness.signature is not None else ""
            out.print(f"it holds the head {witness.position}:{witness.hash[:16]}…{signed}")
        _print_head(current, key)
    else:
        for problem in report.problems:
            err.print(f"broken: {escape(problem)}")
    if not report.ok:
        raise typer.Exit(1)


def export(
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="A folder (writes journal.jsonl) or a .jsonl file "
            "[default: events/ in the project folder].",
        ),
    ] = None,
) -> None:
    """Write the whole journal as hash-chained JSON Lines (re-importable), and its head in
    journal.head.json beside it."""
    with open_monitor() as monitor, progress_bar("exporting") as progress:
        exported = monitor.export(out_path, count_progress(progress, "events"))
        key = monitor.journal.signing_public_key()
    out.print(
        f"wrote {exported.events} events to {exported.path}, the head to {exported.head_file}"
    )
    _print_head(exported.head, key)


def import_(
    file: Annotated[Path, typer.Argument(help="A journal written by `monitor export`.")],
    head: HeadOpt = None,
) -> None:
    """Load an exported journal into an empty store: same positions and hashes. Refused when
    it does not hold --head, or the head its export wrote beside it."""
    witness = _head(head)
    with open_monitor() as monitor, progress_bar("importing") as progress:
        report = monitor.import_journal(file, count_progress(progress, "events"), head=witness)
    out.print(
        f"imported {report.events} events in {report.streams} streams, chain verified up to "
        f"position {report.last_position} (sha256 {report.last_hash})"
    )
    if witness is not None:
        out.print(f"it holds the head {witness.position}:{witness.hash[:16]}…")


def rebuild() -> None:
    """Drop the read models and rebuild them from the journal, with a progress bar."""
    with open_monitor() as monitor, progress_bar("rebuilding") as progress:
        task = progress.add_task("events", total=monitor.last_position() or None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None)

        count = monitor.rebuild(update)
    out.print(f"rebuilt the projections from {count} events")
