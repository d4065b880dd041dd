"""The matcher: a pure function of (item, catalogue rules, learned weights).

The shipped catalogue is matched against the kinds of text evidence comes in: outcomes told
in their own words, Japanese inflections and compounds, look-alikes that share a name.
The rule semantics (all-of, any-of, none-of, proximity) are checked on a small catalogue.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from monitor.domain.catalogue import parse_catalogue
from monitor.events import CommitmentRegistered, Concept, MatchRule, MatchRules
from monitor.matching import MatchableItem, Matcher, normalise
from monitor.matching.text import english_keys, tokenize, word_forms

from .conftest import CATALOGUE

AFTER = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    catalogue = parse_catalogue(CATALOGUE.read_text(encoding="utf-8"), "commitments.toml")
    return Matcher(catalogue.commitments)


def ids(matcher: Matcher, title: str, text: str = "", on: datetime | None = AFTER) -> list[str]:
    return [m.commitment_id for m in matcher.match(MatchableItem(title, text, on))]


def test_normalisation_folds_width_case_quotes_and_dashes() -> None:
    assert normalise("ＥＰＣＣ  Ｅｃｏｎｏｍｉｃ\t2＋2") == "epcc economic 2+2"
    assert normalise("Economic “2+2”") == normalise("Economic 2+2")
    assert normalise("経済版「2+2」") == normalise("経済版2+2")
    assert normalise("U.S. – Japan Technology Deal") == "u.s.-japan technology deal"
    assert normalise("a - b") == "a-b"
    # whitespace of every kind is one space; spaced dashes join only words
    assert normalise(" a\nb\u2028c\u00a0 d ") == "a b c d"
    assert normalise("x - - y") == "x - - y"
    assert normalise("costs - (10%)") == "costs - (10%)"
    assert normalise("U.S. - Japan - EU") == "u.s.-japan-eu"
    assert normalise("") == ""


def test_lower_case_variants_match_their_inflections() -> None:
    assert {"resume", "resumes", "resumed", "resuming"} <= set(word_forms("resume"))
    assert {"ban", "bans", "banned", "banning"} <= set(word_forms("ban"))
    assert "restrictions" in word_forms("restriction")
    # names and acronyms stay as written; an acronym's plural counts
    assert english_keys("Rapidus") == ("rapidus",)
    assert english_keys("CBPR") == ("cbpr", "cbprs")


def test_an_outcome_told_in_its_own_words_is_found(matcher: Matcher) -> None:
    title = "China resumed imports of Japanese seafood"
    assert "EPCC23-COER-03" in ids(matcher, title)
    assert "EPCC23-COER-03" in ids(matcher, "中国、日本産水産物の輸入を一部再開へ")


def test_japanese_is_matched_on_normalised_words() -> None:
    # okurigana and variant kanji compare alike; words, not characters, are compared
    assert tokenize("取組").joined == tokenize("取り組み").joined
    assert tokenize("強靱化").joined == tokenize("強靭化").joined
    assert "\x1f米\x1f" not in tokenize("新米の価格").joined


def test_japanese_compounds_and_variant_spellings_match(matcher: Matcher) -> None:
    found = ids(matcher, "日米、重要鉱物の供給網強靭化へ協力文書に署名")
    assert "EPCC23-SC-02" in found
    assert "EPCC23-SEMI-01" in ids(matcher, "日米、レガシー半導体の供給網で協力")


def test_nstc_counts_only_with_semiconductor_context_and_japan(matcher: Matcher) -> None:
    body = "The U.S. NSTC and Japan's LSTC published a joint semiconductor R&D roadmap."
    assert "EPCC23-SEMI-03" in ids(matcher, "Chip research centres agree a roadmap", body)
    assert ids(matcher, "White House NSTC releases a report on STEM education") == []
    # Taiwan's National Science and Technology Council is another NSTC
    taiwan = "Taiwan's National Science and Technology Council (NSTC) and Japan discuss chips"
    assert "EPCC23-SEMI-03" not in ids(matcher, taiwan, "semiconductor talent in Japan")


def test_ipa_needs_nist(matcher: Matcher) -> None:
    assert "EPCC23-AI-02" in ids(matcher, "IPA and NIST publish an AI crosswalk")
    assert "EPCC23-AI-02" in ids(matcher, "情報処理推進機構とNIST、AIのクロスウォークを公表")
    assert ids(matcher, "New IPA brewery opens in Tokyo") == []


def test_latin_terms_need_word_boundaries(matcher: Matcher) -> None:
    assert ids(matcher, "Rapidusly growing in Japan and the U.S.", "") == []
    assert "EPCC23-SEMI-03" in ids(matcher, "Rapidus and IBM: Japan-U.S. 2nm chip pilot line")


def test_the_security_two_plus_two_is_another_committee(matcher: Matcher) -> None:
    body = "The Japan-U.S. Economic 2+2 discussed economic security."
    assert "EPCC23-INST-01" in ids(matcher, "Ministers meet", body)
    assert ids(matcher, "Japan-U.S. Security Consultative Committee (2+2) meets", body) == []
    # other countries' economic 2+2 are not this committee
    assert ids(matcher, "Japan-UK Economic 2+2 holds first meeting") == []


def test_items_before_the_statement_are_context_not_evidence(matcher: Matcher) -> None:
    title = "Japan and the U.S. agree on legacy chips"
    assert ids(matcher, title, on=datetime(2022, 7, 29, tzinfo=UTC)) == []
    assert ids(matcher, title, on=datetime(2023, 11, 13, 9, 59, tzinfo=UTC)) == []
    # 14 November had begun somewhere (UTC+14) from 2023-11-13 10:00 UTC on: the same rule
    # as for assessments, whoever looks; a Tokyo midnight date is not lost.
    tokyo_midnight = datetime(2023, 11, 14, tzinfo=timezone(timedelta(hours=9)))
    assert "EPCC23-SEMI-01" in ids(matcher, title, on=tokyo_midnight)
    assert "EPCC23-SEMI-01" in ids(matcher, title, on=datetime(2023, 11, 14, tzinfo=UTC))
    assert "EPCC23-SEMI-01" in ids(matcher, title, on=None)  # undated: treated as new


def test_the_explanation_names_rules_and_words(matcher: Matcher) -> None:
    [match] = [
        m
        for m in matcher.match(
            MatchableItem("Japan and the U.S. on legacy chips", "More on mature-node chips.", AFTER)
        )
        if m.commitment_id == "EPCC23-SEMI-01"
    ]
    rules = {r.name: r for r in match.explanation if r.kind == "rule"}
    assert "legacy chips with Japan" in rules
    assert {"legacy chips", "mature-node", "japan"} <= set(rules["legacy chips with Japan"].words)
    title = [r for r in match.explanation if r.kind == "title"]
    assert title
    assert "legacy chips" in title[0].words
    assert 0.5 <= match.score <= 1
    assert set(match.terms) >= {"legacy chips", "mature-node"}


def test_one_generic_term_in_the_body_is_not_a_proposal(matcher: Matcher) -> None:
    # NIST's own feed names NIST in every item; trade news names Japan and chips all the time.
    assert ids(matcher, "NIST announces new fellows", "NIST said on Monday...") == []
    assert ids(matcher, "Chip stocks fall", "Japan's exporters and U.S. chipmakers fell.") == []
    assert "EPCC23-ORD-03" in ids(matcher, "IPEF ministers meet", "")


def test_the_version_changes_with_the_rules(matcher: Matcher) -> None:
    catalogue = parse_catalogue(CATALOGUE.read_text(encoding="utf-8"), "commitments.toml")
    same = Matcher(catalogue.commitments)
    assert same.version == matcher.version
    fewer = Matcher(catalogue.commitments[:-1])
    assert fewer.version != matcher.version


# -- rule semantics, on a catalogue of one --------------------------------------------------


def registered(commitment_id: str, match: MatchRules) -> CommitmentRegistered:
    return CommitmentRegistered(
        commitment_id=commitment_id,
        statement_id="S",
        title="t",
        source_words="w",
        provenance="readout",
        source_document="d",
        locator="l",
        source_urls=("https://example.org/",),
        parties=("A",),
        topics=("x",),
        made_on=date(2023, 11, 14),
        match=match,
    )


def one(*rules: MatchRule, **concepts: Concept) -> Matcher:
    return Matcher([registered("T-1", MatchRules(concepts=concepts, rules=rules))])


A = Concept(en=("alpha",), ja=("甲",))
B = Concept(en=("beta",))
C = Concept(en=("gamma",))


def scores(m: Matcher, title: str, text: str = "") -> float:
    found = m.match(MatchableItem(title, text, AFTER))
    return found[0].score if found else 0.0


def test_all_any_and_none_of() -> None:
    m = one(MatchRule(name="r", all_of=("a",), any_of=("b", "c"), none_of=("n",)), a=A, b=B, c=C,
            n=Concept(en=("nope",)))  # fmt: skip
    assert scores(m, "x", "alpha and beta") == pytest.approx(1.0)
    assert scores(m, "x", "alpha and gamma") == pytest.approx(1.0)
    assert scores(m, "x", "alpha alone") == 0
    assert scores(m, "x", "beta and gamma") == 0
    assert scores(m, "x", "alpha, beta and nope") == 0


def test_proximity_in_words_and_in_sentences() -> None:
    near = one(MatchRule(name="r", all_of=("a", "b"), near=("a", "b"), within=3), a=A, b=B)
    assert scores(near, "x", "alpha one two beta") > 0
    assert scores(near, "x", "alpha one two three four beta") == 0
    # the words must stand in one field: a title word is not near a body word
    assert scores(near, "alpha", "beta") == 0
    same = one(MatchRule(name="r", all_of=("a", "b"), near=("a", "b")), a=A, b=B)
    assert scores(same, "x", "The U.S. alpha met the beta team.") > 0  # "U.S." ends no sentence
    assert scores(same, "x", "Alpha spoke. Then beta answered.") == 0
    assert scores(same, "x", "甲が来た。beta") == 0  # Japanese and Latin runs are apart


def test_a_word_is_found_whole_wherever_it_stands() -> None:
    """A one-word variant is found at the text's ends, beside punctuation or another hit,
    and never inside a longer word (the search with the word's boundaries)."""
    un = Concept(en=("UN",))
    m = one(MatchRule(name="r", any_of=("un",)), un=un)
    for text in ("UN", "UN agencies", "the UN", "(UN)", "UN-led", "UN/OECD", "UN, EU", "UN UN"):
        assert scores(m, "x", text) > 0, text
    for text in ("under", "united", "fun", "Unless", "un1", "2un"):
        assert scores(m, "x", text) == 0, text
    # the words of the explanation are the item's, at the place found
    [match] = m.match(MatchableItem("x", "Talks at the (UN) today", AFTER))
    assert match.terms == ("un",)
    both = one(MatchRule(name="r", all_of=("a", "b"), near=("a", "b"), within=1), a=A, b=B)
    assert scores(both, "x", "alpha, beta") > 0
    assert scores(both, "x", "alphabet beta") == 0


def test_weights_title_and_company() -> None:
    m = one(
        MatchRule(name="weak", any_of=("a",), weight=0.35),
        MatchRule(name="other", any_of=("b",), weight=0.35),
        MatchRule(name="titled", any_of=("c",), weight=0.4),
        a=A,
        b=B,
        c=C,
    )
    assert scores(m, "x", "alpha") == 0  # a weak rule alone is not enough
    assert scores(m, "x", "alpha beta") == pytest.approx(0.5)  # with company it is
    assert scores(m, "x", "gamma") == 0
    assert scores(m, "gamma", "") == pytest.approx(0.5)  # 0.4 proposes from the title


def test_learned_factors_move_a_rule_and_say_so() -> None:
    m = one(MatchRule(name="r", any_of=("a",), weight=0.45), a=A)
    assert scores(m, "x", "alpha") == 0
    taught = m.with_learned({("T-1", "r"): 1.2})
    [match] = taught.match(MatchableItem("x", "alpha", AFTER))
    assert match.score == pytest.approx(0.54)
    learned = [r for r in match.explanation if r.kind == "learned"]
    assert learned
    assert learned[0].weight == pytest.approx(1.2)
    # bounded: review can halve or raise by half, never more
    assert m.with_learned({("T-1", "r"): 9.0}).match(MatchableItem("x", "alpha", AFTER))[
        0
    ].score == pytest.approx(0.675)


def test_the_first_form_of_the_rules_still_matches() -> None:
    first_form = MatchRules(terms_en=("legacy chips", "mature-node"), terms_ja=("汎用半導体",))
    m = Matcher([registered("OLD-1", first_form)])
    assert scores(m, "x", "legacy chips and mature-node parts") == pytest.approx(0.5)
    assert scores(m, "legacy chips", "") == 0  # one term, even in the title: 0.45
    assert scores(m, "x", "legacy chips") == 0


def test_japanese_title_and_body_words_are_not_near() -> None:
    a = Concept(ja=("重要鉱物",))
    b = Concept(ja=("協力",))
    near = one(MatchRule(name="r", all_of=("a", "b"), near=("a", "b"), within=5), a=a, b=b)
    assert scores(near, "日米が重要鉱物で協力", "") > 0
    assert scores(near, "日米が重要鉱物で", "両国は協力する") == 0
    assert scores(near, "日米", "重要鉱物で協力") > 0


def test_matching_from_several_threads_at_once(matcher: Matcher) -> None:
    # SudachiPy refuses one tokenizer used by two threads at once: each thread has its own
    import threading

    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        barrier.wait()
        try:
            for _ in range(100):
                matcher.match(
                    MatchableItem(
                        "中国、日本産水産物の輸入を再開", "輸入停止を解除した。" * 40, AFTER
                    )
                )
        except BaseException as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
