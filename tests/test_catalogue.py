"""The catalogue file and `sync`: registered, revised, retired, reinstated; idempotent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor import CatalogueError, Monitor
from monitor.domain.catalogue import parse_catalogue

from .conftest import CATALOGUE

REFERENCE_IDS = [
    "EPCC23-INST-01",
    "EPCC23-ORD-01",
    "EPCC23-ORD-02",
    "EPCC23-ORD-03",
    "EPCC23-COER-01",
    "EPCC23-COER-02",
    "EPCC23-COER-03",
    "EPCC23-CRM-01",
    "EPCC23-SC-01",
    "EPCC23-SC-02",
    "EPCC23-SC-03",
    "EPCC23-SEMI-01",
    "EPCC23-SEMI-02",
    "EPCC23-SEMI-03",
    "EPCC23-TECH-01",
    "EPCC23-AI-01",
    "EPCC23-AI-02",
    "EPCC23-DATA-01",
    "EPCC23-JUCIP-01",
]


def test_the_shipped_catalogue_carries_every_reference_item() -> None:
    catalogue = parse_catalogue(CATALOGUE.read_text(encoding="utf-8"), "commitments.toml")
    assert [c.commitment_id for c in catalogue.commitments] == REFERENCE_IDS
    for c in catalogue.commitments:
        assert str(c.made_on) == "2023-11-14"
        assert c.match.rules, c.commitment_id
        assert not c.match.terms_en, c.commitment_id  # the concept form only
        variants = [v for concept in c.match.concepts.values() for v in (*concept.en, *concept.ja)]
        assert any(v.isascii() for v in variants), c.commitment_id
        assert any(not v.isascii() for v in variants), c.commitment_id
        # the statement-wide veto reaches every rule
        assert all("security_2plus2" in r.none_of for r in c.match.rules), c.commitment_id
    by_id = {c.commitment_id: c for c in catalogue.commitments}
    assert str(by_id["EPCC23-COER-03"].deadline) == "2023-11-14"
    # ambiguous acronyms count only with their context
    nstc = {r.name: r for r in by_id["EPCC23-SEMI-03"].match.rules}
    [rule] = [r for r in nstc.values() if "nstc_acronym" in r.all_of]
    assert "semiconductor" in rule.all_of
    assert "science_council" in rule.none_of
    ipa = [r for r in by_id["EPCC23-AI-02"].match.rules if "ipa" in r.all_of]
    assert ipa
    assert all("nist" in r.all_of for r in ipa)


def test_init_registers_and_a_second_sync_writes_nothing(monitor: Monitor) -> None:
    assert [v.commitment_id for v in monitor.list_commitments()] == sorted(REFERENCE_IDS)
    before = monitor.last_position()
    assert before == 19
    report = monitor.sync()
    assert not report.changed
    assert monitor.last_position() == before


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_changed_entry_is_revised_with_what_changed(monitor: Monitor) -> None:
    path = monitor.settings.catalogue
    _edit(
        path,
        'title = "Personal data protection and privacy"',
        'title = "Personal data protection, privacy and the Global CBPR Forum"',
    )
    report = monitor.sync(reason="official text loaded")
    assert report.revised == {"EPCC23-DATA-01": ["title"]}
    [event] = monitor.store.read_stream("commitment-EPCC23-DATA-01")[1:]
    assert event.event_type == "CommitmentRevised"
    assert event.data["changes"]["title"] == {
        "old": "Personal data protection and privacy",
        "new": "Personal data protection, privacy and the Global CBPR Forum",
    }
    assert event.data["reason"] == "official text loaded"
    assert monitor.list_commitments()[6].title.endswith("Global CBPR Forum")
    assert not monitor.sync().changed


def _without_entry(text: str, cid: str) -> str:
    blocks = re.split(r"(?m)^(?=\[\[commitment\]\])", text)
    return "".join(b for b in blocks if f'id = "{cid}"' not in b)


def test_removed_entries_are_retired_and_returning_ones_reinstated(monitor: Monitor) -> None:
    path = monitor.settings.catalogue
    original = path.read_text(encoding="utf-8")
    path.write_text(_without_entry(original, "EPCC23-SC-03"), encoding="utf-8")
    assert monitor.sync().retired == ["EPCC23-SC-03"]
    assert "EPCC23-SC-03" not in [v.commitment_id for v in monitor.list_commitments()]
    assert "EPCC23-SC-03" in [
        v.commitment_id for v in monitor.list_commitments(include_retired=True)
    ]
    path.write_text(original, encoding="utf-8")
    assert monitor.sync().reinstated == ["EPCC23-SC-03"]
    assert not monitor.sync().changed


def test_a_malformed_file_is_reported_by_entry_and_field_and_nothing_is_written(
    monitor: Monitor,
) -> None:
    path = monitor.settings.catalogue
    _edit(path, 'provenance = "analysis"', 'provenance = "rumour"')
    _edit(path, 'title = "Personal data protection and privacy"', 'title = ""')
    text = path.read_text(encoding="utf-8")
    # and one brand-new valid commitment that must not be registered either
    new = _extract(text, "EPCC23-JUCIP-01").replace("EPCC23-JUCIP-01", "EPCC23-NEW-01")
    path.write_text(text + "\n" + new, encoding="utf-8")
    before = monitor.last_position()
    with pytest.raises(CatalogueError) as caught:
        monitor.sync()
    problems = caught.value.problems
    assert any(
        re.search(
            r"commitments\.toml: commitment #\d+ \(EPCC23-[A-Z0-9-]+\): field 'provenance'", p
        )
        for p in problems
    ), problems
    assert any("(EPCC23-DATA-01): field 'title'" in p for p in problems), problems
    assert monitor.last_position() == before


def _extract(text: str, cid: str) -> str:
    blocks = re.split(r"(?m)^(?=\[\[commitment\]\])", text)
    [block] = [b for b in blocks if f'id = "{cid}"' in b]
    return block


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (lambda t: t.replace('id = "EPCC23-ORD-02"', 'id = "EPCC23-ORD-01"'), "duplicate"),
        (lambda t: t.replace('id = "EPCC23-ORD-02"', 'id = "ord 2"'), "field 'id'"),
        (
            lambda t: t.replace("\n[statement]\n", "\n[statement]\nbogus = 1\n", 1),
            "unknown field 'bogus'",
        ),
        (lambda t: t + "\n[[commitment]]\nid = 'EPCC23-X-01'\ncolour = 'red'\n", "unknown field"),
        (lambda t: t.replace("schema = 1", "schema = "), "not valid TOML"),
    ],
)
def test_catalogue_problems(mutation: object, message: str) -> None:
    text = mutation(CATALOGUE.read_text(encoding="utf-8"))  # type: ignore[operator]
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(text, "config/commitments.toml")
    assert any(message in p for p in caught.value.problems), caught.value.problems


RULE_OF_JUCIP = """[[commitment.match.rules]]
name = "JUCIP"
any_of = ["jucip"]
weight = 0.8"""


@pytest.mark.parametrize(
    ("replacement", "field", "message"),
    [
        (
            'any_of = ["jucipp"]',
            "match.rules[0]' (JUCIP): field 'any_of'",
            "unknown concept 'jucipp'",
        ),
        ("weight = 1.8", "match.rules.0.weight", "less than or equal to 1"),
        ('within = 900\nnear = ["jucip", "jucip"]', "match.rules[0]' (JUCIP)", "'within'"),
        ('near = ["jucip"]', "match.rules[0]' (JUCIP)", "at least two concepts"),
        ("colour = 1", "match.rules.0.colour", "Extra inputs"),
        ("any_of = []", "match.rules[0]' (JUCIP)", "give 'all_of' or 'any_of'"),
    ],
)
def test_each_mistake_in_a_rule_is_named_by_commitment_and_field(
    replacement: str, field: str, message: str
) -> None:
    text = CATALOGUE.read_text(encoding="utf-8")
    assert RULE_OF_JUCIP in text
    rule = RULE_OF_JUCIP.replace('any_of = ["jucip"]', replacement)
    if replacement.startswith(("weight", "within", "near", "colour")):
        rule = RULE_OF_JUCIP.replace("weight = 0.8", replacement)
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(text.replace(RULE_OF_JUCIP, rule), "config/commitments.toml")
    assert any(
        p.startswith("config/commitments.toml: commitment #19 (EPCC23-JUCIP-01): field")
        and field in p
        and message in p
        for p in caught.value.problems
    ), caught.value.problems


def test_mistakes_in_the_shared_vocabulary_and_the_statement_veto_are_named() -> None:
    text = CATALOGUE.read_text(encoding="utf-8")
    broken = text.replace(
        'none_of = ["security_2plus2"]', 'none_of = ["security_2plus3"]', 1
    ).replace("[concepts]\n", '[concepts]\n"Bad Name" = { en = ["x"] }\nempty = { en = [] }\n', 1)
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(broken, "config/commitments.toml")
    problems = caught.value.problems
    assert any(
        "[statement.match]: 'none_of': unknown concept 'security_2plus3'" in p for p in problems
    )
    assert any("[concepts] 'Bad Name': use lower-case letters" in p for p in problems)
    assert any("[concepts] 'empty': give at least one variant" in p for p in problems)
