"""The sources file, OPML in and out, and `sources add`."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor import CatalogueError, CommandRejected, Monitor, MonitorError
from monitor.sources.config import format_interval, parse_interval, parse_opml, parse_sources

from .conftest import ROOT


def test_the_shipped_sources_file_is_valid_and_real() -> None:
    sources = parse_sources((ROOT / "config" / "sources.toml").read_text("utf-8"), "sources.toml")
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
    assert monitor.intake.import_opml(path) == ["state-dept", "state-dept-2", "news"]
    assert monitor.intake.import_opml(path) == []  # nothing twice
    exported = monitor.intake.export_opml()
    assert parse_opml(exported)[0].url.startswith("https://")
    assert {s.url for s in parse_opml(exported)} == {s.url for s in specs}
    with pytest.raises(MonitorError, match="not a usable OPML"):
        parse_opml(b"<!DOCTYPE x [<!ENTITY a 'b'>]><opml>&a;</opml>")


def test_add_source_by_hand_and_sync_leaves_it_alone(monitor: Monitor) -> None:
    added = monitor.intake.add_source("https://example.org/feed.xml", "mine", interval="2h")
    assert (added.origin, added.interval_seconds) == ("cli", 7200)
    with pytest.raises(CommandRejected, match="exists already"):
        monitor.intake.add_source("https://example.org/other.xml", "mine")
    with pytest.raises(CommandRejected, match="interval"):
        monitor.intake.add_source("https://example.org/x.xml", "x", interval="1m")
    with pytest.raises(CommandRejected, match="http"):
        monitor.intake.add_source("file:///etc/passwd", "y")
    monitor.intake.sync_sources()
    assert "mine" in {s.name for s in monitor.intake.sources()}


def test_sync_revises_and_removes_config_sources(monitor: Monitor) -> None:
    path = monitor.settings.sources
    path.write_text(
        '[[source]]\nname = "a"\nurl = "https://x.org/a"\n\n'
        '[[source]]\nname = "b"\nurl = "https://x.org/b"\n',
        encoding="utf-8",
    )
    assert monitor.intake.sync_sources() == {"SourceRegistered": ["a", "b"]}
    assert monitor.intake.sync_sources() == {}
    path.write_text('[[source]]\nname = "a"\nurl = "https://x.org/a2"\ninterval = "2h"\n')
    assert monitor.intake.sync_sources() == {"SourceRevised": ["a"], "SourceRemoved": ["b"]}
    [a] = monitor.intake.sources()
    assert (a.url, a.interval_seconds) == ("https://x.org/a2", 7200)
