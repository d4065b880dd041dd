"""Matching: ``monitor match`` (match stored items again, explain a match, score the
rules on a labelled set) and ``monitor rematch``.

The root app (:mod:`monitor.cli`) registers these commands.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.options import JsonOpt, open_monitor
from monitor.cli.output import count_progress, escape, out, print_json, progress_bar


def match(
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Show what the current rules would add and drop; write nothing."
        ),
    ] = False,
    explain: Annotated[
        str | None,
        typer.Option(
            "--explain",
            metavar="ITEM_ID",
            help="Show which rules fire on a stored item, on which words (an id prefix will do).",
        ),
    ] = None,
    commitment: Annotated[
        str | None,
        typer.Option("--commitment", help="With --explain: only this commitment's rules."),
    ] = None,
    evaluate: Annotated[
        list[Path] | None,
        typer.Option(
            "--evaluate",
            metavar="FILE",
            help="Score the catalogue file's rules on a labelled set (a .toml file or folder; "
            "repeatable): precision and recall per commitment.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Match stored items again, explain a match, or score the rules on a labelled set.

    Without options (or with --dry-run) the current rules run over every stored item:
    new pairs are proposed (--dry-run: only listed, with the waiting proposals the rules
    would no longer make).
    """
    if explain is not None:
        _explain(explain, commitment, as_json)
    elif evaluate:
        _evaluate(evaluate, as_json)
    elif commitment is not None:
        raise typer.BadParameter("goes with --explain ITEM_ID", param_hint="--commitment")
    else:
        _rematch(dry_run=dry_run, as_json=as_json)


def rematch(as_json: JsonOpt = False) -> None:
    """Propose what the current rules newly match among stored items (after a rule change)."""
    _rematch(dry_run=False, as_json=as_json)


def _rematch(*, dry_run: bool, as_json: bool) -> None:
    from monitor.application.matching import REMATCH_SAMPLE

    with open_monitor() as monitor, progress_bar("matching") as progress:
        result = monitor.matching.rematch(
            dry_run=dry_run, progress=count_progress(progress, "items")
        )
    if as_json:
        print_json(
            {
                "matcher_version": result.matcher_version,
                "items": result.items,
                "dry_run": dry_run,
                "new_count": result.new_count,
                "dropped_count": result.dropped_count,
                "new": [p.model_dump(mode="json") for p in result.new],
                "dropped": [dataclasses.asdict(d) for d in result.dropped],
            }
        )
        return
    verb = "would propose" if dry_run else "proposed"
    out.print(
        f"rules {result.matcher_version} over {result.items} item(s): {verb} "
        f"{result.new_count} new pair(s); {result.dropped_count} waiting proposal(s) no longer "
        "matched"
    )
    for p in result.new[:50]:
        out.print(f"  + {p.commitment_id}  {p.score:.2f}  {escape(p.title)}")
    for d in result.dropped[:50]:
        out.print(f"  - {d.commitment_id}  {d.score:.2f}  {escape(d.title)}  ({d.proposal_id[:8]})")
    if result.new_count > 50 or result.dropped_count > 50:
        out.print(f"  (the first 50 of each; --json lists up to {REMATCH_SAMPLE})")
    if result.dropped:
        out.print("Dropped proposals stay in the queue until someone rejects them.")


def _highlight(text: str, words: set[str]) -> str:
    """``text`` escaped for rich, with ``words`` in bold (case-insensitive)."""
    if not words:
        return escape(text)
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)), re.I)
    parts, last = [], 0
    for hit in pattern.finditer(text):
        parts.append(escape(text[last : hit.start()]))
        parts.append(f"[bold]{escape(hit.group())}[/bold]")
        last = hit.end()
    parts.append(escape(text[last:]))
    return "".join(parts)


def _explain(ref: str, commitment: str | None, as_json: bool) -> None:
    with open_monitor() as monitor:
        result = monitor.matching.explain(ref, commitment)
    item = result.item
    if as_json:
        print_json(
            {
                "item_id": item["item_id"],
                "title": item["title"],
                "url": item.get("url"),
                "matcher_version": result.matcher_version,
                "matches": [
                    {
                        "commitment_id": m.commitment_id,
                        "score": m.score,
                        "explanation": [r._asdict() for r in m.explanation],
                    }
                    for m in result.matches
                ],
                "rules": [dataclasses.asdict(r) for r in result.rules],
            }
        )
        return
    words = {w for m in result.matches for w in m.terms}
    out.print(f"item {item['item_id'][:8]}  {_highlight(item['title'], words)}")
    if item.get("url"):
        out.print(f"  {escape(item['url'])}")
    out.print(f"rules {result.matcher_version}")
    if not result.rules:
        out.print("No rule of any commitment finds a concept in this item.")
    scores = {m.commitment_id: m for m in result.matches}
    current = None
    for report in result.rules:
        if report.commitment_id != current:
            current = report.commitment_id
            match = scores.get(current)
            verdict = f"proposed at {match.score:.2f}" if match else "not proposed"
            out.print(f"\n{current}: {verdict}")
            if match:
                for reason in match.explanation:
                    if reason.kind == "title":
                        out.print(
                            f"  + {reason.weight:.2f} in the title: {', '.join(reason.words)}"
                        )
        mark = "fired" if report.fired else "no"
        weight = f"{report.weight:.2f}"
        if abs(report.learned - 1) > 1e-6:
            weight += f" x{report.learned:.2f} (learned from review)"
        out.print(f"  {escape(f'[{mark}]')} {escape(report.rule)}  (weight {weight})")
        for concept, found in report.present.items():
            out.print(f"      {concept}: {escape(', '.join(found))}")
        if report.missing:
            out.print(f"      missing: {escape(', '.join(report.missing))}")
        if report.vetoed_by:
            out.print(f"      vetoed by: {escape(', '.join(report.vetoed_by))}")
        if report.too_far:
            out.print("      its concepts are not close enough to each other")


def _evaluate(paths: list[Path], as_json: bool) -> None:
    from rich.table import Table

    with open_monitor() as monitor:
        result = monitor.matching.evaluate(paths)
    if as_json:
        print_json(result.as_dict())
        return
    o = result.overall
    out.print(
        f"{result.items} labelled item(s): precision {o.precision:.3f} "
        f"({o.correct}/{o.proposed}), recall {o.recall:.3f} ({o.found}/{o.required})"
    )
    table = Table("commitment", "precision", "recall", "proposed", "required", box=None)
    for cid, t in sorted(result.by_commitment.items()):
        table.add_row(
            cid, f"{t.precision:.2f}", f"{t.recall:.2f}", str(t.proposed), str(t.required)
        )
    out.print(table)
    for item_id, cid in result.false_positives:
        out.print(f"  wrong: {item_id} -> {cid}")
    for item_id, cid in result.misses:
        out.print(f"  missed: {item_id} -> {cid}")
    if result.lookalikes_proposed:
        out.print(f"  look-alikes proposed: {', '.join(result.lookalikes_proposed)}")
