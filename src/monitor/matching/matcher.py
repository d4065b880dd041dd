"""Matching news items to commitments: a pure function of (item, rules, learned weights).

Each commitment's rules say what it is about as an analyst's media-monitoring query does:
concepts (sets of English and Japanese variants) combined as all-of / any-of / none-of, with
proximity (within N words, or one sentence). The variants of every concept are found in one
Aho-Corasick pass over the English form of the text and, when the text holds Japanese, one
over its SudachiPy tokens. A fired rule is worth its weight (times what review has taught of
it); an item's score for a commitment is its best rule, plus a little for each other rule
that fired and for a hit in the title. The result names the rules and the words that fired.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

from ahocorasick_rs import AhoCorasick, Implementation

from monitor.events import CommitmentRegistered, MatchReason
from monitor.matching.rules import (
    CompiledCommitment,
    CompiledRule,
    ConceptTable,
    compile_commitment,
    concept_form,
)
from monitor.matching.text import (
    SEP,
    Tokens,
    english_keys,
    has_japanese,
    japanese_key,
    normalise,
    tokenize,
)

#: bump when the algorithm changes (the rules' own hash is added to it)
ALGORITHM_VERSION = 5
#: below this an item is not proposed
MIN_SCORE = 0.5
#: what each further rule that fired adds, and a hit in the title
EXTRA_RULE = 0.15
TITLE_BONUS = 0.1
#: a learned factor never takes a rule below or above these (review is evidence, not law)
LEARNED_BOUNDS = (0.5, 1.5)

_TITLE, _BODY = 0, 1
#: an explanation's words are the item's words for a variant: never longer than this
MAX_WORDS = 200
_ABBREVIATION = 3  # a word of at most this many letters before a full stop: "U.S.", "Inc."
_SENTENCE_END = re.compile(r"[.!?;](?= )")
_LATIN = re.compile(r"[a-z]")
#: an English key that is one word of letters and digits
_WORD_KEY = re.compile(r"[a-z0-9]+")
#: ASCII bytes: letters and digits kept, everything else a space ("?" stands for non-ASCII)
_ONLY_WORDS = bytes(c if chr(c).isalnum() else 0x20 for c in range(128)).ljust(256, b" ")


class Reason(NamedTuple):
    """One part of a match's score (the event's :class:`MatchReason`, before validation).

    A named tuple: several are made for every match, and it is the cheapest immutable
    record to build.
    """

    kind: Literal["rule", "title", "learned"]
    name: str
    words: tuple[str, ...] = ()
    weight: float = 0.0

    def event(self) -> MatchReason:
        """The validated form that a proposal records."""
        return MatchReason(kind=self.kind, name=self.name, words=self.words, weight=self.weight)


@dataclass(frozen=True, slots=True)
class Match:
    """Why an item looks like evidence about one commitment."""

    commitment_id: str
    score: float
    terms: tuple[str, ...]
    explanation: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleReport:
    """One rule applied to one item: what it found, what it missed, whether it fired."""

    commitment_id: str
    rule: str
    weight: float
    learned: float
    fired: bool
    #: concept -> the item's words for it, for every concept the rule names that is there
    present: dict[str, tuple[str, ...]]
    #: what the rule needs and the item lacks
    missing: tuple[str, ...]
    vetoed_by: tuple[str, ...]
    #: the concepts of ``near`` are there, but not close enough
    too_far: bool


@dataclass(frozen=True, slots=True)
class MatchableItem:
    """What the matcher reads of an item (all of it untrusted text)."""

    title: str
    text: str
    #: when the publisher says it appeared (None: undated, treated as new)
    published_at: datetime | None


def _is_wordlike(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _whole_words(key: str, text: str, start: int, stop: int) -> bool:
    """Whether ``key``, found at ``text[start:stop]``, is not part of a longer word."""
    if _is_wordlike(key[0]) and start > 0 and _is_wordlike(text[start - 1]):
        return False
    return not (_is_wordlike(key[-1]) and stop < len(text) and _is_wordlike(text[stop]))


@dataclass(slots=True, eq=False)  # compared and hashed by identity: one per field of an item
class _Field:
    """One field of an item (title or body) in the form it was searched in."""

    kind: int
    english: str
    tokens: Tokens | None = None
    _sentences: list[int] | None = None

    def word_index(self, japanese: bool, offset: int) -> int:
        if japanese:
            assert self.tokens is not None
            return self.tokens.token_at(offset)
        return self.english.count(" ", 0, offset)

    def sentence_index(self, japanese: bool, offset: int) -> int:
        if japanese:
            assert self.tokens is not None
            return self.tokens.joined.count(SEP + "。" + SEP, 0, offset)
        if self._sentences is None:
            self._sentences = [
                m.start()
                for m in _SENTENCE_END.finditer(self.english)
                if not _abbreviation(self.english, m.start())
            ]
        return sum(1 for end in self._sentences if end < offset)


def _abbreviation(text: str, stop: int) -> bool:
    word_start = text.rfind(" ", 0, stop) + 1
    word = text[word_start:stop]
    return text[stop] == "." and (len(word) <= _ABBREVIATION or "." in word)


class _Hit(NamedTuple):
    """One occurrence of a variant (a named tuple: made for every occurrence, so cheap)."""

    field: _Field
    japanese: bool
    #: where the variant begins and ends (inclusive) in the searched form of the field
    start: int
    end: int

    @property
    def words(self) -> str:
        """The item's words for this hit, as written (computed only for an explanation)."""
        if not self.japanese:
            return self.field.english[self.start : self.end + 1]
        tokens = self.field.tokens
        assert tokens is not None
        return tokens.written(tokens.token_at(self.start), tokens.token_at(self.end - 1))


class _Keys:
    """Variant keys, each with the concepts it stands for, found in a text in one call.

    Aho-Corasick (the Rust crate, as a DFA): every occurrence of every key, overlapping ones
    included, as (key index, start, stop) in characters. ``pad`` is put on both sides of
    each key as it is looked for.
    """

    __slots__ = ("_automaton", "keys")

    def __init__(self, keys: Mapping[str, set[int]], pad: str = "") -> None:
        #: (key, concept ids), in the automaton's order
        self.keys = [(key, tuple(sorted(ids))) for key, ids in keys.items()]
        self._automaton = (
            # a DFA: more memory (a few MB for the catalogue) for about 3x the scan speed
            AhoCorasick(
                [pad + key + pad for key, _ in self.keys], implementation=Implementation.DFA
            )
            if keys
            else None
        )

    def __bool__(self) -> bool:
        return self._automaton is not None

    def find(self, text: str) -> list[tuple[int, int, int]]:
        if self._automaton is None:
            return []
        return self._automaton.find_matches_as_indexes(text, overlapping=True)


#: builds a _Hit without the Python-level ``__new__`` of a named tuple (one per occurrence)
_new_hit = tuple.__new__


@dataclass(slots=True)
class _Found:
    hits: dict[int, list[_Hit]] = field(default_factory=dict)
    #: a Japanese variant's normalised tokens -> the words as written where first found
    _written: dict[str, str] = field(default_factory=dict)
    #: concept -> (its distinct words in the item, those of them in the title)
    _concept_words: dict[int, tuple[frozenset[str], frozenset[str]]] = field(default_factory=dict)

    def add(self, filed: Iterable[tuple[tuple[int, ...], _Hit]]) -> None:
        """File each hit under each concept its variant stands for. Called once per search
        with all its hits (a generator): this loop runs once per occurrence, so it makes no
        list when the concept has one already and no call per hit."""
        hits = self.hits
        get = hits.get
        for concepts, hit in filed:
            for concept in concepts:
                listed = get(concept)
                if listed is None:
                    hits[concept] = [hit]
                else:
                    listed.append(hit)

    def concept_words(self, concept: int) -> tuple[frozenset[str], frozenset[str]]:
        """The item's distinct words for ``concept``, and those in the title: worked out
        once per concept however many rules name it."""
        known = self._concept_words.get(concept)
        if known is None:
            everywhere: set[str] = set()
            in_title: set[str] = set()
            for hit in self.hits[concept]:
                words = self.words(hit)
                everywhere.add(words)
                if hit.field.kind == _TITLE:
                    in_title.add(words)
            known = self._concept_words[concept] = (frozenset(everywhere), frozenset(in_title))
        return known

    def words(self, hit: _Hit) -> str:
        """``hit.words``; for Japanese, worked out once per distinct word (日本 ten times in a
        text is one word to explain)."""
        if not hit.japanese:
            return hit.field.english[hit.start : hit.end + 1][:MAX_WORDS]
        tokens = hit.field.tokens
        assert tokens is not None
        key = tokens.joined[hit.start : hit.end]
        found = self._written.get(key)
        if found is None:
            # mostly the text wrote the words as their normalised forms: one substring
            # search, and the analyser is asked where the words stand only when it did not
            plain = key.replace(SEP, "")
            if tokens.text is not None and plain in tokens.text:
                found = plain[:MAX_WORDS]
            else:
                found = hit.words[:MAX_WORDS]
            self._written[key] = found
        return found


class Matcher:
    """The catalogue's rules compiled once; :meth:`match` is pure and fast."""

    def __init__(
        self,
        commitments: Iterable[CommitmentRegistered],
        learned: Mapping[tuple[str, str], float] | None = None,
    ) -> None:
        self._table = ConceptTable()
        self._commitments: list[CompiledCommitment] = []
        canonical: list[object] = []
        for c in sorted(commitments, key=lambda c: c.commitment_id):
            self._commitments.append(compile_commitment(c, self._table))
            canonical.append(
                [
                    c.commitment_id,
                    str(c.made_on),
                    concept_form(c.match, c.statement_match).model_dump(mode="json"),
                ]
            )
        canonical.append(["min_score", MIN_SCORE, EXTRA_RULE, TITLE_BONUS])
        digest = hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()
        #: identifies algorithm and rules: proposals record it, rematch compares it
        self.version = f"{ALGORITHM_VERSION}.{digest[:12]}"
        #: factor per (commitment, rule name) learned from review decisions
        self.learned = dict(learned or {})
        english: dict[str, set[int]] = {}
        japanese: dict[str, set[int]] = {}
        for concept_id, concept in enumerate(self._table.variants):
            for variant in concept.en:
                for key in english_keys(variant):
                    if key:
                        english.setdefault(key, set()).add(concept_id)
            for variant in concept.ja:
                if variant.isascii():  # "LSTC" in a Japanese list is still Latin script
                    english.setdefault(normalise(variant), set()).add(concept_id)
                elif (key := japanese_key(variant)) != SEP:
                    japanese.setdefault(key, set()).add(concept_id)
        # A single word of letters and digits is looked for with its word boundaries as part
        # of the key, in a copy of the text where every other character is a space: only
        # whole words are found ("un" not in "under", "nist" not in "minister"), where a
        # search for the bare word yields every occurrence inside a longer one to be
        # checked and dropped. Keys with spaces or punctuation are checked one by one.
        words = {k: english.pop(k) for k in list(english) if _WORD_KEY.fullmatch(k)}
        self._english = _Keys(english)
        self._words = _Keys(words, pad=" ")
        self._japanese = _Keys(japanese)
        self._every_key_latin = all(_LATIN.search(key) for key in (*english, *words))
        self._triggers = _triggers(self._commitments)

    def with_learned(self, learned: Mapping[tuple[str, str], float]) -> Matcher:
        """The same rules with other learned factors (compiled parts shared)."""
        clone = object.__new__(Matcher)
        for name in (
            "_table",
            "_commitments",
            "version",
            "_english",
            "_words",
            "_japanese",
            "_triggers",
        ):
            setattr(clone, name, getattr(self, name))
        clone._every_key_latin = self._every_key_latin
        clone.learned = dict(learned)
        return clone

    # -- finding -------------------------------------------------------------------------

    def _find_english(self, found: _Found, part: _Field) -> None:
        english = part.english
        if not english:
            return
        if self._every_key_latin and not _LATIN.search(english):
            return  # no Latin letter, so no key can be there (Japanese text, often)
        if self._words:
            # one character for one: offsets stay those of the text (shifted by the pad)
            bounded = english.encode("ascii", "replace").translate(_ONLY_WORDS).decode("ascii")
            keys = self._words.keys
            found.add(
                (
                    keys[index][1],
                    _new_hit(_Hit, (part, False, start, start + len(keys[index][0]) - 1)),
                )
                for index, start, _ in self._words.find(" " + bounded + " ")
            )
        if not self._english:
            return
        keys = self._english.keys
        found.add(
            (keys[index][1], _new_hit(_Hit, (part, False, start, stop - 1)))
            for index, start, stop in self._english.find(english)
            if _whole_words(keys[index][0], english, start, stop)
        )

    def _find_japanese(self, found: _Found, title: _Field, body: _Field) -> None:
        """Japanese variants in the title and the body, tokenised together when both hold
        Japanese: one call of the analyser costs less than two (its per-call overhead is
        about that of a short title's analysis)."""
        wanted = [p for p in (title, body) if has_japanese(p.english)]
        if not wanted:
            return
        if len(wanted) == 2:
            tokens = tokenize(title.english + "\n" + body.english)
            boundary = tokens.joined.find(SEP + "\n" + SEP)
            if boundary >= 0:
                title.tokens = body.tokens = tokens
                self._japanese_hits(found, tokens, title, body, boundary)
                return
        for part in wanted:
            part.tokens = tokenize(part.english)
            self._japanese_hits(found, part.tokens, part, part, len(part.tokens.joined))

    def _japanese_hits(
        self, found: _Found, tokens: Tokens, first: _Field, second: _Field, boundary: int
    ) -> None:
        """Hits before ``boundary`` of the joined tokens belong to ``first``, the rest to
        ``second``."""
        keys = self._japanese.keys
        found.add(
            (
                keys[index][1],
                _new_hit(_Hit, (first if start < boundary else second, True, start + 1, stop - 1)),
            )
            for index, start, stop in self._japanese.find(tokens.joined)
        )

    def _found(self, item: MatchableItem) -> _Found:
        found = _Found()
        title, body = _Field(_TITLE, normalise(item.title)), _Field(_BODY, normalise(item.text))
        self._find_english(found, title)
        self._find_english(found, body)
        if self._japanese:
            self._find_japanese(found, title, body)
        return found

    def explain(self, item: MatchableItem, commitment_id: str | None = None) -> list[RuleReport]:
        """Every rule of every commitment (or one), whether it fired, and why (or why not)."""
        found = self._found(item)
        names = self._table.names
        reports = []
        for commitment in self._commitments:
            if commitment_id is not None and commitment.commitment_id != commitment_id:
                continue
            if commitment_id is None and commitment.concepts.isdisjoint(found.hits):
                continue
            for rule in commitment.rules:
                present = {
                    names[c]: tuple(sorted({h.words for h in found.hits[c]}))
                    for c in sorted(rule.positive | rule.none_of)
                    if c in found.hits
                }
                missing = [names[c] for c in sorted(rule.all_of) if c not in found.hits]
                if rule.any_of and rule.any_of.isdisjoint(found.hits):
                    missing.append(" or ".join(sorted(names[c] for c in rule.any_of)))
                factor = self.learned.get((commitment.commitment_id, rule.name), 1.0)
                reports.append(
                    RuleReport(
                        commitment_id=commitment.commitment_id,
                        rule=rule.name,
                        weight=rule.weight,
                        learned=min(max(factor, LEARNED_BOUNDS[0]), LEARNED_BOUNDS[1]),
                        fired=_fires(rule, found),
                        present=present,
                        missing=tuple(missing),
                        vetoed_by=tuple(sorted(names[c] for c in rule.none_of if c in found.hits)),
                        too_far=bool(rule.near)
                        and all(c in found.hits for c in rule.near)
                        and not _near(rule, found.hits),
                    )
                )
        return reports

    # -- deciding ------------------------------------------------------------------------

    def match(self, item: MatchableItem) -> list[Match]:
        """The commitments ``item`` may be evidence for, best first.

        Only items published on or after the day a commitment was made (wherever that day
        had begun, as for assessments) are proposed: anything earlier is context, not
        progress. An undated item counts as new.
        """
        found = self._found(item)
        if not found.hits:
            return []
        present = frozenset(found.hits)
        # only rules whose trigger concept is there can fire: a look-up, not a test per rule
        triggered: set[tuple[int, int]] = set()
        triggers = self._triggers
        for concept in present:
            rules = triggers.get(concept)
            if rules is not None:
                triggered.update(rules)
        by_commitment: dict[int, list[CompiledRule]] = {}
        for c, r in sorted(triggered):
            rule = self._commitments[c].rules[r]
            if _admits(rule, present):
                by_commitment.setdefault(c, []).append(rule)
        matches = []
        for c, candidates in by_commitment.items():
            commitment = self._commitments[c]
            if item.published_at is not None and item.published_at < commitment.made_at:
                continue
            match = self._score(commitment, found, candidates)
            if match is not None:
                matches.append(match)
        matches.sort(key=lambda m: (-m.score, m.commitment_id))
        return matches

    def _score(
        self, commitment: CompiledCommitment, found: _Found, candidates: list[CompiledRule]
    ) -> Match | None:
        fired: list[tuple[CompiledRule, float, frozenset[int]]] = []
        hits = found.hits
        for rule in candidates:
            if rule.near and not _near(rule, hits):
                continue
            factor = self.learned.get((commitment.commitment_id, rule.name), 1.0)
            factor = min(max(factor, LEARNED_BOUNDS[0]), LEARNED_BOUNDS[1])
            fired.append((rule, min(rule.weight * factor, 1.0), rule.positive & hits.keys()))
        if not fired:
            return None
        fired.sort(key=lambda f: (-f[1], f[0].name))
        score = fired[0][1] + EXTRA_RULE * (len(fired) - 1)
        if score + TITLE_BONUS < MIN_SCORE - 1e-9:
            return None  # decided before the words are read: most items end here
        in_title = any(
            h.field.kind == _TITLE for _, _, concepts in fired for c in concepts for h in hits[c]
        )
        if score + (TITLE_BONUS if in_title else 0.0) < MIN_SCORE - 1e-9:
            return None
        reasons: list[Reason] = []
        words: set[str] = set()
        title_words: set[str] = set()
        for rule, weight, concepts in fired:
            seen: set[str] = set()
            for concept in concepts:
                all_words, in_the_title = found.concept_words(concept)
                seen |= all_words
                title_words |= in_the_title
            rule_words = tuple(sorted(seen))
            words.update(rule_words)
            reasons.append(Reason(kind="rule", name=rule.name, words=rule_words, weight=weight))
            factor = weight / rule.weight
            if abs(factor - 1.0) > 1e-6:
                reasons.append(
                    Reason(
                        kind="learned",
                        name=f"review of rule {rule.name!r}",
                        weight=round(factor, 3),
                    )
                )
        if in_title:
            score += TITLE_BONUS
            reasons.append(
                Reason(
                    kind="title", name="in the title", words=tuple(sorted(title_words)),
                    weight=TITLE_BONUS,
                )
            )  # fmt: skip
        return Match(
            commitment.commitment_id,
            round(min(score, 1.0), 3),
            tuple(sorted(words)),
            tuple(reasons),
        )


def _admits(rule: CompiledRule, present: frozenset[int]) -> bool:
    """What the concepts found decide of a rule: all of, any of, none of."""
    return (
        rule.all_of <= present
        and (not rule.any_of or not rule.any_of.isdisjoint(present))
        and rule.none_of.isdisjoint(present)
    )


def _fires(rule: CompiledRule, found: _Found) -> bool:
    return _admits(rule, frozenset(found.hits)) and (not rule.near or _near(rule, found.hits))


def _triggers(commitments: list[CompiledCommitment]) -> dict[int, tuple[tuple[int, int], ...]]:
    """Concept -> the (commitment, rule) positions it triggers.

    A rule can fire only if each of its all-of concepts is there, or one of its any-of: it
    is filed under the all-of concept fewest rules name (so the item's commonest words, such
    as Japan, wake few rules), or under each any-of concept when it has no all-of.
    """
    uses: dict[int, int] = {}
    for commitment in commitments:
        for rule in commitment.rules:
            for concept in rule.positive:
                uses[concept] = uses.get(concept, 0) + 1
    index: dict[int, list[tuple[int, int]]] = {}
    for c, commitment in enumerate(commitments):
        for r, rule in enumerate(commitment.rules):
            required = rule.all_of | frozenset(rule.near)
            keys = [min(required, key=lambda k: (uses[k], k))] if required else rule.any_of
            for key in keys:
                index.setdefault(key, []).append((c, r))
    return {concept: tuple(rules) for concept, rules in index.items()}


def _near(rule: CompiledRule, hits: dict[int, list[_Hit]]) -> bool:
    """Whether every concept of ``rule.near`` stands close to one hit of the first."""
    if any(c not in hits for c in rule.near):
        return False
    anchor, *others = rule.near
    for a in hits[anchor]:
        if all(any(_close(rule.within, a, b) for b in hits[other]) for other in others):
            return True
    return False


def _close(within: int | str, a: _Hit, b: _Hit) -> bool:
    if a.field is not b.field or a.japanese != b.japanese:
        return False
    if within == "sentence":
        return a.field.sentence_index(a.japanese, a.start) == b.field.sentence_index(
            b.japanese, b.start
        )
    assert isinstance(within, int)
    distance = abs(
        a.field.word_index(a.japanese, a.start) - b.field.word_index(b.japanese, b.start)
    )
    return distance <= within
