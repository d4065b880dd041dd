"""News-search URLs built from a commitment's match rules, so that a rule change widens what
is fetched as well as what is matched. Pure.

A rule reads as a query: each concept of ``all_of`` is one group of alternatives (its
variants in the search's language, OR-ed), all groups must be present, and ``any_of`` adds
one group of all its concepts' variants. Google News reads ``a OR b c OR d`` as (a or b)
and (c or d); GDELT wants the alternatives in parentheses. A query is kept under
:data:`MAX_QUERY` characters by taking variants from each group in turn, so every group
keeps at least its first variant. ``none_of`` is left to the matcher (it vetoes on the
whole text, which a search engine's exclusion would not see the same way).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote_plus

from monitor.events import Concept, MatchRule, MatchRules

ENGINES = ("google-news", "gdelt")
#: Google News stops reading long queries; keep well under its limit
MAX_QUERY = 250
_BARE = re.compile(r"^[\w-]+$")
_GOOGLE = {
    "en": "hl=en-US&gl=US&ceid=US:en",
    "ja": "hl=ja&gl=JP&ceid=JP:ja",
}


class QueryError(ValueError):
    """The search cannot be built: the message says which part of it is wrong."""


@dataclass(frozen=True, slots=True)
class Search:
    """What a sources-file entry asks to search for."""

    engine: str
    commitment: str
    rule: str | None = None
    #: restrict to one site ("mofa.go.jp")
    site: str | None = None
    #: Google News: how far back ("7d")
    window: str = "7d"


def pick_rule(rules: MatchRules, name: str | None) -> MatchRule:
    """The named rule, or the commitment's strongest (its first of the highest weight)."""
    if not rules.rules:
        raise QueryError("the commitment has no concept rules to build a search from")
    if name is None:
        return max(rules.rules, key=lambda r: r.weight)
    for rule in rules.rules:
        if rule.name == name:
            return rule
    known = ", ".join(repr(r.name) for r in rules.rules)
    raise QueryError(f"no rule {name!r} (the commitment's rules: {known})")


def _variants(concept: Concept, language: str) -> list[str]:
    chosen = concept.ja if language == "ja" else concept.en
    return list(chosen or concept.en or concept.ja)


def _quoted(variant: str) -> str:
    return variant if _BARE.match(variant) else '"' + variant.replace('"', "") + '"'


def _render(groups: list[list[str]], engine: str) -> str:
    parts = []
    for group in groups:
        alternatives = " OR ".join(_quoted(v) for v in group)
        parts.append(f"({alternatives})" if engine == "gdelt" and len(group) > 1 else alternatives)
    return " ".join(parts)


def rule_query(rules: MatchRules, search: Search, language: str) -> str:
    """The query text of ``search`` (without the engine's URL around it)."""
    rule = pick_rule(rules, search.rule)
    wanted: list[list[str]] = [_variants(rules.concepts[c], language) for c in rule.all_of]
    if rule.any_of:
        group: list[str] = []
        for name in rule.any_of:
            group.extend(v for v in _variants(rules.concepts[name], language) if v not in group)
        wanted.append(group)
    suffix = ""
    if search.site:
        suffix += f" site:{search.site}"
    if search.engine == "google-news":
        suffix += f" when:{search.window}"
    budget = MAX_QUERY - len(suffix)
    groups: list[list[str]] = [g[:1] for g in wanted]
    if len(_render(groups, search.engine)) > budget:
        raise QueryError(f"even one variant of each concept makes a query over {MAX_QUERY} chars")
    depth = 1
    while any(depth < len(g) for g in wanted):
        for index, group in enumerate(wanted):
            if depth < len(group):
                groups[index].append(group[depth])
                if len(_render(groups, search.engine)) > budget:
                    groups[index].pop()
        depth += 1
    return _render(groups, search.engine) + suffix


def search_url(rules: MatchRules, search: Search, language: str) -> str:
    """The feed URL of ``search`` for items in ``language`` ("en" or "ja")."""
    if search.engine not in ENGINES:
        raise QueryError(f"engine must be one of {', '.join(ENGINES)}")
    query = quote_plus(rule_query(rules, search, language), safe="")
    if search.engine == "google-news":
        if language not in _GOOGLE:
            raise QueryError("a Google News search needs language = 'en' or 'ja'")
        return f"https://news.google.com/rss/search?q={query}&{_GOOGLE[language]}"
    if language != "en":
        raise QueryError("GDELT searches English text: use language = 'en'")
    return (
        "https://api.gdeltproject.org/api/v2/doc/doc?query="
        f"{query}&mode=ArtList&format=rss&maxrecords=75&sort=DateDesc"
    )
