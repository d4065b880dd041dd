"""A commitment's match rules, compiled: concepts as variant keys, rules as concept ids.

Concepts with the same variants are one concept however many commitments use them, so each
is looked for once per item. The first form of the rules (term lists) compiles into the same
shape: one concept and one rule per term, worth what a term was worth then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from monitor.domain.commitment import made_at
from monitor.events import CommitmentRegistered, Concept, MatchRule, MatchRules, Within

#: what one term of the first form was worth; a statement term, a title hit, an extra rule
LEGACY_TERM = 0.35
LEGACY_STATEMENT = 0.15


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with its concepts as ids into the matcher's concept table."""

    name: str
    all_of: frozenset[int]
    any_of: frozenset[int]
    none_of: frozenset[int]
    near: tuple[int, ...]
    within: Within
    weight: float
    #: every concept whose presence the rule reads (all_of, any_of, near)
    positive: frozenset[int] = frozenset()


@dataclass(slots=True)
class CompiledCommitment:
    commitment_id: str
    made_at: datetime
    rules: list[CompiledRule] = field(default_factory=list)
    #: every concept a rule of this commitment needs to see (a quick "could fire" test)
    concepts: set[int] = field(default_factory=set)


@dataclass(slots=True)
class ConceptTable:
    """Distinct concepts (by their variants) and a readable name for each."""

    ids: dict[tuple[tuple[str, ...], tuple[str, ...]], int] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    variants: list[Concept] = field(default_factory=list)

    def add(self, name: str, concept: Concept) -> int:
        key = (tuple(sorted(concept.en)), tuple(sorted(concept.ja)))
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = len(self.names)
            self.names.append(name)
            self.variants.append(concept)
        return found


def concept_form(rules: MatchRules, statement: MatchRules) -> MatchRules:
    """``rules`` in the concept form (first-form term lists converted)."""
    if rules.rules:
        return rules
    concepts: dict[str, Concept] = {}
    compiled: list[MatchRule] = []
    exclude = tuple(sorted({*rules.exclude, *statement.exclude}))
    for term in exclude:
        concepts[f"not {term}"] = _one(term)
    excluded = tuple(f"not {t}" for t in exclude)
    for term in (*rules.terms_en, *rules.terms_ja):
        concepts[term] = _one(term)
        compiled.append(MatchRule(name=term, any_of=(term,), none_of=excluded, weight=LEGACY_TERM))
    for ambiguous in rules.ambiguous:
        concepts[ambiguous.term] = _one(ambiguous.term)
        context = f"context of {ambiguous.term}"
        concepts[context] = Concept(
            en=tuple(t for t in ambiguous.requires_any if t.isascii()),
            ja=tuple(t for t in ambiguous.requires_any if not t.isascii()),
        )
        compiled.append(
            MatchRule(
                name=f"{ambiguous.term} (with context)",
                all_of=(ambiguous.term, context),
                none_of=excluded,
                weight=LEGACY_TERM,
            )
        )
    for term in (*statement.terms_en, *statement.terms_ja):
        concepts[term] = _one(term)
        compiled.append(
            MatchRule(name=term, any_of=(term,), none_of=excluded, weight=LEGACY_STATEMENT)
        )
    return MatchRules(concepts=concepts, rules=tuple(compiled))


def _one(term: str) -> Concept:
    return Concept(en=(term,)) if term.isascii() else Concept(ja=(term,))


def compile_commitment(spec: CommitmentRegistered, table: ConceptTable) -> CompiledCommitment:
    """One commitment's rules as concept ids (unknown concept names were refused earlier)."""
    rules = concept_form(spec.match, spec.statement_match)
    out = CompiledCommitment(spec.commitment_id, made_at(spec.made_on))
    ids = {name: table.add(name, concept) for name, concept in rules.concepts.items()}
    for rule in rules.rules:
        all_of = frozenset(ids[n] for n in rule.all_of)
        any_of = frozenset(ids[n] for n in rule.any_of)
        near = tuple(ids[n] for n in rule.near)
        compiled = CompiledRule(
            rule.name,
            all_of,
            any_of,
            frozenset(ids[n] for n in rule.none_of),
            near,
            rule.within,
            rule.weight,
            all_of | any_of | frozenset(near),
        )
        out.rules.append(compiled)
        out.concepts |= compiled.positive
    return out
