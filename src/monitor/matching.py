"""Matching news items to commitments: a pure function of (item, catalogue rules).

Text is NFKC-normalised and case-folded, so full-width and half-width forms, and upper and
lower case, match alike. Terms are found in one pass with an Aho-Corasick automaton (Japanese
has no word boundaries, so a term is found anywhere); a Latin-script term must also stand on
word boundaries ("EPCC" does not match "EPCCX"). Ambiguous acronyms count only with one of
their required context terms in the same item (NSTC is also the White House science
council; IPA means many things). Exclusions veto a match. The result carries a score and the
matched terms as the explanation.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import ahocorasick

from monitor.commitment import made_at
from monitor.events import CommitmentRegistered, MatchRules

#: bump when the algorithm changes (the rules' own hash is added to it)
ALGORITHM_VERSION = 4

# weight of one distinct term of each kind, and of a term found in the title
COMMITMENT_TERM = 0.35
AMBIGUOUS_TERM = 0.35
STATEMENT_TERM = 0.15
TITLE_BONUS = 0.15
#: below this an item is not proposed: one generic term in the body ("NIST" in every item of
#: NIST's own feed, "IPEF" in any trade story) is noise in a reviewer's queue. One term in
#: the title, two terms, or a term and the statement's name are enough.
MIN_SCORE = 0.5


# Quotation marks carry no meaning for matching, and publishers vary them: the State
# Department writes Economic “2+2”, Japanese press 経済版「2+2」.
_QUOTES = str.maketrans("", "", "\"'“”„‟‘’‚‛「」『』«»‹›〝〞")


def normalise(text: str) -> str:
    """NFKC, case folding, no quotation marks, single spaces: how terms and texts compare."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().translate(_QUOTES).split())


def _is_wordlike(char: str) -> bool:
    return char.isascii() and char.isalnum()


@dataclass(frozen=True, slots=True)
class Match:
    """Why an item looks like evidence about one commitment."""

    commitment_id: str
    score: float
    terms: tuple[str, ...]


@dataclass(slots=True)
class _Rules:
    commitment_id: str
    made_at: datetime
    terms: set[str] = field(default_factory=set)
    ambiguous: dict[str, tuple[str, ...]] = field(default_factory=dict)
    exclude: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class MatchableItem:
    """What the matcher reads of an item (all of it untrusted text)."""

    title: str
    text: str
    #: when the publisher says it appeared (None: undated, treated as new)
    published_at: datetime | None


class Matcher:
    """The catalogue's rules compiled once; :meth:`match` is pure and fast."""

    def __init__(self, commitments: Iterable[CommitmentRegistered]) -> None:
        self._rules: list[_Rules] = []
        self._statement_terms: set[str] = set()
        self._statement_exclude: set[str] = set()
        self._original: dict[str, str] = {}
        canonical: list[object] = []
        for c in sorted(commitments, key=lambda c: c.commitment_id):
            rules = _Rules(c.commitment_id, made_at(c.made_on))
            rules.terms = {self._add(t) for t in (*c.match.terms_en, *c.match.terms_ja)}
            rules.ambiguous = {
                self._add(a.term): tuple(self._add(x) for x in a.requires_any)
                for a in c.match.ambiguous
            }
            rules.exclude = {self._add(t) for t in c.match.exclude}
            self._rules.append(rules)
            self._statement_terms |= {self._add(t) for t in _terms(c.statement_match)}
            self._statement_exclude |= {self._add(t) for t in c.statement_match.exclude}
            canonical.append(
                [
                    c.commitment_id,
                    str(c.made_on),
                    c.match.model_dump(mode="json"),
                    c.statement_match.model_dump(mode="json"),
                ]
            )
        canonical.append(["min_score", MIN_SCORE])
        digest = hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()
        #: identifies algorithm and rules: proposals record it, rematch compares it
        self.version = f"{ALGORITHM_VERSION}.{digest[:12]}"
        self._automaton = ahocorasick.Automaton()
        for term in self._original:
            self._automaton.add_word(term, term)
        if self._original:
            self._automaton.make_automaton()

    def _add(self, term: str) -> str:
        key = normalise(term)
        if key:
            self._original.setdefault(key, term)
        return key

    def found_terms(self, text: str) -> set[str]:
        """Every catalogue term (normalised) that occurs in ``text`` (already normalised)."""
        if not self._original:
            return set()
        found: set[str] = set()
        for end, term in self._automaton.iter(text):
            start = end - len(term) + 1
            if _is_wordlike(term[0]) and start > 0 and _is_wordlike(text[start - 1]):
                continue
            if _is_wordlike(term[-1]) and end + 1 < len(text) and _is_wordlike(text[end + 1]):
                continue
            found.add(term)
        return found

    def match(self, item: MatchableItem) -> list[Match]:
        """The commitments ``item`` may be evidence for, best first.

        Only items published on or after the day a commitment was made (wherever that day
        had begun, as for assessments) are proposed: anything earlier is context, not
        progress. An undated item counts as new.
        """
        title = normalise(item.title)
        found = self.found_terms(title + " \n " + normalise(item.text))
        if not found:
            return []
        in_title = self.found_terms(title)
        statement = (found & self._statement_terms) - set()
        if found & self._statement_exclude:
            statement = set()
        matches = []
        for rules in self._rules:
            if item.published_at is not None and item.published_at < rules.made_at:
                continue
            if found & rules.exclude:
                continue
            hits = found & rules.terms
            resolved = {
                term
                for term, context in rules.ambiguous.items()
                if term in found and any(c in found for c in context)
            }
            if not hits and not resolved:
                continue
            score = (
                COMMITMENT_TERM * len(hits)
                + AMBIGUOUS_TERM * len(resolved)
                + STATEMENT_TERM * len(statement)
                + (TITLE_BONUS if in_title & (hits | resolved) else 0.0)
            )
            if score < MIN_SCORE - 1e-9:
                continue
            terms = sorted(self._original[t] for t in hits | resolved | statement)
            matches.append(Match(rules.commitment_id, round(min(score, 1.0), 3), tuple(terms)))
        matches.sort(key=lambda m: (-m.score, m.commitment_id))
        return matches


def _terms(rules: MatchRules) -> tuple[str, ...]:
    return (*rules.terms_en, *rules.terms_ja)
