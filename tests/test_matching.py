"""The matcher: a pure function of (item, catalogue rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.catalogue import parse_catalogue
from monitor.matching import MatchableItem, Matcher, normalise

from .conftest import CATALOGUE

AFTER = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    catalogue = parse_catalogue(CATALOGUE.read_text(encoding="utf-8"), "commitments.toml")
    return Matcher(catalogue.commitments)


def ids(matcher: Matcher, title: str, text: str = "", on: datetime | None = AFTER) -> list[str]:
    return [m.commitment_id for m in matcher.match(MatchableItem(title, text, on))]


def test_normalisation_folds_width_case_and_quotes() -> None:
    assert normalise("ＥＰＣＣ  Ｅｃｏｎｏｍｉｃ\t2＋2") == "epcc economic 2+2"
    assert normalise("Economic “2+2”") == normalise("Economic 2+2")
    assert normalise("経済版「2+2」") == normalise("経済版2+2")


def test_nstc_counts_only_with_semiconductor_context(matcher: Matcher) -> None:
    assert "EPCC23-SEMI-03" in ids(matcher, "NSTC and Natcast publish a roadmap")
    assert ids(matcher, "White House NSTC releases a report on STEM education") == []


def test_ipa_needs_nist_or_its_full_name(matcher: Matcher) -> None:
    assert "EPCC23-AI-02" in ids(matcher, "IPA and NIST publish an AI crosswalk")
    assert "EPCC23-AI-02" in ids(matcher, "情報処理推進機構（IPA）が発表")
    assert ids(matcher, "New IPA brewery opens in Tokyo") == []


def test_japanese_terms_match_without_word_boundaries(matcher: Matcher) -> None:
    found = ids(matcher, "日米、レガシー半導体の供給網で協力")
    assert "EPCC23-SEMI-01" in found


def test_latin_terms_need_word_boundaries(matcher: Matcher) -> None:
    assert ids(matcher, "Rapidusly growing", "") == []
    assert "EPCC23-SEMI-03" in ids(matcher, "Rapidus starts 2nm pilot line")


def test_the_security_two_plus_two_does_not_count_as_the_statement(matcher: Matcher) -> None:
    body = "At the Economic 2+2, legacy chips were discussed."
    assert "EPCC23-SEMI-01" in ids(matcher, "Ministers meet", body)
    # The security 2+2 is another committee: its mention takes the statement's name away.
    assert "EPCC23-SEMI-01" not in ids(matcher, "Security Consultative Committee (2+2) meets", body)


def test_items_before_the_statement_are_context_not_evidence(matcher: Matcher) -> None:
    title = "Legacy chips: the Economic 2+2 agrees on mature-node semiconductors"
    assert ids(matcher, title, on=datetime(2022, 7, 29, tzinfo=UTC)) == []
    assert ids(matcher, title, on=datetime(2023, 11, 13, 9, 59, tzinfo=UTC)) == []
    # 14 November had begun somewhere (UTC+14) from 2023-11-13 10:00 UTC on: the same rule
    # as for assessments, whoever looks; a Tokyo midnight date is not lost.
    tokyo_midnight = datetime(2023, 11, 14, tzinfo=timezone(timedelta(hours=9)))
    assert "EPCC23-SEMI-01" in ids(matcher, title, on=tokyo_midnight)
    assert "EPCC23-SEMI-01" in ids(matcher, title, on=datetime(2023, 11, 14, tzinfo=UTC))
    assert "EPCC23-SEMI-01" in ids(matcher, title, on=None)  # undated: treated as new


def test_score_and_explanation(matcher: Matcher) -> None:
    strong = matcher.match(
        MatchableItem("Legacy chips and mature-node semiconductors", "Economic 2+2", AFTER)
    )
    title_only = matcher.match(MatchableItem("Legacy chips", "an agency update", AFTER))
    best = {m.commitment_id: m for m in strong}["EPCC23-SEMI-01"]
    meek = {m.commitment_id: m for m in title_only}["EPCC23-SEMI-01"]
    assert 0 < meek.score < best.score <= 1
    assert {"legacy chips", "mature-node", "Economic 2+2"} <= set(best.terms)


def test_one_generic_term_in_the_body_is_not_a_proposal(matcher: Matcher) -> None:
    # NIST's own feed names NIST in every item; trade news names IPEF all the time.
    assert ids(matcher, "NIST announces new fellows", "NIST said on Monday...") == []
    assert ids(matcher, "Trade ministers meet", "The IPEF talks continued.") == []
    assert "EPCC23-ORD-03" in ids(matcher, "IPEF ministers meet", "")


def test_the_version_changes_with_the_rules(matcher: Matcher) -> None:
    catalogue = parse_catalogue(CATALOGUE.read_text(encoding="utf-8"), "commitments.toml")
    same = Matcher(catalogue.commitments)
    assert same.version == matcher.version
    fewer = Matcher(catalogue.commitments[:-1])
    assert fewer.version != matcher.version
