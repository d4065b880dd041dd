"""Story groups: which items tell the same story. Pure: no I/O, no clock, no state.

The same story reaches the queue from several outlets and searches: a Kyodo report on
Kyodo's site, on The Japan Times and through a Google News redirect, each under its own
URL. Items with one canonical URL are one item already (the intake collapses them); this
module decides whether a *new* item joins an existing story. It joins when, compared with
some member of the story:

- its **title** is near-equal: the token sets of the two normalised titles have a Jaccard
  similarity of at least :data:`TITLE_THRESHOLD` (0.7; :data:`CJK_THRESHOLD`, 0.6, for two
  Japanese titles), both titles have at least :data:`MIN_TITLE_TOKENS` tokens (or
  :data:`MIN_CJK_TOKENS` character pairs), and the two titles do not name different numbers
  or acronyms (a substitution of US by EU, G7 by G20 or 2023 by 2024 makes another story);
- or its **lede** is near-equal: the first :data:`LEDE_TOKENS` tokens of the two summaries
  have a Jaccard similarity of at least :data:`LEDE_THRESHOLD` (0.6), and both ledes have at
  least :data:`MIN_LEDE_TOKENS` tokens (wire copy under different headlines);

and it was published within :data:`WINDOW` (3 days) of the story's first member.

Normalising a title: the trailing " - Outlet" or " | Outlet" a news search appends is cut
off (the outlet the item names, or a short run of capitalised words), then NFKC, case
folding, dotted acronyms joined (U.S. -> us), punctuation as spaces, a plural "s" dropped,
and a few English function words left out. Japanese (and Chinese) runs have no spaces: they
are compared as overlapping character pairs (日米経済 -> 日米, 米経, 経済), so a Japanese
title is a set of bigrams and the same Jaccard rule applies (with :data:`MIN_CJK_TOKENS`).

Aggregators' summaries (Google News: the title again and the outlet; GDELT: the title) are
no lede: an item that names an outlet, or whose link is a news.google.com redirect, is
compared on its title only, and a summary that repeats the title has it cut off first.

Deterministic: an item's features depend on its own text only, and :func:`choose` picks
among candidates by similarity, then the earliest story (journal order), so folding the
same events in the same order always gives the same groups.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

#: a title joins a story when its tokens' Jaccard similarity with a member's is at least this
TITLE_THRESHOLD = 0.7
#: the same for two titles read as character pairs (Japanese): the same story is worded
#: more freely there (2+2 / 2プラス2, サプライチェーン / 供給網), so the bar is lower
CJK_THRESHOLD = 0.6
#: the same for ledes (the first words of the summary): longer, so a lower bar suffices
LEDE_THRESHOLD = 0.6
#: titles shorter than this (in word tokens) say too little ("Joint Statement") to group on
MIN_TITLE_TOKENS = 4
#: the same for titles read as character pairs (Japanese)
MIN_CJK_TOKENS = 6
#: how many tokens of the summary make the lede
LEDE_TOKENS = 30
#: ledes shorter than this are not compared
MIN_LEDE_TOKENS = 8
#: how far from the story's first member a new member may be published
WINDOW = timedelta(days=3)
#: index-token prefixes: a title token and a lede token are never the same token
TITLE, LEDE = "t:", "l:"

_STOPWORDS = frozenset(
    {
        *("a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "for", "with", "by"),
        *("from", "as", "is", "are", "was", "were", "be", "been", "its", "it", "this"),
        *("that", "after", "over", "into", "about", "amid", "than", "says", "said"),
    }
)
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3005"
_RUNS = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_CJK_RUN = re.compile(rf"[{_CJK}]+")
#: dotted acronyms: U.S., U.K., E.U. (the dots go, the letters stay together)
_DOTTED = re.compile(r"\b(?:[A-Za-z]\.){2,}")
_POSSESSIVE = re.compile(r"['’]s\b")
_SUFFIX = re.compile(r"\s+[-|–—]\s+([^-|–—]+)$")
_OUTLET_WORDS = frozenset({"of", "the", "and", "&", "de", "for"})
_CJK_OUTLET = re.compile(r"(新聞|ニュース|通信|放送|NHK|日経|共同|時事|経済|新報|タイムズ)$")
_AGGREGATORS = ("news.google.com",)


@dataclass(frozen=True, slots=True)
class Features:
    """What an item is compared on: title tokens, the title's numbers and acronyms, lede."""

    title: frozenset[str]
    distinctive: frozenset[str]
    lede: frozenset[str]
    cjk: bool = False

    def index_tokens(self) -> list[str]:
        """The tokens to index the item under (prefixed: title and lede apart), sorted."""
        return sorted({TITLE + t for t in self.title} | {LEDE + t for t in self.lede})

    @property
    def min_title(self) -> int:
        return MIN_CJK_TOKENS if self.cjk else MIN_TITLE_TOKENS

    @property
    def title_threshold(self) -> float:
        """The lowest title similarity a link of this item can need."""
        return CJK_THRESHOLD if self.cjk else TITLE_THRESHOLD


@dataclass(frozen=True, slots=True)
class Candidate:
    """A member of an existing story, as the read model holds it."""

    story_id: str
    #: the journal position of the story's first member (earlier stories win ties)
    story_position: int
    #: when the story's first member was published (or first seen)
    story_at: datetime
    item_id: str
    features: Features


@dataclass(frozen=True, slots=True)
class Link:
    """Why two items tell one story: the rule and its similarity."""

    rule: Literal["title", "lede"]
    similarity: float

    def describe(self) -> str:
        return f"{self.rule} {self.similarity:.2f}"


@dataclass(frozen=True, slots=True)
class Joined:
    """The story a new item joins, and the member it is closest to."""

    story_id: str
    #: the journal position of the story's first member
    story_position: int
    #: when the story's first member was published
    story_at: datetime
    item_id: str
    link: Link


def strip_outlet(title: str, outlet: str | None = None) -> str:
    """``title`` without the trailing " - Outlet" or " | Outlet" a search engine appends.

    The item's own outlet is always cut; otherwise a trailing segment is cut when it reads
    as a name: at most 4 words, each capitalised or a connector (The Japan Times, Reuters,
    U.S. Department of State), or a short Japanese name ending like one (日本経済新聞).
    """
    title = " ".join(title.split())
    if outlet:
        for separator in (" - ", " | ", " – ", " — "):
            if title.casefold().endswith((separator + outlet.strip()).casefold()):
                return title[: -len(separator + outlet.strip())].rstrip()
    found = _SUFFIX.search(title)
    if found is None or found.start() == 0:
        return title
    segment = found.group(1).strip()
    words = segment.split()
    if _CJK_RUN.search(segment):
        is_name = len(segment) <= 12 and " " not in segment and bool(_CJK_OUTLET.search(segment))
    else:
        is_name = (
            0 < len(words) <= 4
            and len(segment) <= 40
            and all(w[:1].isupper() or w[:1].isdigit() or w in _OUTLET_WORDS for w in words)
            and any(w[:1].isupper() for w in words)
        )
    rest = title[: found.start()].rstrip()
    # A title cut down to one word would say too little: keep it whole then.
    if not is_name or (len(rest.split()) < 2 and not _CJK_RUN.search(rest)):
        return title
    return rest


def _words(text: str) -> list[tuple[str, bool]]:
    """(token, written as an acronym) pairs of ``text``: words and CJK runs, in order."""
    text = unicodedata.normalize("NFKC", text)
    text = _DOTTED.sub(lambda m: m.group().replace(".", "") + " ", text)
    text = _POSSESSIVE.sub("", text)
    return [(m.group(), m.group().isupper() and len(m.group()) > 1) for m in _RUNS.finditer(text)]


def _fold(word: str) -> str:
    word = word.casefold()
    if word in _STOPWORDS:
        return word
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss") and word.isalpha():
        word = word[:-1]
    return word


def tokens(text: str, limit: int | None = None) -> tuple[frozenset[str], frozenset[str], bool]:
    """(tokens, distinctive tokens, mostly CJK) of ``text``.

    Latin words are folded (case, a plural s) and function words dropped; CJK runs become
    character bigrams. Distinctive tokens are numbers and acronyms (US, EU, G7, 2024),
    unless most words are upper case (a SHOUTED title has no acronyms to tell apart).
    """
    out: list[str] = []
    distinctive: set[str] = set()
    words = _words(text)
    shouted = sum(1 for _w, upper in words if upper) * 2 > len(words)
    cjk = 0
    for word, upper in words:
        if _CJK_RUN.fullmatch(word):
            grams = [word] if len(word) == 1 else [word[i : i + 2] for i in range(len(word) - 1)]
            out.extend(grams)
            cjk += len(grams)
            continue
        folded = _fold(word)[:100]
        if folded in _STOPWORDS:
            continue
        out.append(folded)
        if any(ch.isdigit() for ch in folded) or (upper and not shouted):
            distinctive.add(folded)
    if limit is not None:
        out = out[:limit]
        distinctive &= set(out)
    return frozenset(out), frozenset(distinctive), cjk * 2 > len(out)


def is_aggregator_link(url: str | None) -> bool:
    """Whether ``url`` is a news search's redirect (Google News) rather than the publisher's."""
    if not url:
        return False
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return host in _AGGREGATORS


def lede_text(title: str, summary: str, *, outlet: str | None, url: str | None) -> str:
    """The part of ``summary`` worth comparing: none for aggregators, no repeated title."""
    if outlet or is_aggregator_link(url):
        return ""
    summary = " ".join(summary.split())
    title = " ".join(title.split())
    if title and summary.casefold().startswith(title.casefold()):
        summary = summary[len(title) :]
    return summary


def features(
    title: str, summary: str = "", *, outlet: str | None = None, url: str | None = None
) -> Features:
    """The features of one item (its title, and its summary's first words)."""
    title_tokens, distinctive, cjk = tokens(strip_outlet(title, outlet))
    lede, _d, _c = tokens(lede_text(title, summary, outlet=outlet, url=url), LEDE_TOKENS)
    if len(lede) < MIN_LEDE_TOKENS:
        lede = frozenset()
    return Features(title_tokens, distinctive, lede, cjk)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a ∩ b| / |a ∪ b| (0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def link(a: Features, b: Features) -> Link | None:
    """Whether two items tell one story, by title or by lede (the stronger reason)."""
    found: list[Link] = []
    short = len(a.title) < a.min_title or len(b.title) < b.min_title
    if not short:
        similarity = jaccard(a.title, b.title)
        threshold = CJK_THRESHOLD if a.cjk and b.cjk else TITLE_THRESHOLD
        # Each names a number or acronym the other lacks: US/EU, G7/G20, 2023/2024.
        substituted = bool(a.distinctive - b.title) and bool(b.distinctive - a.title)
        if similarity >= threshold and not substituted:
            found.append(Link("title", round(similarity, 4)))
    if a.lede and b.lede:
        similarity = jaccard(a.lede, b.lede)
        if similarity >= LEDE_THRESHOLD:
            found.append(Link("lede", round(similarity, 4)))
    return max(found, key=lambda f: (f.similarity, f.rule == "title"), default=None)


def probe_tokens(item: Features, frequency: Mapping[str, int]) -> list[str]:
    """The index tokens worth looking up to find every member ``item`` could join.

    A member with title similarity >= t shares at least ceil(t * n) of the item's n title
    tokens, so it holds at least one of any n - ceil(t * n) + 1 of them: the rarest ones
    (by ``frequency``, how many members hold each) are looked up. Ledes likewise. Tokens no
    member holds are left out: when all of them are, there is nothing to look up.
    """
    probes: list[str] = []
    for prefix, group, threshold, least in (
        (TITLE, item.title, item.title_threshold, item.min_title),
        (LEDE, item.lede, LEDE_THRESHOLD, MIN_LEDE_TOKENS),
    ):
        if len(group) < least:
            continue
        needed = len(group) - math.ceil(threshold * len(group) - 1e-9) + 1
        rarest = sorted((frequency.get(prefix + t, 0), prefix + t) for t in group)[:needed]
        probes += [token for n, token in rarest if n > 0]
    return probes


def choose(item: Features, at: datetime, candidates: Iterable[Candidate]) -> Joined | None:
    """The story ``item`` (published ``at``) joins, or None: it starts a story of its own.

    Among members it links to, within :data:`WINDOW` of their story's start: the most
    similar; on a tie, the earliest story, then the smallest item id.
    """
    best: tuple[tuple[float, int, str], Joined] | None = None
    for candidate in candidates:
        if abs(at - candidate.story_at) > WINDOW:
            continue
        found = link(item, candidate.features)
        if found is None:
            continue
        rank = (-found.similarity, candidate.story_position, candidate.item_id)
        if best is None or rank < best[0]:
            best = (
                rank,
                Joined(
                    candidate.story_id,
                    candidate.story_position,
                    candidate.story_at,
                    candidate.item_id,
                    found,
                ),
            )
    return best[1] if best else None
