"""The sources file, OPML in and out, and `sources add`."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor import CatalogueError, CommandRejected, Monitor, MonitorError, load_settings
from monitor.domain.catalogue import parse_catalogue
from monitor.events import Concept, MatchRule, MatchRules
from monitor.sources.config import format_interval, parse_interval, parse_opml, parse_sources
from monitor.sources.queries import MAX_QUERY, Search, rule_query

from .conftest import ROOT


def shipped_rules() -> dict[str, MatchRules]:
    catalogue = parse_catalogue(
        (ROOT / "config" / "commitments.toml").read_text("utf-8"), "commitments.toml"
    )
    return {c.commitment_id: c.match for c in catalogue.commitments}


def test_the_shipped_sources_file_is_valid_and_real() -> None:
    sources = parse_sources(
        (ROOT / "config" / "sources.toml").read_text("utf-8"), "sources.toml", shipped_rules().get
    )
    urls = {s.url for s in sources}
    assert "https://www.state.gov/rss-feed/press-releases/feed/" in urls
    assert "https://www.meti.go.jp/ml_index_release_atom.xml" in urls
    kinds = {s.kind for s in sources}
    assert kinds == {"feed", "news-search"}
    searches = [s.url for s in sources if s.kind == "news-search"]
    assert any("hl=ja&gl=JP&ceid=JP:ja" in u for u in searches)
    assert any("hl=en-US&gl=US&ceid=US:en" in u for u in searches)
    assert any(u.startswith("https://api.gdeltproject.org/") for u in searches)
    gdelt = [s for s in sources if "gdeltproject" in s.url]
    assert all(s.interval_seconds >= 3600 for s in gdelt)  # GDELT rate-limits hard


def test_searches_are_built_from_the_rules() -> None:
    rules = shipped_rules()
    sources = {
        s.name: s
        for s in parse_sources(
            (ROOT / "config" / "sources.toml").read_text("utf-8"), "sources.toml", rules.get
        )
    }
    seafood = sources["gnews-ja-seafood"].url
    assert seafood.startswith("https://news.google.com/rss/search?q=")
    assert seafood.endswith("&hl=ja&gl=JP&ceid=JP:ja")
    assert "%E6%B0%B4%E7%94%A3%E7%89%A9" in seafood  # 水産物, percent-encoded
    gdelt = sources["gdelt-semiconductors"].url
    assert gdelt.startswith("https://api.gdeltproject.org/api/v2/doc/doc?query=%28")
    # without the rules, rule-built searches are checked for form and left out
    bare = parse_sources((ROOT / "config" / "sources.toml").read_text("utf-8"), "sources.toml")
    assert "gnews-ja-seafood" not in {s.name for s in bare}


def test_a_query_is_the_rule_all_groups_present_and_bounded() -> None:
    rules = MatchRules(
        concepts={
            "fish": Concept(en=("seafood", "fishery products"), ja=("水産物",)),
            "ban": Concept(en=("import ban", *(f"ban variant {i}" for i in range(40)))),
            "jp": Concept(en=("Japan",)),
        },
        rules=(MatchRule(name="r", all_of=("fish", "ban"), any_of=("jp",)),),
    )
    query = rule_query(rules, Search("google-news", "C"), "en")
    assert query.startswith('seafood OR "fishery products" "import ban" OR ')
    assert " Japan when:7d" in query
    assert len(query) <= MAX_QUERY
    assert rule_query(rules, Search("google-news", "C"), "ja").startswith("水産物 ")
    gdelt = rule_query(rules, Search("gdelt", "C"), "en")
    assert gdelt.startswith('(seafood OR "fishery products") ("import ban" OR ')
    # a new variant in the rules is a new query
    wider = rules.model_copy(
        update={"concepts": {**rules.concepts, "jp": Concept(en=("Japan", "Tokyo"))}}
    )
    assert "Tokyo" in rule_query(wider, Search("google-news", "C"), "en")


@pytest.mark.parametrize(
    ("search", "problem"),
    [
        ('{ engine = "bing", commitment = "EPCC23-ORD-03" }', "one of google-news, gdelt"),
        ('{ engine = "gdelt", commitment = "NOPE-1" }', "no commitment 'NOPE-1'"),
        ('{ engine = "gdelt", commitment = "EPCC23-ORD-03", rule = "x" }', "no rule 'x'"),
        ('{ engine = "gdelt", commitment = "EPCC23-ORD-03", colour = 1 }', "unknown field"),
        ('{ commitment = "EPCC23-ORD-03" }', "engine and commitment"),
    ],
)
def test_bad_searches_are_named(search: str, problem: str) -> None:
    entry = f'[[source]]\nname = "s"\nsearch = {search}\nlanguage = "en"\n'
    with pytest.raises(CatalogueError) as caught:
        parse_sources(entry, "sources.toml", shipped_rules().get)
    assert any(problem in p and "source #1 (s)" in p for p in caught.value.problems), (
        caught.value.problems
    )


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("2h", 7200), ("1d", 86400), ("300s", 300)]
)
def test_intervals(text: str, seconds: int) -> None:
    assert parse_interval(text) == seconds
    assert parse_interval(format_interval(seconds)) == seconds


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('name = "a"\nurl = "https://x.org/f"\ninterval = "1m"', "outside 5m..7d"),
        ('name = "a"\nurl = "https://x.org/f"\ninterval = "often"', "not an interval"),
        ('name = "A b"\nurl = "https://x.org/f"', "field 'name'"),
        ('name = "a"\nurl = "ftp://x.org/f"', "http(s) URL"),
        ('name = "a"\nurl = "http://[zz]/feed"', "valid host"),
        ('name = "a"\nurl = "https://x.org/f"\nkind = "blog"', "field 'kind'"),
        ('name = "a"\nurl = "https://x.org/f"\ncolour = "red"', "unknown field 'colour'"),
    ],
)
def test_bad_entries_are_named(entry: str, problem: str) -> None:
    with pytest.raises(CatalogueError) as caught:
        parse_sources(f"[[source]]\n{entry}\n", "sources.toml")
    assert any(problem in p and "source #1" in p for p in caught.value.problems)


OPML = b"""<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>
<outline text="Gov"><outline text="State Dept" xmlUrl="https://www.state.gov/rss-feed/press-releases/feed/"/>
<outline title="State Dept" xmlUrl="https://example.org/other.xml"/></outline>
<outline text="no feed here" htmlUrl="https://example.org/"/>
<outline text="News" xmlUrl="https://news.google.com/rss/search?q=EPCC"/>
<outline text="Local file" xmlUrl="file:///etc/passwd"/>
</body></opml>"""


def test_opml_import_and_export(monitor: Monitor, tmp_path: Path) -> None:
    specs = parse_opml(OPML)
    assert [(s.name, s.kind) for s in specs] == [
        ("state-dept", "feed"),
        ("state-dept-2", "feed"),
        ("news", "news-search"),
    ]
    path = tmp_path / "feeds.opml"
    path.write_bytes(OPML)
    first = monitor.sources.import_opml(path)
    assert first.added == ["state-dept", "state-dept-2", "news"]
    assert first.refused == ["Local file: not an http(s) URL with a valid host"]
    again = monitor.sources.import_opml(path)  # nothing twice
    assert (again.added, again.known) == ([], ["state-dept", "state-dept-2", "news"])
    exported = monitor.sources.export_opml()
    assert parse_opml(exported)[0].url.startswith("https://")
    assert {s.url for s in parse_opml(exported)} == {s.url for s in specs}
    with pytest.raises(MonitorError, match="not a usable OPML"):
        parse_opml(b"<!DOCTYPE x [<!ENTITY a 'b'>]><opml>&a;</opml>")


def test_add_source_by_hand_and_sync_leaves_it_alone(monitor: Monitor) -> None:
    added = monitor.sources.add("https://example.org/feed.xml", "mine", interval="2h")
    assert (added.origin, added.interval_seconds) == ("cli", 7200)
    with pytest.raises(CommandRejected, match="exists already"):
        monitor.sources.add("https://example.org/other.xml", "mine")
    with pytest.raises(CommandRejected, match="interval"):
        monitor.sources.add("https://example.org/x.xml", "x", interval="1m")
    with pytest.raises(CommandRejected, match="http"):
        monitor.sources.add("file:///etc/passwd", "y")
    monitor.sources.sync()
    assert "mine" in {s.name for s in monitor.sources.all()}


def test_sync_revises_and_removes_config_sources(monitor: Monitor) -> None:
    path = monitor.settings.sources
    path.write_text(
        '[[source]]\nname = "a"\nurl = "https://x.org/a"\n\n'
        '[[source]]\nname = "b"\nurl = "https://x.org/b"\n',
        encoding="utf-8",
    )
    assert monitor.sources.sync() == {"SourceRegistered": ["a", "b"]}
    assert monitor.sources.sync() == {}
    path.write_text('[[source]]\nname = "a"\nurl = "https://x.org/a2"\ninterval = "2h"\n')
    assert monitor.sources.sync() == {"SourceRevised": ["a"], "SourceRemoved": ["b"]}
    [a] = monitor.sources.all()
    assert (a.url, a.interval_seconds) == ("https://x.org/a2", 7200)


def test_a_rule_change_revises_the_search_built_from_it(project: Path, clock) -> None:  # type: ignore[no-untyped-def]
    (project / "config" / "sources.toml").write_text(
        '[[source]]\nname = "ipef-search"\nlanguage = "en"\ninterval = "3h"\n'
        'search = { engine = "google-news", commitment = "EPCC23-ORD-03", rule = "IPEF" }\n',
        encoding="utf-8",
    )
    settings = load_settings(project / "config" / "monitor.toml", env={})
    with Monitor.open(settings, clock) as monitor:
        monitor.init()
        before = monitor.sources.get("ipef-search").url
        assert "IPEF" in before
        catalogue = project / "config" / "commitments.toml"
        text = catalogue.read_text(encoding="utf-8")
        marker = 'ipef = { en = ["IPEF", "Indo-Pacific Economic Framework"]'
        assert marker in text
        catalogue.write_text(
            text.replace(
                marker, 'ipef = { en = ["IPEF", "Indo-Pacific Economic Framework", "IPEF talks"]'
            ),
            encoding="utf-8",
        )
        monitor.sync()
        assert monitor.sources.sync() == {"SourceRevised": ["ipef-search"]}
        after = monitor.sources.get("ipef-search").url
        assert after != before
        assert "IPEF+talks" in after
