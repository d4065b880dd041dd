"""Matching quality on the labelled development set: precision and recall of the rules.

The set is real published items (tests/data/matching/*.toml: title and lede as published,
URL, outlet, date, labels per commitment). Prints precision and recall overall, per
language and per commitment, the look-alike check, the learning replay (the set in date
order, its labels as the reviewer's decisions: the later half with and without learning),
and the first-form matcher's figures beside them when --compare-first-form is given
(the rules as term lists, kept in git history). Writes the tables into docs/matching.md
between its "quality" markers with --write.

Usage: ``python bench/match_quality.py [--write] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from monitor.domain.catalogue import parse_catalogue
from monitor.matching import Matcher
from monitor.matching.evaluation import Evaluation, evaluate, load_labelled, replay

ROOT = Path(__file__).resolve().parent.parent
DEVSET = ROOT / "tests" / "data" / "matching"
DOC = ROOT / "docs" / "matching.md"
BEGIN, END = "<!-- quality:begin -->", "<!-- quality:end -->"


def row(name: str, e: Evaluation) -> str:
    o = e.overall
    return (
        f"| {name} | {e.items} | {o.precision:.3f} ({o.correct}/{o.proposed}) | "
        f"{o.recall:.3f} ({o.found}/{o.required}) |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--write", action="store_true", help="update docs/matching.md")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    catalogue = parse_catalogue(
        (ROOT / "config" / "commitments.toml").read_text(encoding="utf-8"), "commitments.toml"
    )
    matcher = Matcher(catalogue.commitments)
    items = load_labelled([DEVSET])
    overall = evaluate(items, matcher)
    english = evaluate(items, matcher, only=lambda i: i.language == "en")
    japanese = evaluate(items, matcher, only=lambda i: i.language == "ja")
    replayed = replay(items, matcher)
    kinds: dict[str, int] = {}
    for item in items:
        kinds[item.kind] = kinds.get(item.kind, 0) + 1
    if args.json:
        print(
            json.dumps(
                {
                    "overall": overall.as_dict(),
                    "en": english.as_dict()["overall"],
                    "ja": japanese.as_dict()["overall"],
                    "replay_learning": replayed.learning.as_dict()["overall"],
                    "replay_static": replayed.static.as_dict()["overall"],
                    "kinds": kinds,
                }
            )
        )
        return 0
    lines = [
        f"Development set: {len(items)} real items ({english.items} English, "
        f"{japanese.items} Japanese); "
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        + f"; matcher {matcher.version}.",
        "",
        "| set | items | precision | recall |",
        "|---|---|---|---|",
        row("all", overall),
        row("English", english),
        row("Japanese", japanese),
        row("later half, rules alone", replayed.static),
        row("later half, learning from review", replayed.learning),
        "",
        "Look-alike and pre-statement items proposed: "
        + (", ".join(overall.lookalikes_proposed) or "none")
        + ".",
        "",
        "| commitment | precision | recall | proposed | required |",
        "|---|---|---|---|---|",
    ]
    for cid, t in sorted(overall.by_commitment.items()):
        lines.append(
            f"| {cid} | {t.precision:.2f} | {t.recall:.2f} | {t.proposed} | {t.required} |"
        )
    text = "\n".join(lines)
    print(text)
    if overall.false_positives:
        print("\nwrong:", ", ".join(f"{i}->{c}" for i, c in overall.false_positives))
    if overall.misses:
        print("missed:", ", ".join(f"{i}->{c}" for i, c in overall.misses))
    if args.write:
        doc = DOC.read_text(encoding="utf-8")
        pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
        if not pattern.search(doc):
            raise SystemExit(f"{DOC} has no {BEGIN} ... {END} markers")
        DOC.write_text(pattern.sub(BEGIN + "\n" + text + "\n" + END, doc), encoding="utf-8")
        print(f"\nwrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
