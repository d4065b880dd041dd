"""Benchmark: matching real items against the catalogue, next to merely normalising them.

The items are the distinct entries of the State Department press-release captures in
``shared/corpus/`` (parsed with monitor's own parser, text bounded as in a poll). Both
workloads run in one process over the same texts, several times, best run kept:

1. the floor: NFKC-normalise and case-fold every item's title and text, nothing else;
2. matching: ``Matcher.match`` over every item against the catalogue (it normalises too).

Target: matching costs at most 3x the floor. Usage:
``python bench/match.py [--captures DIR] [--repeat 5] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from monitor.catalogue import parse_catalogue
from monitor.matching import MatchableItem, Matcher, normalise
from monitor.sources.parse import parse_feed

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "state-dept-press-2021-2022.tar.xz"
FEED_URL = "https://www.state.gov/rss-feed/press-releases/feed/"


def corpus_items(captures: Path) -> list[tuple[str, str]]:
    """(title, text) of every distinct item in the captures, latest version of each."""
    items: dict[str, tuple[str, str]] = {}
    now = datetime.now(UTC)
    for path in sorted(captures.glob("*.rss")):
        for item in parse_feed(path.read_bytes(), url=FEED_URL, now=now).items:
            items[item.guid or item.link or item.title] = (item.title, item.text or item.summary)
    return list(items.values())


def best_of(repeat: int, work: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--captures", type=Path, help="a folder of unpacked .rss captures")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        captures = args.captures
        if captures is None:
            if not CORPUS.is_file():
                sys.exit(f"the corpus is missing: {CORPUS} (or pass --captures DIR)")
            subprocess.run(["tar", "-xJf", str(CORPUS), "-C", tmp], check=True)
            captures = Path(tmp)
        items = corpus_items(captures)
    catalogue = parse_catalogue(
        (ROOT / "config" / "commitments.toml").read_text(encoding="utf-8"), "commitments.toml"
    )
    matcher = Matcher(catalogue.commitments)
    matchable = [MatchableItem(title, text, None) for title, text in items]
    chars = sum(len(t) + len(x) for t, x in items)

    def floor() -> None:
        for title, text in items:
            normalise(title)
            normalise(text)

    matched: list[int] = []

    def match() -> None:
        matched.append(sum(1 for item in matchable if matcher.match(item)))

    t_floor = best_of(args.repeat, floor)
    t_match = best_of(args.repeat, match)
    ratio = t_match / t_floor
    result = {
        "items": len(items),
        "characters": chars,
        "normalise_s": t_floor,
        "match_s": t_match,
        "ratio": ratio,
        "items_with_a_match_if_undated": matched[-1],
        "target": "<= 3.0",
        "pass": ratio <= 3.0,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{len(items):,} distinct corpus items, {chars:,} characters")
    print(f"normalise only : {t_floor * 1000:8.1f} ms ({len(items) / t_floor:,.0f} items/s)")
    print(f"match          : {t_match * 1000:8.1f} ms ({len(items) / t_match:,.0f} items/s)")
    print(f"ratio          : {ratio:8.2f}x  (target <= 3x: {'PASS' if ratio <= 3 else 'FAIL'})")
    print(f"items that would match if undated: {matched[-1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
