"""Benchmark: matching real items against the catalogue, next to the floors.

English: the distinct entries of the State Department press-release captures in
``shared/corpus/`` (parsed with monitor's own parser, text bounded as in a poll). The floor
is NFKC-normalising and case-folding every item's title and text, nothing else; matching
(``Matcher.match``, which normalises too) must cost at most 5x that.

Japanese: the Japanese items of the development set (tests/data/matching, real titles and
ledes), repeated to a measurable size. The floor is SudachiPy alone tokenising the same
texts (the same dictionary and mode); matching must cost at most 1.5x that. Also printed: the
analyser's tokens read out (each token's normalised form), which any use of it pays.

Every workload runs in one process, the two sides of a comparison taking turns round by
round; the ratio printed is the median of the rounds' ratios, with their spread (CPU time of
this process: on a shared machine a single run can be off by a third either way). Usage:
``python bench/match.py [--captures DIR] [--repeat 9] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from monitor.domain.catalogue import parse_catalogue
from monitor.matching import MatchableItem, Matcher
from monitor.matching.evaluation import load_labelled
from monitor.matching.text import _surface, _tokenizer
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


def rounds(repeat: int, *works: Callable[[], None]) -> list[list[float]]:
    """The CPU time of each of ``repeat`` rounds of each work, the works taking turns within
    a round (so a drift of the machine's speed falls on all alike); CPU time is this
    process's own, so other work on the machine counts against no side."""
    times: list[list[float]] = [[] for _ in works]
    for _ in range(repeat):
        for index, work in enumerate(works):
            start = time.process_time()
            work()
            times[index].append(time.process_time() - start)
    return times


def ratio(side: list[float], floor: list[float]) -> tuple[float, float, float]:
    """Median, least and greatest of the rounds' ratios of ``side`` over ``floor``."""
    ratios = sorted(s / f for s, f in zip(side, floor, strict=True))
    return statistics.median(ratios), ratios[0], ratios[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--captures", type=Path, help="a folder of unpacked .rss captures")
    parser.add_argument("--repeat", type=int, default=9)
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
            unicodedata.normalize("NFKC", title).casefold()
            unicodedata.normalize("NFKC", text).casefold()

    matched: list[int] = []

    def match() -> None:
        matched.append(sum(1 for item in matchable if matcher.match(item)))

    floor_times, match_times = rounds(args.repeat, floor, match)
    t_floor, t_match = statistics.median(floor_times), statistics.median(match_times)
    en_ratio, en_low, en_high = ratio(match_times, floor_times)

    japanese = [
        (i.title, i.lede)
        for i in load_labelled([ROOT / "tests" / "data" / "matching"])
        if i.language == "ja"
    ] * 20
    ja_items = [MatchableItem(title, lede, None) for title, lede in japanese]
    tokenizer = _tokenizer()
    ja_chars = sum(len(t) + len(x) for t, x in japanese)

    def sudachi() -> None:
        for title, lede in japanese:
            tokenizer.tokenize(title)
            tokenizer.tokenize(lede)

    surface = _surface()

    def sudachi_read() -> None:
        # the same, and each token's normalised form read out: what any use of it must do
        for title, lede in japanese:
            list(map(surface, tokenizer.tokenize(title)))
            list(map(surface, tokenizer.tokenize(lede)))

    def match_japanese() -> None:
        for item in ja_items:
            matcher.match(item)

    sudachi_times, read_times, ja_times = rounds(args.repeat, sudachi, sudachi_read, match_japanese)
    t_sudachi, t_read, t_ja = (statistics.median(t) for t in (sudachi_times, read_times, ja_times))
    ja_ratio, ja_low, ja_high = ratio(ja_times, sudachi_times)
    to_read = ratio(ja_times, read_times)[0]
    result = {
        "items": len(items),
        "characters": chars,
        "normalise_s": t_floor,
        "match_s": t_match,
        "ratio": en_ratio,
        "ratio_spread": [en_low, en_high],
        "rounds": args.repeat,
        "items_with_a_match_if_undated": matched[-1],
        "target": "<= 5.0",
        "pass": en_ratio <= 5.0,
        "japanese_items": len(japanese),
        "japanese_characters": ja_chars,
        "sudachi_s": t_sudachi,
        "sudachi_read_s": t_read,
        "match_japanese_s": t_ja,
        "japanese_ratio": ja_ratio,
        "japanese_ratio_spread": [ja_low, ja_high],
        "japanese_target": "<= 1.5",
        "japanese_pass": ja_ratio <= 1.5,
        "japanese_ratio_to_tokens_read": to_read,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"English: {len(items):,} distinct corpus items, {chars:,} characters")
    print(f"  normalise only : {t_floor * 1000:8.1f} ms ({len(items) / t_floor:,.0f} items/s)")
    print(f"  match          : {t_match * 1000:8.1f} ms ({len(items) / t_match:,.0f} items/s)")
    verdict = "PASS" if en_ratio <= 5 else "FAIL"
    print(f"  ratio (median) : {en_ratio:8.2f}x  (target <= 5x: {verdict})")
    print(f"  over {args.repeat} rounds: {en_low:.2f}x to {en_high:.2f}x")
    print(f"  items that would match if undated: {matched[-1]}")
    print(f"Japanese: {len(japanese):,} items, {ja_chars:,} characters")
    print(f"  SudachiPy alone: {t_sudachi * 1000:8.1f} ms")
    print(f"  + tokens read  : {t_read * 1000:8.1f} ms")
    print(f"  match          : {t_ja * 1000:8.1f} ms")
    verdict = "PASS" if ja_ratio <= 1.5 else "FAIL"
    print(f"  ratio (median) : {ja_ratio:8.2f}x  (target <= 1.5x: {verdict})")
    print(f"  over {args.repeat} rounds: {ja_low:.2f}x to {ja_high:.2f}x")
    print(f"  ratio to tokens read out: {to_read:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
